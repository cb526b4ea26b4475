/**
 * The parts of the OpenAPI 3.1 document every route module shares: the three error body shapes the error handler
 * renders (error-response.ts), the RateLimit headers, the security schemes, and the assembly of the modules'
 * descriptions into one document. Each module describes its own operations as data, next to its routes; the app
 * hands them to the document, so no operation is written twice.
 */
import { errorCatalogue, type ErrorCode, type Problem } from '../errors.js';

export type Json = Record<string, unknown>;

/** A route module's part of the document: its operations by path and method, the tags they use, its schemas. */
export interface ApiDescription {
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, Record<string, Json>>;
  schemas?: Json;
}

const ref = (kind: string, name: string) => ({ $ref: `#/components/${kind}/${name}` });

/** Who may call: an access token (client credentials), the client's own credentials, or an institution's SIS secret. */
export const security = {
  accessToken: [{ oauth2: [] }],
  // RFC 6749 §2.3.1: HTTP Basic, or client_id and client_secret in the body (no scheme: the empty requirement).
  clientCredentials: [{ clientBasic: [] }, {}],
  sisSecret: [{ sisSecret: [] }],
};

const shapes = {
  /** RFC 9457, as under /data/ and on token_info: the ODS/API's type URNs, plus edgate's `error` code. */
  problem: { mediaType: 'application/problem+json', schema: 'Problem' },
  /** RFC 6749 §5.2, as the token and introspection endpoints answer. */
  oauth: { mediaType: 'application/json', schema: 'OAuthError' },
  /** Every other path (the contract's section 8): a stable `error` code and a `detail` for a person. */
  plain: { mediaType: 'application/json', schema: 'Error' },
};

export type ErrorShape = keyof typeof shapes;

/** A code at its catalogued status, or at one of the statuses it is catalogued `also` with. */
export type CodeAt = ErrorCode | [ErrorCode, number];

/** The headers an error status comes with: a challenge on 401, when to retry on 429 and 503. */
const headersOf: Record<number, string[]> = { 401: ['WWW-Authenticate'], 429: ['Retry-After'], 503: ['Retry-After'] };

/**
 * The error answers of an operation, grouped by status: each code's status comes from the error catalogue, so the
 * document cannot give a code another status than the one it is answered with. Each response names its codes (the
 * `error` member) and has the body shape the path answers. A metered operation's 429 carries the RateLimit headers.
 */
export function errorResponses(shape: ErrorShape, codes: CodeAt[], { metered = false } = {}): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const entry of codes) {
    const [code, status] = typeof entry === 'string' ? [entry, errorCatalogue[entry].status] : entry;
    const catalogued: Problem = errorCatalogue[code];
    if (status !== catalogued.status && !catalogued.also?.includes(status)) throw new Error(`the OpenAPI document names ${code} with ${status}, the catalogue does not`);
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const { mediaType, schema } = shapes[shape];
  return Object.fromEntries(
    [...byStatus].sort(([a], [b]) => a - b).map(([status, named]) => {
      const headers = Object.fromEntries((headersOf[status] ?? []).map((name) => [name, ref('headers', name)]));
      return [
        String(status),
        {
          description: named.map((code) => `\`${code}\``).join(', '),
          ...(Object.keys(headers).length ? { headers: status === 429 && metered ? { ...rateLimitHeaders, ...headers } : headers } : {}),
          content: { [mediaType]: { schema: ref('schemas', schema) } },
        },
      ];
    }),
  );
}

/** The draft's two headers, on every answer the gateway's limits admitted. */
export const rateLimitHeaders: Json = { RateLimit: ref('headers', 'RateLimit'), 'RateLimit-Policy': ref('headers', 'RateLimit-Policy') };

/** A successful JSON answer, optionally with the RateLimit headers of a metered call. */
export function jsonResponse(description: string, schema: Json, headers: Json = {}): Json {
  return { description, ...(Object.keys(headers).length ? { headers } : {}), content: { 'application/json': { schema } } };
}

export const schemaRef = (name: string) => ref('schemas', name);

