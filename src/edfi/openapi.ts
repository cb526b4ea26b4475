import type Router from '@koa/router';

import type { Config } from '../config/index.js';
import { costOf } from '../gateway/costs.js';
import { apiDocument, errorResponses, rateLimitHeaders, security, type ApiDescription, type CodeAt, type Json } from '../http/openapi.js';
import type { ResourceMeta } from './resource-meta.js';
import { loadOrder } from './dependencies.js';
import type { EdfiModel } from './model/index.js';
import { dataRoot } from './paths.js';
import type { ProfileMediaTypes } from './profiles/media-type.js';

const noProfiles: ProfileMediaTypes = () => ({ readable: [], writable: [] });

const stored: Json = {
  id: { type: 'string', pattern: '^[0-9a-f]{32}$', readOnly: true },
  _etag: { type: 'string', readOnly: true },
  _lastModifiedDate: { type: 'string', format: 'date-time', readOnly: true },
};

/** What every call under the gateway may answer besides the resource's own errors: authentication, limits, a dependency down. */
const gatewayCodes: CodeAt[] = ['missing_token', 'invalid_token', 'rate_limited', 'cost_quota_exceeded', 'database_unavailable', 'rate_limit_unavailable', 'revocation_unavailable'];

/** The error answers of one verb: its own codes and the gateway's, as problem details. */
const answers = (...codes: CodeAt[]) => errorResponses('problem', [...codes, ...gatewayCodes], { metered: true });

function content(mediaTypes: string[], schema: Json): Json {
  return Object.fromEntries(['application/json', ...mediaTypes].map((type) => [type, { schema }]));
}

const changeWindow: Json[] = ['minChangeVersion', 'maxChangeVersion'].map((name) => ({ name, in: 'query', description: 'Change-version bound, inclusive', schema: { type: 'integer', minimum: 0 } }));
const nextPageToken: Json = { 'Next-Page-Token': { description: 'The pageToken of the next page, on every cursor page that has items', schema: { type: 'string' } } };

const trackedItem = (values: Json): Json => ({ type: 'object', required: ['id', 'changeVersion'], properties: { id: { type: 'string' }, changeVersion: { type: 'integer' }, ...values } });
const keyValues: Json = { type: 'object', additionalProperties: true };

/** /deletes, /keyChanges and /partitions of one resource: change queries and parallel reads, as ODS/API 7.3. */
function trackedPaths(meta: ResourceMeta, collection: string, operation: (method: string, path: string, fields: Json) => Json, refusals: CodeAt[], filters: Json[]): ApiDescription['paths'] {
  const window = [
    ...changeWindow,
    { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
    { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 25 } },
    { name: 'totalCount', in: 'query', schema: { type: 'boolean', default: false } },
  ];
  const tracked = (name: string, summary: string, item: Json): Json => operation('get', `${collection}/${name}`, {
    operationId: `${name}${meta.edfiName}s`,
    summary,
    parameters: window,
    responses: { '200': { description: summary, headers: rateLimitHeaders, content: { 'application/json': { schema: { type: 'array', items: item } } } }, ...answers(...refusals, 'bad_request') },
  });
  return {
    [`${collection}/deletes`]: { get: tracked('deletes', `${meta.edfiName} items deleted in the change-version window, in the reader's reach when deleted`, trackedItem({ keyValues })) },
    [`${collection}/keyChanges`]: { get: tracked('keyChanges', `${meta.edfiName} identity changes in the change-version window`, trackedItem({ oldKeyValues: keyValues, newKeyValues: keyValues })) },
    [`${collection}/partitions`]: {
      get: operation('get', `${collection}/partitions`, {
        operationId: `partitions${meta.edfiName}s`,
        summary: `Page tokens for parallel readers of ${meta.edfiName} items, equal slices of what the same query lists`,
        parameters: [
          { name: 'number', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 200, default: 10 } },
          { name: 'allowSmallPartitions', in: 'query', description: 'Allow slices under 2,500 items', schema: { type: 'boolean', default: false } },
          ...changeWindow,
          ...filters,
        ],
        responses: {
          '200': { description: 'One token per slice', headers: rateLimitHeaders, content: { 'application/json': { schema: { type: 'object', required: ['pageTokens'], properties: { pageTokens: { type: 'array', items: { type: 'string' } } } } } } },
          ...answers(...refusals, 'invalid_query'),
        },
      }),
    },
  };
}

