import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';

import type { Db } from '../db/knex.js';
import { requireAssertion, type AssertionCheck } from '../gateway/assertion.js';
import { errorHandler } from '../http/error-response.js';
import { listen, type Listening } from '../http/listen.js';
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

export type RunningStatsService = Listening;

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
  return listen(statsApp(options).callback(), options);
}
