import type Router from '@koa/router';

import { databaseAnswers, type Db } from '../db/knex.js';
import { redisAnswers, type RedisClient } from '../db/redis.js';
import type { Metrics } from './metrics.js';

/** Liveness, readiness and Prometheus metrics: not API calls, so not behind the gateway. */
interface SystemDeps {
  db: Db;
  redis?: RedisClient;
  metrics: Metrics;
  lifecycle: { draining: boolean };
}

/** Why this instance cannot serve calls now, checked within 1 s; undefined when it can. */
async function notReadyBecause({ db, redis }: SystemDeps): Promise<string | undefined> {
  // Orchestrators probe with short timeouts of their own; both checks run at once.
  const [database, shared] = await Promise.all([databaseAnswers(db, 1000), redis ? redisAnswers(redis, 1000) : true]);
  if (!database) return 'the database does not answer';
  if (!shared) return 'Redis does not answer';
  return undefined;
}

export function systemRoutes(router: Router, deps: SystemDeps): void {
  const { metrics, lifecycle } = deps;
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
    const reason = await notReadyBecause(deps);
    ctx.status = reason ? 503 : 200;
    ctx.body = reason ? { error: 'not_ready', detail: reason, request_id: ctx.state.requestId } : { status: 'ready' };
  });
  router.get('/metrics', async (ctx) => {
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });
}
