import type Router from '@koa/router';

import type { Config } from '../config/index.js';
import { loadOrder } from './dependencies.js';
import type { EdfiModel } from './model/index.js';
import { openApiDocument } from './openapi.js';
import type { ProfileMediaTypes } from './profiles/media-type.js';

/**
 * The Ed-Fi Data Standard major the served model follows. Clients read it from the version document: the ODS/API's
 * Postman suites, for one, choose Contact (5.x) over Parent (4.x) by its major version.
 */
export const dataStandardVersion = '5.0.0';

/** The ODS/API release whose behaviour edgate follows. */
export const odsApiVersion = '7.3';

type Json = Record<string, unknown>;

/**
 * The ODS/API's discovery documents, public as there: the version document at `/`, the OpenAPI sections under
 * `/metadata` (resources and descriptors), and the dependency order under its ODS/API path too.
 */
export function discoveryRoutes(model: EdfiModel, profiles: ProfileMediaTypes) {
  return (router: Router, { config }: { config: Pick<Config, 'publicUrl'> }): void => {
    const base = config.publicUrl.replace(/\/$/, '');
    const dependencies = loadOrder(model.resources);
    // Built on first request, as /metadata/openapi.json is: the whole Data Standard makes a large document. Each
    // section is a document of its own resources, so it names no schema it does not use.
    const sections = new Map<boolean, Json>();
    const section = (descriptors: boolean): Json => {
      const cached = sections.get(descriptors);
      if (cached) return cached;
      const document = openApiDocument(config.publicUrl, model.metas.filter((meta) => /Descriptors$/.test(meta.name) === descriptors), profiles);
      sections.set(descriptors, document);
      return document;
    };

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
    router.get('/metadata/data/v3/dependencies', (ctx) => {
      ctx.body = dependencies;
    });
    router.get('/metadata/data/v3/resources/swagger.json', (ctx) => {
      ctx.body = section(false);
    });
    router.get('/metadata/data/v3/descriptors/swagger.json', (ctx) => {
      ctx.body = section(true);
    });
  };
}
