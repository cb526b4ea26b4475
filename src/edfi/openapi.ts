import type Router from '@koa/router';

import type { Config } from '../config/index.js';

import type { ResourceMeta } from './resource-meta.js';
import { loadOrder } from './dependencies.js';
import type { EdfiModel } from './model/index.js';
import { dataRoot } from './paths.js';
import type { ProfileMediaTypes } from './profiles/media-type.js';

type Json = Record<string, unknown>;

const noProfiles: ProfileMediaTypes = () => ({ readable: [], writable: [] });

const stored: Json = {
  id: { type: 'string', pattern: '^[0-9a-f]{32}$', readOnly: true },
  _etag: { type: 'string', readOnly: true },
  _lastModifiedDate: { type: 'string', format: 'date-time', readOnly: true },
};

function problem(description: string): Json {
  return { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
}

function content(mediaTypes: string[], schema: Json): Json {
  return Object.fromEntries(['application/json', ...mediaTypes].map((type) => [type, { schema }]));
}

function pathsOf(meta: ResourceMeta, profiles: ProfileMediaTypes): Json {
  const { readable, writable } = profiles(meta);
  const ref = { $ref: `#/components/schemas/${meta.edfiName}` };
  const read = { allOf: [ref, { type: 'object', properties: stored }] };
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' } };
  const ifMatch = { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } };
  const errors = {
    '400': problem('data_validation_failed, bad_request'),
    '401': problem('missing_token, invalid_token'),
    '403': problem('authorization_denied, namespace_not_permitted'),
  };
  const filters = Object.entries((meta.schema.properties ?? {}) as Record<string, { type?: string }>)
    .filter(([, schema]) => ['string', 'integer', 'number', 'boolean'].includes(schema.type ?? ''))
    .map(([name, schema]) => ({ name, in: 'query', required: false, schema: { type: schema.type } }));
  return {
    [`${dataRoot}/${meta.project ?? 'ed-fi'}/${meta.name}`]: {
      get: {
        tags: [meta.name],
        operationId: `get${meta.edfiName}s`,
        parameters: [
          { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 500, default: 25 } },
          { name: 'totalCount', in: 'query', schema: { type: 'boolean', default: false } },
          ...filters,
        ],
        responses: { '200': { description: 'The items in reach', content: content(readable, { type: 'array', items: read }) }, ...errors },
      },
      post: {
        tags: [meta.name],
        operationId: `post${meta.edfiName}`,
        requestBody: { required: true, content: content(writable, ref) },
        responses: { '200': { description: 'Updated' }, '201': { description: 'Created' }, ...errors, '409': problem('unresolved_reference'), '412': problem('optimistic_lock_failed') },
      },
    },
    [`${dataRoot}/${meta.project ?? 'ed-fi'}/${meta.name}/{id}`]: {
      get: { tags: [meta.name], operationId: `get${meta.edfiName}ById`, parameters: [idParam], responses: { '200': { description: 'The item', content: content(readable, read) }, ...errors, '404': problem('not_found') } },
      put: {
        tags: [meta.name],
        operationId: `put${meta.edfiName}`,
        parameters: [idParam, ifMatch],
        requestBody: { required: true, content: content(writable, ref) },
        responses: { '204': { description: 'Updated' }, ...errors, '404': problem('not_found'), '409': problem('unresolved_reference'), '412': problem('optimistic_lock_failed') },
      },
      delete: {
        tags: [meta.name],
        operationId: `delete${meta.edfiName}`,
        parameters: [idParam, ifMatch],
        responses: { '204': { description: 'Deleted' }, ...errors, '404': problem('not_found'), '409': problem('dependent_item_exists'), '412': problem('optimistic_lock_failed') },
      },
    },
  };
}

/** OpenAPI 3.1 of the resource API, from the same schemas the validators compile. */
export function openApiDocument(serverUrl: string, metas: ResourceMeta[], profiles: ProfileMediaTypes = noProfiles): Json {
  const schemas: Json = {
    Problem: {
      type: 'object',
      properties: {
        type: { type: 'string' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        correlationId: { type: 'string' },
        error: { type: 'string' },
        validationErrors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      },
    },
  };
  for (const meta of metas) {
    const { $schema, ...schema } = meta.schema;
    void $schema; // The document's jsonSchemaDialect says 2020-12 once for all schemas.
    schemas[meta.edfiName] = schema;
  }
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { title: 'edgate Ed-Fi resource API', version: '3' },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    paths: Object.assign({}, ...metas.map((meta) => pathsOf(meta, profiles))),
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
  };
}

/** Public, like Ed-Fi's metadata endpoints: no token needed to discover the API. */
export function openApiRoutes(model: EdfiModel, profiles: ProfileMediaTypes = noProfiles) {
  return (router: Router, { config }: { config: Pick<Config, 'publicUrl'> }): void => {
    // Built on first request: the whole Data Standard makes a document of several megabytes.
    let document: Json | undefined;
    const dependencies = loadOrder(model.resources);
    router.get('/metadata/dependencies', (ctx) => {
      ctx.body = dependencies;
    });
    router.get('/metadata/openapi.json', (ctx) => {
      document ??= openApiDocument(config.publicUrl, model.metas, profiles);
      ctx.body = document;
    });
  };
}
