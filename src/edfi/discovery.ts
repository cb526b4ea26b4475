import type Router from '@koa/router';

import type { Services } from '../http/services.js';
import { openApiDocument } from './openapi.js';
import type { ProfileMediaTypes } from './openapi.js';
import type { ResourceDeclaration } from './resource.js';

/**
 * The Ed-Fi Data Standard the resource declarations follow. Clients read it from the version document: the ODS/API's
 * Postman suites, for one, choose Contact (5.x) over Parent (4.x) by its major version.
 */
export const dataStandardVersion = '5.0.0';

/** The ODS/API release whose behaviour edgate follows. */
export const odsApiVersion = '7.3';

/** ODS/API operation names, in the dependency document's spelling. */
const operations = ['Create', 'Update'];

/**
 * Resources in the order they can be loaded: each after every resource its references point at (ed-org references
 * count as pointing at the resources that mirror those ed-org types). Order 1 needs nothing. This is the document
 * API Publisher and bulk loaders read to sequence their writes.
 */
export function dependencyOrder(resources: ResourceDeclaration[]): Array<{ resource: string; order: number; operations: string[] }> {
  const byName = new Map(resources.map((r) => [r.name, r]));
  const targetsOf = (resource: ResourceDeclaration) =>
    resource.references.flatMap((ref) =>
      'resource' in ref.target ? [ref.target.resource] : resources.filter((r) => r.edorg && (ref.target as { edorgTypes: string[] }).edorgTypes.includes(r.edorg.type)).map((r) => r.name),
    );
  const order = new Map<string, number>();
  const visit = (resource: ResourceDeclaration, path: Set<string>): number => {
    const known = order.get(resource.name);
    if (known) return known;
    // A cycle (none today) is broken where it is met rather than looping.
    const deps = targetsOf(resource).filter((name) => name !== resource.name && !path.has(name) && byName.has(name));
    const level = 1 + Math.max(0, ...deps.map((name) => visit(byName.get(name)!, new Set([...path, resource.name]))));
    order.set(resource.name, level);
    return level;
  };
  resources.forEach((r) => visit(r, new Set()));
  return resources
    .map((r) => ({ resource: `/ed-fi/${r.name}`, order: order.get(r.name)!, operations }))
    .sort((a, b) => a.order - b.order || a.resource.localeCompare(b.resource));
}

/**
 * The ODS/API's discovery documents, public as there: the version document at `/`, the OpenAPI sections under
 * `/metadata`, and the dependency order.
 */
export function discoveryRoutes(resources: ResourceDeclaration[], profiles: ProfileMediaTypes) {
  return (router: Router, { config }: Services): void => {
    const base = config.publicUrl.replace(/\/$/, '');
    const dependencies = dependencyOrder(resources);
    const resourcesSection = openApiDocument(config.publicUrl, resources, profiles);
    // edgate serves descriptors as URI strings, not as resources: the section exists, with no paths.
    const descriptorsSection = { ...resourcesSection, paths: {} };

    router.get('/', (ctx) => {
      ctx.body = {
        version: odsApiVersion,
        informationalVersion: odsApiVersion,
        suite: '3',
        apiMode: 'Sandbox',
        dataModels: [{ name: 'Ed-Fi', version: dataStandardVersion, informationalVersion: dataStandardVersion }],
        urls: {
          dependencies: `${base}/metadata/data/v3/dependencies`,
          openApiMetadata: `${base}/metadata/`,
          oauth: `${base}/oauth/token`,
          dataManagementApi: `${base}/data/v3/`,
        },
      };
    });
    router.get(['/metadata', '/metadata/'], (ctx) => {
      ctx.body = [
        { name: 'Resources', endpointUri: `${base}/metadata/data/v3/resources/swagger.json`, prefix: '' },
        { name: 'Descriptors', endpointUri: `${base}/metadata/data/v3/descriptors/swagger.json`, prefix: '' },
      ];
    });
    router.get(['/metadata/dependencies', '/metadata/data/v3/dependencies'], (ctx) => {
      ctx.body = dependencies;
    });
    router.get('/metadata/data/v3/resources/swagger.json', (ctx) => {
      ctx.body = resourcesSection;
    });
    router.get('/metadata/data/v3/descriptors/swagger.json', (ctx) => {
      ctx.body = descriptorsSection;
    });
  };
}