/** The ODS/API's verbs on one resource: summaries in its words, each verb's error codes (statuses from the catalogue). */
function pathsOf(meta: ResourceMeta, profiles: ProfileMediaTypes): ApiDescription['paths'] {
  const { readable, writable } = profiles(meta);
  const ref = { $ref: `#/components/schemas/${meta.edfiName}` };
  const read = { allOf: [ref, { type: 'object', properties: stored }] };
  const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{32}$' } };
  const ifMatch = { name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } };
  const forbidden: CodeAt[] = ['authorization_denied', 'namespace_not_permitted', 'profile_required', 'profile_not_assigned', 'profile_not_defined'];
  const filters = Object.entries((meta.schema.properties ?? {}) as Record<string, { type?: string }>)
    .filter(([, schema]) => ['string', 'integer', 'number', 'boolean'].includes(schema.type ?? ''))
    .map(([name, schema]) => ({ name, in: 'query', required: false, schema: { type: schema.type } }));
  const collection = `${dataRoot}/${meta.project ?? 'ed-fi'}/${meta.name}`;
  const item = `${collection}/{id}`;
  // The route's price against the daily cost quota, from the gateway's one cost table.
  const operation = (method: string, path: string, fields: Json): Json => ({ tags: [meta.name], security: security.accessToken, ...fields, 'x-edgate-cost': costOf(method.toUpperCase(), path) });
  const profileUsage: CodeAt[] = ['malformed_profile_media_type', 'profile_usage_mismatch', 'invalid_profile_usage', 'profile_method_not_allowed', 'invalid_profile'];
  const reads: CodeAt[] = [...forbidden, ...profileUsage, 'unknown_profile', 'invalid_query', 'data_validation_failed', 'not_found', 'snapshot_not_configured'];
  const writes: CodeAt[] = [
    ...forbidden,
    'data_validation_failed',
    'bad_request',
    'invalid_json',
    'key_change_not_supported',
    'data_policy_enforced',
    ...profileUsage,
    'snapshot_read_only',
    'optimistic_lock_failed',
    'unsupported_media_type',
    ['unknown_profile', 415],
    'unresolved_reference',
    'identity_conflict',
    'write_conflict',
  ];
  return {
    [collection]: {
      get: operation('get', collection, {
        operationId: `get${meta.edfiName}s`,
        summary: `List ${meta.edfiName} items in reach`,
        parameters: [
          { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0, maximum: 500, default: 25 } },
          { name: 'totalCount', in: 'query', schema: { type: 'boolean', default: false } },
          ...changeWindow,
          { name: 'pageToken', in: 'query', description: 'Cursor paging: a token of /partitions or a Next-Page-Token header', schema: { type: 'string' } },
          { name: 'pageSize', in: 'query', description: 'Cursor paging: items per page (needs pageToken)', schema: { type: 'integer', minimum: 1, maximum: 500, default: 25 } },
          { name: 'id', in: 'query', schema: { type: 'string', pattern: '^[0-9a-fA-F]{32}$' } },
          ...filters,
        ],
        responses: {
          '200': { description: 'The items in reach', headers: { ...rateLimitHeaders, ...nextPageToken }, content: content(readable, { type: 'array', items: read }) },
          ...answers(...reads),
        },
      }),
      post: operation('post', collection, {
        operationId: `post${meta.edfiName}`,
        summary: `Create or update a ${meta.edfiName} by its natural key`,
        requestBody: { required: true, content: content(writable, ref) },
        responses: {
          '200': { description: 'Updated the item with the same natural key', headers: rateLimitHeaders },
          '201': { description: 'Created; Location names the new item', headers: rateLimitHeaders },
          ...answers(...writes, 'type_change'),
        },
      }),
    },
    ...trackedPaths(meta, collection, operation, [...forbidden, 'not_found', 'snapshot_not_configured'], filters),
    [item]: {
      get: operation('get', item, {
        operationId: `get${meta.edfiName}ById`,
        summary: `Read one ${meta.edfiName}`,
        parameters: [idParam],
        responses: {
          '200': { description: 'The item', headers: rateLimitHeaders, content: content(readable, read) },
          '304': { description: 'If-None-Match names the current ETag', headers: rateLimitHeaders },
          // data_validation_failed: a route id that is no id.
          ...answers(...reads.filter((code) => code !== 'invalid_query')),
        },
      }),
      put: operation('put', item, {
        operationId: `put${meta.edfiName}`,
        summary: `Replace one ${meta.edfiName}`,
        parameters: [idParam, ifMatch],
        requestBody: { required: true, content: content(writable, ref) },
        responses: {
          '204': { description: 'Updated', headers: rateLimitHeaders },
          ...answers(...writes, 'not_found', 'dependent_item_exists'),
        },
      }),
      delete: operation('delete', item, {
        operationId: `delete${meta.edfiName}`,
        summary: `Delete one ${meta.edfiName}`,
        parameters: [idParam, ifMatch],
        responses: {
          '204': { description: 'Deleted', headers: rateLimitHeaders },
          ...answers(...forbidden, 'data_validation_failed', 'not_found', 'snapshot_read_only', 'dependent_item_exists', 'write_conflict', 'optimistic_lock_failed'),
        },
      }),
    },
  };
}

