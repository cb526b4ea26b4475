import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

import type { Metrics } from './metrics.js';

const saneRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The client's correlation id, as the ODS/API takes it: the `correlation-id` header, else the `correlationId` query
 * parameter (any case). Error bodies under /data/ echo it so a client can match a failure to its request.
 */
function correlationIdOf(ctx: Context): string | undefined {
  const fromQuery = Object.entries(ctx.query).find(([name]) => name.toLowerCase() === 'correlationid')?.[1];
  // The header wins over the query parameter, as in the ODS/API.
  const offered = ctx.get('correlation-id') || (Array.isArray(fromQuery) ? fromQuery[0] : fromQuery);
  return offered && saneRequestId.test(offered) ? offered : undefined;
}

/**
 * First middleware of every request: it assigns the request id, drops client-supplied X-Claim-*
 * headers before anything can read them (only the gateway sets those), and records the access log
 * line and metrics once the response is finished — including responses oidc-provider writes itself.
 */
export function requestContext(logger: Logger, metrics: Metrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = process.hrtime.bigint();
    const offered = ctx.get('x-request-id');
    const requestId = saneRequestId.test(offered) ? offered : randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.correlationId = correlationIdOf(ctx) ?? requestId;
    ctx.set('X-Request-Id', requestId);
    for (const name of Object.keys(ctx.req.headers)) {
      if (name.startsWith('x-claim-')) delete ctx.req.headers[name];
    }
    ctx.res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? ctx.state.route ?? 'unmatched';
      const status = ctx.res.statusCode;
      metrics.requests.inc({ method: ctx.method, route: String(route), status: String(status) });
      metrics.duration.observe({ method: ctx.method, route: String(route) }, seconds);
      // Path only: query strings and headers may carry credentials, and bodies are never logged.
      logger.info({ reqId: requestId, method: ctx.method, path: ctx.path, status, ms: Math.round(seconds * 1e4) / 10, client: ctx.state.clientId }, 'request');
    });
    await next();
  };
}