const sharedSchemas: Json = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details in the ODS/API shape, with edgate\'s stable `error` code.',
    properties: {
      type: { type: 'string', description: 'The ODS/API type URN, e.g. urn:ed-fi:api:not-found' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string' },
      correlationId: { type: 'string', description: "The client's correlation id, else the request id" },
      error: { type: 'string', description: "edgate's stable code" },
      errors: { type: 'array', items: { type: 'string' } },
      validationErrors: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
      'violated-policies': { type: 'array', items: { type: 'string', enum: ['minute', 'day'] } },
    },
    required: ['type', 'title', 'status', 'error'],
  },
  OAuthError: {
    type: 'object',
    description: 'RFC 6749 §5.2 error response.',
    properties: { error: { type: 'string' }, error_description: { type: 'string' }, request_id: { type: 'string' } },
    required: ['error', 'request_id'],
  },
  Error: {
    type: 'object',
    description: 'A stable snake_case `error` code and a `detail` for a person; some codes add members (`field`, `max`, `parameter`, `violated-policies`).',
    properties: { error: { type: 'string' }, detail: { type: 'string' }, request_id: { type: 'string' } },
    required: ['error', 'detail', 'request_id'],
    additionalProperties: true,
  },
};

const sharedHeaders: Json = {
  RateLimit: {
    description: 'draft-ietf-httpapi-ratelimit-headers: what is left of each policy and when it resets, e.g. `"minute";r=599;t=60, "day";r=99990;t=86400`',
    schema: { type: 'string' },
  },
  'RateLimit-Policy': {
    description: 'The quota policies of the caller\'s tier, e.g. `"minute";q=600;w=60, "day";q=100000;w=86400;edgate-unit="cost"`',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Whole seconds (at least 1) before a retry can succeed', schema: { type: 'integer', minimum: 1 } },
  'WWW-Authenticate': { description: 'RFC 6750 challenge: `error="invalid_token"` only when a token was sent', schema: { type: 'string' } },
  'Cache-Control': { description: '`no-store`: the answer carries or describes a credential', schema: { type: 'string' } },
};

function securitySchemes(publicUrl: string): Json {
  return {
    oauth2: {
      type: 'oauth2',
      description: 'An access token from the token endpoint (client credentials), sent as `Authorization: Bearer <token>`',
      flows: { clientCredentials: { tokenUrl: `${publicUrl}/oauth/token`, scopes: {} } },
    },
    clientBasic: { type: 'http', scheme: 'basic', description: 'The client id and secret (or send client_id and client_secret in the body)' },
    sisSecret: { type: 'http', scheme: 'bearer', description: "An institution's SIS secret (`edgate sis issue-secret`), not an access token" },
  };
}

/** Only what some operation refers to: a component nobody uses is noise (and a lint warning). */
function used(components: Json, kind: string, text: string): Json {
  return Object.fromEntries(Object.entries(components).filter(([name]) => text.includes(`"#/components/${kind}/${name}"`)));
}

function schemesUsed(schemes: Json, paths: Json): Json {
  const names = new Set<string>();
  for (const operations of Object.values(paths) as Array<Record<string, { security?: Array<Record<string, unknown>> }>>) {
    for (const operation of Object.values(operations)) for (const requirement of operation.security ?? []) for (const name of Object.keys(requirement)) names.add(name);
  }
  return Object.fromEntries(Object.entries(schemes).filter(([name]) => names.has(name)));
}

export interface DocumentInfo {
  title: string;
  version: string;
  description: string;
}

/** One OpenAPI 3.1 document from the modules' descriptions. */
export function apiDocument(publicUrl: string, info: DocumentInfo, descriptions: ApiDescription[]): Json {
  const base = publicUrl.replace(/\/+$/, '');
  const paths: Record<string, Record<string, Json>> = {};
  for (const description of descriptions) {
    for (const [path, operations] of Object.entries(description.paths)) paths[path] = { ...paths[path], ...operations };
  }
  const schemas = Object.assign({}, sharedSchemas, ...descriptions.map((d) => d.schemas ?? {})) as Json;
  const text = JSON.stringify(paths);
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: { ...info, license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' } },
    servers: [{ url: base }],
    tags: descriptions.flatMap((d) => d.tags),
    paths,
    components: {
      // Resource schemas refer to each other only through paths here, so every one a path names is kept.
      schemas: { ...used(sharedSchemas, 'schemas', text), ...Object.fromEntries(Object.entries(schemas).filter(([name]) => !(name in sharedSchemas))) },
      headers: used(sharedHeaders, 'headers', text),
      securitySchemes: schemesUsed(securitySchemes(base), paths),
    },
  };
}
