import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

import { isDatabaseUnavailable } from '../db/driver-errors.js';
import { ApiError } from '../errors.js';

/**
 * How the ODS/API renders each code under /data/: its problem `type` URN and `title`, and its fixed `detail` text
 * where it has one (the specific reason then goes into `errors`). Codes not listed get `urn:ed-fi:api:<code>`, the
 * status title and edgate's own detail.
 */
interface OdsProblem {
  type: string;
  title?: string;
  detail?: string;
}

const dataPolicyIncorrectUsage: OdsProblem = {
  type: 'urn:ed-fi:api:security:data-policy:incorrect-usage',
  title: 'Data Policy Failure Due to Incorrect Usage',
  detail: 'A data policy failure was encountered. The request was not constructed correctly for the data policy that has been applied to this data for the caller.',
};

const invalidProfileUsage: OdsProblem = {
  type: 'urn:ed-fi:api:profile:invalid-profile-usage',
  title: 'Invalid Profile Usage',
  detail: 'The request construction was invalid with respect to usage of a data policy.',
};

export const odsProblems: Record<string, OdsProblem> = {
  bad_request: { type: 'urn:ed-fi:api:bad-request:parameter-validation-failed', title: 'Parameter Validation Failed', detail: 'Parameters supplied to the request were invalid.' },
  data_validation_failed: { type: 'urn:ed-fi:api:bad-request:data-validation-failed', title: 'Data Validation Failed', detail: "Data validation failed. See 'validationErrors' for details." },
  invalid_json: { type: 'urn:ed-fi:api:bad-request', title: 'Bad Request', detail: "The request could not be processed. See 'errors' for details." },
  missing_token: { type: 'urn:ed-fi:api:security:authentication', title: 'Authentication Failed', detail: 'The caller could not be authenticated.' },
  invalid_token: { type: 'urn:ed-fi:api:security:authentication', title: 'Authentication Failed', detail: 'The caller could not be authenticated.' },
  authorization_denied: { type: 'urn:ed-fi:api:security:authorization', title: 'Authorization Denied' },
  namespace_not_permitted: { type: 'urn:ed-fi:api:security:authorization:namespace:access-denied:namespace-mismatch', title: 'Authorization Denied' },
  not_found: { type: 'urn:ed-fi:api:not-found', title: 'Not Found', detail: 'The specified data could not be found.' },
  method_not_allowed: { type: 'urn:ed-fi:api:method-not-allowed', title: 'Method Not Allowed' },
  unresolved_reference: { type: 'urn:ed-fi:api:data-conflict:unresolved-reference', title: 'Unresolved Reference' },
  dependent_item_exists: { type: 'urn:ed-fi:api:data-conflict:dependent-item-exists', title: 'Dependent Item Exists' },
  optimistic_lock_failed: { type: 'urn:ed-fi:api:optimistic-lock-failed', title: 'Optimistic Lock Failed', detail: 'The item has been modified by another user.' },
  key_change_not_supported: { type: 'urn:ed-fi:api:bad-request:data-validation-failed:key-change-not-supported', title: 'Key Change Not Supported' },
  write_conflict: { type: 'urn:ed-fi:api:conflict:write-conflict', title: 'Conflict' },
  snapshot_not_configured: { type: 'urn:ed-fi:api:not-found', title: 'Not Found' },
  snapshot_read_only: { type: 'urn:ed-fi:api:snapshots:method-not-allowed', title: 'Method Not Allowed with Snapshots' },
  malformed_profile_media_type: invalidProfileUsage,
  profile_usage_mismatch: invalidProfileUsage,
  unknown_profile: invalidProfileUsage,
  invalid_profile: invalidProfileUsage,
  invalid_profile_usage: { type: invalidProfileUsage.type, title: invalidProfileUsage.title },
  profile_method_not_allowed: { type: 'urn:ed-fi:api:profile:method-usage', title: 'Method Not Allowed' },
  profile_required: dataPolicyIncorrectUsage,
  profile_not_assigned: dataPolicyIncorrectUsage,
  profile_not_defined: dataPolicyIncorrectUsage,
  data_policy_enforced: {
    type: 'urn:ed-fi:api:bad-request:data-policy-enforced',
    title: 'Data Policy Enforced',
    detail: 'The data cannot be saved because a data policy has been applied to the request that prevents it.',
  },
  invalid_request: { type: 'urn:ed-fi:api:bad-request', title: 'Bad Request' },
  // The ODS/API answers a natural-key collision as a conflict too.
  identity_conflict: { type: 'urn:ed-fi:api:conflict:write-conflict:natural-key', title: 'Conflict' },
  database_unavailable: { type: 'urn:ed-fi:api:system:database-unavailable', title: 'Service Unavailable' },
  internal_error: { type: 'urn:ed-fi:api:system', title: 'Internal Server Error' },
  // draft-ietf-httpapi-ratelimit-headers §"Quota Exceeded", with its `violated-policies` member.
  rate_limited: { type: 'https://iana.org/assignments/http-problem-types#quota-exceeded', title: 'Too Many Requests' },
  cost_quota_exceeded: { type: 'https://iana.org/assignments/http-problem-types#quota-exceeded', title: 'Too Many Requests' },
};