const availableChangeVersions = '/changeQueries/v1/availableChangeVersions';
const availableChangeVersionsOperation: Json = {
  tags: ['changeQueries'],
  security: security.accessToken,
  operationId: 'getAvailableChangeVersions',
  summary: 'The oldest and newest change versions: read up to the newest, and start the next run after it',
  responses: {
    '200': {
      description: 'The change-version range',
      headers: rateLimitHeaders,
      content: { 'application/json': { schema: { type: 'object', required: ['oldestChangeVersion', 'newestChangeVersion'], properties: { oldestChangeVersion: { type: 'integer' }, newestChangeVersion: { type: 'integer' } } } } },
    },
    ...answers(),
  },
  'x-edgate-cost': costOf('GET', availableChangeVersions),
};

/** The resource API's part of the document, from the same model and schemas the validators compile. */
export function resourceDescription(metas: ResourceMeta[], profiles: ProfileMediaTypes = noProfiles): ApiDescription {
  const schemas: Json = {};
  for (const meta of metas) {
    const { $schema, ...schema } = meta.schema;
    void $schema; // The document's jsonSchemaDialect says 2020-12 once for all schemas.
    schemas[meta.edfiName] = schema;
  }
  return {
    tags: [
      { name: 'changeQueries', description: 'Change versions for incremental copies (ODS/API change queries).' },
      ...metas.map((meta) => ({ name: meta.name, description: `The Ed-Fi ${meta.edfiName} resource; natural key: ${meta.identity.join(', ') || 'id'}.` })),
    ],
    paths: Object.assign({ [availableChangeVersions]: { get: availableChangeVersionsOperation } }, ...metas.map((meta) => pathsOf(meta, profiles))),
    schemas,
  };
}

export const resourceApiInfo = {
  title: 'edgate Ed-Fi resource API',
  version: '3',
  description: 'The Ed-Fi resources of the served model, behind the gateway: a client-credentials access token, rate limits per tier, school-level authorisation.',
};

/** OpenAPI 3.1 of the resource API alone: the ODS/API's metadata sections are cut from it (discovery.ts). */
export function openApiDocument(serverUrl: string, metas: ResourceMeta[], profiles: ProfileMediaTypes = noProfiles): Json {
  return apiDocument(serverUrl, resourceApiInfo, [resourceDescription(metas, profiles)]);
}

/**
 * Public, like Ed-Fi's metadata endpoints: no token needed to discover the API. `/metadata/openapi.json` describes
 * the whole service: the resources, and the other modules' operations the app hands in (token, SIS sync, stats).
 */
export function openApiRoutes(model: EdfiModel, profiles: ProfileMediaTypes = noProfiles, others: ApiDescription[] = [], info = resourceApiInfo) {
  return (router: Router, { config }: { config: Pick<Config, 'publicUrl'> }): void => {
    // Built on first request: the whole Data Standard makes a document of several megabytes.
    let document: Json | undefined;
    const dependencies = loadOrder(model.resources);
    router.get('/metadata/dependencies', (ctx) => {
      ctx.body = dependencies;
    });
    router.get('/metadata/openapi.json', (ctx) => {
      document ??= apiDocument(config.publicUrl, info, [...others, resourceDescription(model.metas, profiles)]);
      ctx.body = document;
    });
  };
}
