import type Router from '@koa/router';
import type { Context } from 'koa';

import { ApiError } from '../errors.js';
import { readJsonBody } from '../http/body.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import type { RedisClient } from '../db/redis.js';
import type { EdfiModel } from '../edfi/model/index.js';
import { sisRateLimiter } from './rate-limit.js';
import { enforceReach } from './reach.js';
import { validateBatch } from './roster.js';
import { institutionForSecret } from './institution-secrets.js';
import { checkRosterDescriptors, syncRoster } from './upsert.js';

/** Where institutions push their rosters; the OpenAPI description (openapi.ts) is keyed by it. */
export const sisSyncPath = '/api/sis/sync';

function presentedSecret(ctx: Context): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(ctx.get('authorization'))?.[1];
}

/** The institution whose secret the request carries; fails closed. */
/** What SIS sync needs of the service. */
export interface SisDeps {
  db: Db;
  hashKey: Buffer;
  config: Config;
  model: EdfiModel;
  redis?: RedisClient;
}

async function authenticate(ctx: Context, { db, hashKey }: SisDeps): Promise<number> {
  const check = await institutionForSecret(db, hashKey, presentedSecret(ctx));
  if (check.status === 'ok') return check.institution;
  if (check.status === 'none_issued') {
    throw new ApiError('not_configured', 'SIS sync is not configured: no institution has a SIS secret yet (edgate sis issue-secret --edorg N)');
  }
  throw new ApiError('unauthorized', 'send Authorization: Bearer <institution SIS secret>; the one presented is missing, revoked or wrong', {}, {
    'WWW-Authenticate': 'Bearer realm="edgate-sis-sync"',
  });
}

/**
 * POST /api/sis/sync (contract section 7). Not behind the OAuth gateway: the institution's own
 * bearer secret authenticates it. Order: who (401/503), how often (429), what (400/413), where (403), write.
 */
export function sisRoutes(router: Router, services: SisDeps): void {
  const limiter = sisRateLimiter(services);
  router.post(sisSyncPath, async (ctx) => {
    const institution = await authenticate(ctx, services);
    ctx.state.clientId = `sis:${institution}`;
    await limiter.admit(institution);
    const records = validateBatch(await readJsonBody(ctx), services.config.sisSync.maxBatch, services.model);
    await enforceReach(services.db, institution, records);
    await checkRosterDescriptors(services.db, services.model, records);
    ctx.body = await syncRoster(services.db, services.model, records);
  });
}
