import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

import { isDatabaseUnavailable } from '../db/driver-errors.js';
import { ApiError, problemOf } from '../errors.js';

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
  return new ApiError(code, 'the database does not answer right now; retry shortly', {}, { 'Retry-After': '1' });
}

function toApiError(err: unknown, path: string): ApiError {
  if (err instanceof ApiError) return err;
  if (isDatabaseUnavailable(err)) return databaseUnavailable(path);
  // Koa and its middleware signal client errors with `status` + `expose`.
  const { status, expose, message } = (err ?? {}) as { status?: number; expose?: boolean; message?: string };
  if (status && status < 500 && expose) return new ApiError(status === 404 ? 'not_found' : 'bad_request', message);
  return new ApiError('internal_error', 'something went wrong on our side; quote the request id when reporting it');
}

/**
 * The ODS/API's problem details: the catalogue's type, title and fixed detail text, the specific reasons in `errors` (beside
 * `validationErrors` for body validation), the client's correlation id, and edgate's stable `error` code.
 */
function problemDetails(error: ApiError, correlationId: string): Record<string, unknown> {
  const problem = problemOf(error.code, error.status, error.variant);
  const own = error.detail ?? error.code;
  const detail = problem.detail ?? own;
  const { errors, ...extra } = error.extra as { errors?: string[] };
  return {
    type: problem.type,
    title: problem.title,
    status: error.status,
    detail,
    correlationId,
    error: error.code,
    ...extra,
    // As the ODS/API: `errors` holds reasons beyond the detail, and is left out when there are none (its suites check
    // that an ownership or namespace refusal, whose detail is the whole reason, carries no `errors`).
    ...(errors ? { errors } : own !== detail ? { errors: [own] } : {}),
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
        throw new ApiError('not_found', `no route for ${ctx.method} ${ctx.path}`);
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
