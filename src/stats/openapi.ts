import { costOf } from '../gateway/costs.js';
import { errorResponses, jsonResponse, rateLimitHeaders, schemaRef, security, type ApiDescription } from '../http/openapi.js';
import { attendanceSummaryPath } from './routes.js';

const date = (name: string, description: string) => ({ name, in: 'query', required: false, description, schema: { type: 'string', format: 'date' } });

/** The attendance statistics, behind the gateway. */
export function statsDescription(): ApiDescription {
  return {
    tags: [{ name: 'Statistics', description: 'Aggregates computed in SQL from the Ed-Fi data, behind the gateway.' }],
    paths: {
      [attendanceSummaryPath]: {
        get: {
          tags: ['Statistics'],
          operationId: 'getAttendanceSummary',
          summary: "Summarise a school's attendance events",
          description: 'Each event counts in one bucket by its attendanceEventCategoryDescriptor; `attendance_rate` = (present + tardy) / all four buckets.',
          security: security.accessToken,
          'x-edgate-cost': costOf('GET', attendanceSummaryPath),
          parameters: [
            { name: 'school_id', in: 'query', required: true, description: "A school among the token's schools", schema: { type: 'string', pattern: '^[0-9]+$' } },
            date('from', 'First day counted (inclusive)'),
            date('to', 'Last day counted (inclusive)'),
          ],
          responses: {
            '200': jsonResponse('The summary', schemaRef('AttendanceSummary'), rateLimitHeaders),
            ...errorResponses(
              'plain',
              ['missing_parameter', 'invalid_parameter', 'invalid_date', 'invalid_date_range', 'missing_token', 'invalid_token', 'school_not_approved', 'rate_limited', 'cost_quota_exceeded', 'database_unavailable', 'rate_limit_unavailable', 'revocation_unavailable'],
              { metered: true },
            ),
          },
        },
      },
    },
    schemas: {
      AttendanceSummary: {
        type: 'object',
        required: ['school_id', 'from', 'to', 'students_enrolled', 'days_recorded', 'present', 'absent', 'tardy', 'excused', 'attendance_rate'],
        properties: {
          school_id: { type: 'string' },
          from: { type: ['string', 'null'], format: 'date' },
          to: { type: ['string', 'null'], format: 'date' },
          students_enrolled: { type: 'integer', minimum: 0 },
          days_recorded: { type: 'integer', minimum: 0 },
          present: { type: 'integer', minimum: 0 },
          absent: { type: 'integer', minimum: 0 },
          tardy: { type: 'integer', minimum: 0 },
          excused: { type: 'integer', minimum: 0 },
          attendance_rate: { type: 'number', minimum: 0, maximum: 1 },
        },
      },
    },
  };
}
