import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

import { isDatabaseUnavailable } from '../db/errors.js';
import { ApiError } from '../errors.js';

/** Ed-Fi problem `type` URNs for the codes the ODS/API names; others get `urn:ed-fi:api:<code>`. */
export const problemTypes: Record<string, string> = {
  bad_request: 'urn:ed-fi:api:bad-request',
  data_validation_failed: 'urn:ed-fi:api:bad-request:data-validation-failed',
  invalid_json: 'urn:ed-fi:api:bad-request',
  missing_token: 'urn:ed-fi:api:security:authentication',
  invalid_token: 'urn:ed-fi:api:security:authentication',
  authorization_denied: 'urn:ed-fi:api:security:authorization',
  not_found: 'urn:ed-fi:api:not-found',
  method_not_allowed: 'urn:ed-fi:api:method-not-allowed',
  unresolved_reference: 'urn:ed-fi:api:conflict:unresolved-reference',
  dependent_item_exists: 'urn:ed-fi:api:conflict:dependent-item-exists',
  optimistic_lock_failed: 'urn:ed-fi:api:optimistic-lock-failed',
  key_change_not_supported: 'urn:ed-fi:api:bad-request:data-validation-failed:key-change-not-supported',
  namespace_not_permitted: 'urn:ed-fi:api:security:authorization:namespace:access-denied:namespace-mismatch',
  write_conflict: 'urn:ed-fi:api:conflict:write-conflict',
  database_unavailable: 'urn:ed-fi:api:system:database-unavailable',
  internal_error: 'urn:ed-fi:api:system',
  // draft-ietf-httpapi-ratelimit-headers §"Quota Exceeded", with its `violated-policies` member.
  rate_limited: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
  cost_quota_exceeded: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
};

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

/**
 * The database did not answer in time: a 503 the client may retry, not a 500. The token endpoints
 * use RFC 6749's code for it (`temporarily_unavailable`), the APIs their own.
 */
export function databaseUnavailable(path: string): ApiError {
  const code = path.startsWith('/oauth/') ? 'temporarily_unavailable' : 'database_unavailable';
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
  if (ctx.path.startsWith('/oauth/') && matchedRoute(ctx)) {
    ctx.body = { error: error.code, error_description: error.detail ?? error.code, request_id: requestId };
    return;
  }
  if (ctx.path.startsWith('/data/')) {
    ctx.body = {
      type: problemTypes[error.code] ?? `urn:ed-fi:api:${error.code.replace(/_/g, '-')}`,
      title: titles[error.status] ?? 'Error',
      status: error.status,
      detail: error.detail ?? error.code,
      correlationId: requestId,
      error: error.code,
      ...error.extra,
    };
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
