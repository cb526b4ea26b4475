import type Router from '@koa/router';

import { databaseAnswers, type Db } from '../db/knex.js';
import type { Metrics } from './metrics.js';

/** Liveness, readiness and Prometheus metrics: not API calls, so not behind the gateway. */
export function systemRoutes(router: Router, { db, metrics }: { db: Db; metrics: Metrics }): void {
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    const ready = await databaseAnswers(db);
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? { status: 'ready' } : { error: 'not_ready', detail: 'the database does not answer', request_id: ctx.state.requestId };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
}
