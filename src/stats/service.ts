import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';

import type { Db } from '../db/knex.js';
import { requireAssertion, type AssertionCheck } from '../gateway/assertion.js';
import { errorHandler } from '../http/error-response.js';
import { createMetrics } from '../http/metrics.js';
import { requestContext } from '../http/request-context.js';
import { statsRoutes } from './routes.js';

export interface StatsServiceOptions {
  db: Db;
  logger: Logger;
  /** Whose assertions to accept: the gateway's issuer, this route's audience, its keys. */
  assertion: AssertionCheck;
  host: string;
  port: number;
}

export interface RunningStatsService {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * The attendance statistics as a service of their own, run behind edgate's gateway
 * (`edgate serve stats`): the same handlers as in-process, but the school claims come from the
 * gateway's signed assertion, never from headers, so a caller who reaches this port directly gets
 * nothing.
 */
export function statsApp({ db, logger, assertion }: Pick<StatsServiceOptions, 'db' | 'logger' | 'assertion'>): Koa {
  const app = new Koa();
  const metrics = createMetrics();
  app.use(requestContext(logger, metrics));
  app.use(errorHandler(logger));
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  const guard = requireAssertion(assertion);
  app.use(async (ctx, next) => (ctx.path.startsWith('/stats/') ? guard(ctx, next) : next()));
  statsRoutes(router, { db });
  app.use(router.routes());
  return app;
}

export async function startStatsService(options: StatsServiceOptions): Promise<RunningStatsService> {
  const server = createServer(statsApp(options).callback());
  // Longer than the gateway's pooled connections stay idle, so the gateway closes them first.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), 5000);
      await closed;
      clearTimeout(grace);
    },
  };
}
