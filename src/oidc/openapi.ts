import { errorResponses, jsonResponse, schemaRef, security, type ApiDescription } from '../http/openapi.js';
import { introspectionPath, tokenInfoPath, tokenPath } from './paths.js';

const noStore = { 'Cache-Control': { $ref: '#/components/headers/Cache-Control' } };

/** Form and JSON bodies are read alike on every OAuth endpoint (http/body.ts). */
const formOrJson = (schema: string) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema: schemaRef(schema) }, 'application/json': { schema: schemaRef(schema) } },
});

/** The token endpoint, Ed-Fi's token_info and RFC 7662 introspection. */
export function oauthDescription(): ApiDescription {
  return {
    tags: [{ name: 'OAuth', description: 'Access tokens (OAuth 2.0 client credentials) and what a token grants.' }],
    paths: {
      [tokenPath]: {
        post: {
          tags: ['OAuth'],
          operationId: 'issueToken',
          summary: 'Issue an access token (client credentials)',
          description:
            'Client authentication by HTTP Basic or by `client_id` and `client_secret` in the body. `audience` (or RFC 8707 `resource`) ' +
            'names the API, `AUDIENCE` when left out; `scope` (an ed-org id assigned to the client) narrows the token to the schools beneath it.',
          security: security.clientCredentials,
          requestBody: formOrJson('TokenRequest'),
          responses: {
            '200': jsonResponse('An RFC 9068 JWT access token', schemaRef('TokenResponse'), noStore),
            // An empty id or secret in Basic credentials is 401 invalid_request, as the ODS/API answers.
            ...errorResponses('oauth', ['invalid_request', 'unsupported_grant_type', 'invalid_scope', 'invalid_target', 'invalid_client', ['invalid_request', 401], 'unsupported_media_type', 'temporarily_unavailable']),
          },
        },
      },
      [tokenInfoPath]: {
        post: {
          tags: ['OAuth'],
          operationId: 'tokenInfo',
          summary: 'Describe the presented access token (Ed-Fi token_info)',
          description: 'The bearer token and the body\'s `token` must be the same token. Errors are problem details, as the ODS/API\'s.',
          security: security.accessToken,
          requestBody: formOrJson('TokenInfoRequest'),
          responses: {
            '200': jsonResponse('What the token grants: reach, profiles, claim set, resources', schemaRef('TokenInfo'), noStore),
            ...errorResponses('problem', ['invalid_request', 'invalid_token', 'unsupported_media_type', 'database_unavailable']),
          },
        },
      },
      [introspectionPath]: {
        post: {
          tags: ['OAuth'],
          operationId: 'introspectToken',
          summary: 'Introspect an access token (RFC 7662)',
          description: 'The caller authenticates as any enabled client. A disabled client\'s token, or one that does not verify, is `active: false`.',
          security: security.clientCredentials,
          requestBody: formOrJson('IntrospectionRequest'),
          responses: {
            '200': jsonResponse('The token\'s claims, or only `active: false`', schemaRef('Introspection'), noStore),
            ...errorResponses('oauth', ['invalid_request', 'invalid_client', 'unsupported_media_type', 'temporarily_unavailable']),
          },
        },
      },
    },
    schemas: {
      TokenRequest: {
        type: 'object',
        required: ['grant_type'],
        properties: {
          grant_type: { type: 'string', enum: ['client_credentials'] },
          client_id: { type: 'string', description: 'With client_secret, instead of HTTP Basic' },
          client_secret: { type: 'string', writeOnly: true },
          audience: { type: 'string', description: 'The API the token is for; AUDIENCE when left out' },
          resource: { type: 'string', description: 'RFC 8707 synonym of audience' },
          scope: { type: 'string', pattern: '^[0-9]{1,18}$', description: 'An ed-org id assigned to the client: the token carries only the schools beneath it' },
        },
      },
      TokenResponse: {
        type: 'object',
        required: ['access_token', 'token_type', 'expires_in'],
        properties: {
          access_token: { type: 'string', description: 'A JWT (typ at+jwt) with iss, sub, client_id, aud, iat, exp, jti, tier and schools' },
          token_type: { type: 'string', enum: ['Bearer'] },
          expires_in: { type: 'integer', description: 'Seconds; TOKEN_TTL_SECONDS' },
          scope: { type: 'string', description: 'Echoed when the request named one' },
        },
      },
      TokenInfoRequest: { type: 'object', required: ['token'], properties: { token: { type: 'string', description: 'The bearer token itself' } } },
      TokenInfo: {
        type: 'object',
        properties: {
          active: { type: 'boolean' },
          client_id: { type: 'string' },
          tier: { type: 'string' },
          exp: { type: 'integer' },
          schools: { type: 'array', items: { type: 'string' } },
          namespace_prefixes: { type: 'array', items: { type: 'string' } },
          education_organizations: {
            type: 'array',
            items: {
              type: 'object',
              description: 'The ed-org and an `<type>_id` member for itself and each ancestor (school_id, local_education_agency_id, …)',
              properties: { education_organization_id: { type: 'integer' }, name_of_institution: { type: 'string' }, type: { type: 'string' } },
              additionalProperties: { type: 'integer' },
            },
          },
          assigned_profiles: { type: 'array', items: { type: 'string' } },
          claim_set: { type: 'object', properties: { name: { type: 'string' } } },
          resources: { type: 'array', items: { type: 'object', properties: { resource: { type: 'string' }, operations: { type: 'array', items: { type: 'string' } } } } },
          services: { type: 'array', items: { type: 'object', properties: { service: { type: 'string' }, operations: { type: 'array', items: { type: 'string' } } } } },
        },
      },
      IntrospectionRequest: {
        type: 'object',
        required: ['token'],
        properties: { token: { type: 'string' }, client_id: { type: 'string' }, client_secret: { type: 'string', writeOnly: true } },
      },
      Introspection: {
        type: 'object',
        required: ['active'],
        properties: {
          active: { type: 'boolean' },
          client_id: { type: 'string' },
          sub: { type: 'string' },
          token_type: { type: 'string' },
          iss: { type: 'string' },
          aud: { type: 'string' },
          iat: { type: 'integer' },
          exp: { type: 'integer' },
          jti: { type: 'string' },
          tier: { type: 'string' },
          schools: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  };
}
