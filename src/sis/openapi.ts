import type { EdfiModel } from '../edfi/model/index.js';
import { errorResponses, jsonResponse, schemaRef, security, type ApiDescription } from '../http/openapi.js';
import { rosterBatchSchemaOf } from './roster.js';
import { sisSyncPath } from './routes.js';

const count = { type: 'integer', minimum: 0 };

/** SIS roster sync: an institution's secret, not an access token; its own per-institution limit. */
export function sisDescription(model: EdfiModel): ApiDescription {
  return {
    tags: [{ name: 'SIS sync', description: 'Institutions push their roster (students and school enrolments) with a SIS secret of their own.' }],
    paths: {
      [sisSyncPath]: {
        post: {
          tags: ['SIS sync'],
          operationId: 'syncRoster',
          summary: "Push a batch of an institution's roster",
          description: 'Writes Students and StudentSchoolAssociations, all or nothing per request, idempotently. Every schoolId must be in the institution\'s reach.',
          security: security.sisSecret,
          requestBody: { required: true, content: { 'application/json': { schema: schemaRef('RosterBatch') } } },
          responses: {
            '200': jsonResponse('What the batch changed', schemaRef('RosterSyncResult')),
            // Its own limit per institution: a 429 with Retry-After, and no RateLimit headers.
            ...errorResponses('plain', [
              'invalid_json',
              'missing_field',
              'invalid_field',
              'unauthorized',
              'school_not_permitted',
              'batch_too_large',
              'payload_too_large',
              'unsupported_media_type',
              'rate_limited',
              'not_configured',
              'rate_limit_unavailable',
              'database_unavailable',
            ]),
          },
        },
      },
    },
    schemas: {
      // The schema the route validates with, from the same model as the resource API.
      RosterBatch: rosterBatchSchemaOf(model),
      RosterSyncResult: {
        type: 'object',
        required: ['received', 'created', 'updated', 'unchanged'],
        properties: { received: count, created: count, updated: count, unchanged: count },
      },
    },
  };
}