/** Kept for the OpenAPI document and other readers of the type URNs. */
export const problemTypes: Record<string, string> = Object.fromEntries(Object.entries(odsProblems).map(([code, p]) => [code, p.type]));

const titles: Record<number, string> = {
  400: 'Bad Request',
  401: 'Authentication Failed',
  403: 'Authorization Denied',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** token_info is an Ed-Fi endpoint under /oauth/: its errors are problem details with the APIs' codes, as the ODS/API's are. */
const tokenInfoPath = '/oauth/token_info';

/** The OAuth endpoints that answer RFC 6749 bodies and codes (token, introspection). */
const speaksRfc6749 = (path: string) => path.startsWith('/oauth/') && path !== tokenInfoPath;

/**
 * The database did not answer in time, or is gone: a 503 the client may retry, not a 500. The
 * RFC 6749 endpoints use its code for it (`temporarily_unavailable`), the APIs and token_info their own.
 */
export function databaseUnavailable(path: string): ApiError {
  const code = speaksRfc6749(path) ? 'temporarily_unavailable' : 'database_unavailable';
  return new ApiError(503, code, 'the database does not answer right now; retry shortly', {}, { 'Retry-After': '1' });
}

function toApiError(err: unknown, path: string): ApiError {
  if (err instanceof ApiError) return err;
  if (isDatabaseUnavailable(err)) return databaseUnavailable(path);
  // Koa and its middleware signal client errors with `status` + `expose`.
  const { status, expose, message } = (err ?? {}) as { status?: number; expose?: boolean; message?: string };
  if (status && status < 500 && expose) return new ApiError(status, status === 404 ? 'not_found' : 'bad_request', message);
  return new ApiError(500, 'internal_error', 'something went wrong on our side; quote the request id when reporting it');
}

/**
 * The ODS/API's problem details: its type, title and fixed detail text, the specific reasons in `errors` (beside
 * `validationErrors` for body validation), the client's correlation id, and edgate's stable `error` code.
 */
function problemDetails(error: ApiError, correlationId: string): Record<string, unknown> {
  const ods = odsProblems[error.code];
  const own = error.detail ?? error.code;
  const detail = ods?.detail ?? own;
  const { errors, ...extra } = error.extra as { errors?: string[] };
  return {
    type: ods?.type ?? `urn:ed-fi:api:${error.code.replace(/_/g, '-')}`,
    title: ods?.title ?? titles[error.status] ?? 'Error',
    status: error.status,
    detail,
    correlationId,
    error: error.code,
    ...extra,
    errors: errors ?? (own !== detail ? [own] : []),
  };
}

/** The route template that matched (edgate's router), or the provider path (routes.ts); undefined when none did. */
export function matchedRoute(ctx: Context): string | undefined {
  return (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? (ctx.state.route as string | undefined);
}

/** The contract's three body shapes, chosen by path. */
function render(ctx: Context, error: ApiError): void {
  const requestId = ctx.state.requestId as string;
  ctx.status = error.status;
  for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
  // RFC 6749 bodies for what an OAuth endpoint answers; a path that is no endpoint gets the common 404 below.
  if (speaksRfc6749(ctx.path) && matchedRoute(ctx)) {
    ctx.body = { error: error.code, error_description: error.detail ?? error.code, request_id: requestId };
    return;
  }
  if (ctx.path.startsWith('/data/') || ctx.path === tokenInfoPath) {
    ctx.body = problemDetails(error, (ctx.state.correlationId as string | undefined) ?? requestId);
    ctx.type = 'application/problem+json';
    return;
  }
  ctx.body = { error: error.code, detail: error.detail ?? error.code, ...error.extra, request_id: requestId };
}

/** The one error handler: ApiErrors become contract bodies; anything else is a logged 500. */
export function errorHandler(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.respond !== false && ctx.status === 404 && ctx.body === undefined) {
        throw new ApiError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      const error = toApiError(err, ctx.path);
      // A deliberate 5xx (503 not_configured, rate_limit_unavailable, …) is an expected state, not a bug: one warn
      // line with its code. Only the unexpected (internal_error) is logged as an error, with its stack.
      if (err instanceof ApiError && error.status >= 500) logger.warn({ reqId: ctx.state.requestId, status: error.status, code: error.code }, error.detail ?? error.code);
      else if (error.status === 503) logger.warn({ err: (err as Error).message, reqId: ctx.state.requestId }, 'request refused: a dependency does not answer');
      else if (error.status >= 500) logger.error({ err, reqId: ctx.state.requestId }, 'request failed');
      render(ctx, error);
    }
  };
}
