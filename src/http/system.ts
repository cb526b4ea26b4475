import type Router from '@koa/router';

import { databaseAnswers, type Db } from '../db/knex.js';
import type { Metrics } from './metrics.js';

/** Liveness, readiness and Prometheus metrics: not API calls, so not behind the gateway. */
export function systemRoutes(router: Router, { db, metrics, lifecycle }: { db: Db; metrics: Metrics; lifecycle: { draining: boolean } }): void {
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/ready', async (ctx) => {
    if (lifecycle.draining) {
      // Still serving, but on its way out: the balancer's health check takes it out of rotation.
      ctx.status = 503;
      ctx.body = { error: 'not_ready', detail: 'this instance is shutting down (draining)', request_id: ctx.state.requestId };
      return;
    }
    // Within 1 s whatever the database does: orchestrators probe with short timeouts of their own.
    const ready = await databaseAnswers(db, 1000);
    ctx.status = ready ? 200 : 503;
    ctx.body = ready ? { status: 'ready' } : { error: 'not_ready', detail: 'the database does not answer', request_id: ctx.state.requestId };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
}
