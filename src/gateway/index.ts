import type { Context, Next } from 'koa';
import type { Logger } from 'pino';

import type { ClientDirectory } from '../clients/directory.js';
import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import type { RedisClient } from '../db/redis.js';
import { ApiError } from '../errors.js';
import type { Metrics } from '../http/metrics.js';
import { routeFor } from '../config/routes.js';
import { costOf, routeCostOf } from './costs.js';
import { authenticationCounter, gatewayCounter } from './metrics.js';
import type { RateLimits } from './rate-limit.js';
import { databaseRevocations, redisRevocations, type Revocations } from './revocation.js';
import type { UsageMeter } from './usage.js';
import { invalidToken, type AccessClaims, type TokenVerifier } from './verifier.js';

/** What the gateway hands to upstream handlers, besides the X-Claim-* headers. */
export interface GatewayState {
  clientId: string;
  tier: string;
  /** The verified claims, for the upstream proxy's signed assertion. */
  claims: AccessClaims;
  /** What this call spent of the day's cost quota. */
  cost: number;
  /** Gives cost back (a call that never reached its upstream) or, negative, charges more. */
  adjustCost(points: number): Promise<void>;
}

/** What the gateway needs of the service. */
export interface GatewayDeps {
  config: Config;
  db: Db;
  logger: Logger;
  metrics: Metrics;
  verifier: TokenVerifier;
  directory: ClientDirectory;
  limits: RateLimits;
  usage: UsageMeter;
  redis?: RedisClient;
}

function revocationsFor({ redis, config, db, logger }: GatewayDeps): Revocations {
  return redis ? redisRevocations(redis, config.redisPrefix, db, logger) : databaseRevocations(db, config.refreshSeconds);
}

/**
 * The gateway in front of /data/ and /stats/, in the contract's order: authenticate (a verified
 * token, a client not revoked), rate-limit by tier, then forward the approved schools as
 * X-Claim-Schools. Client-supplied X-Claim-* headers were already dropped by requestContext.
 */
export function gateway(services: GatewayDeps) {
  const { verifier, metrics, directory, config } = services;
  const revocations = revocationsFor(services);
  const { limits, usage } = services;
  const outcomes = gatewayCounter(metrics.registry);
  const authentications = authenticationCounter(metrics.registry);

  const authenticate = async (ctx: Context): Promise<AccessClaims> => {
    try {
      return await verifier.verifyAuthorization(ctx.get('authorization') || undefined);
    } catch (err) {
      authentications.inc({ result: err instanceof ApiError ? err.code : 'invalid_token' });
      throw err;
    }
  };

  return async (ctx: Context, next: Next): Promise<void> => {
    // The synchronous answers first: a cache hit and a fresh revocation list cost no promise.
    const claims = verifier.alreadyVerified(ctx.get('authorization')) ?? (await authenticate(ctx));
    ctx.state.clientId = claims.clientId;
    ctx.state.tier = claims.tier;
    // A validly signed token for a client this server does not know (deleted, or another deployment's
    // id under a shared key) is refused here, for every guarded route alike.
    if (!(directory.knownToExist(claims.clientId) ?? (await directory.find(claims.clientId)) !== undefined)) {
      authentications.inc({ result: 'unknown_client' });
      throw invalidToken('the token names a client this server does not know');
    }
    // Checked before the limits, so a revoked client spends no quota.
    if (revocations.knownRevoked(claims.clientId) ?? (await revocations.isRevoked(claims.clientId))) {
      outcomes.inc({ tier: claims.tier, outcome: 'revoked' });
      throw invalidToken('the client behind this token is disabled');
    }
    const route = routeFor(config.routes, ctx.path);
    const cost = route ? routeCostOf(route, ctx.method, ctx.path) : costOf(ctx.method, ctx.path);
    const admission = await limits.admit(claims.clientId, claims.tier, cost);
    outcomes.inc({ tier: claims.tier, outcome: admission.outcome });
    // The portal's usage picture: admitted calls and 429s, counted synchronously in memory.
    if (admission.outcome !== 'unavailable') usage.record(claims.clientId, admission.outcome === 'admitted');
    ctx.set(admission.headers);
    if (admission.refusal) throw admission.refusal;
    ctx.req.headers['x-claim-schools'] = claims.schools.join(',');
    ctx.req.headers['x-claim-client-id'] = claims.clientId;
    ctx.req.headers['x-claim-tier'] = claims.tier;
    if (route) {
      ctx.state.claims = claims;
      ctx.state.cost = cost;
      ctx.state.adjustCost = async (points: number) => {
        await limits.adjustCost(claims.clientId, claims.tier, points);
        // A give-back before the answer (502, 503) shows in its RateLimit header; an upstream's own cost report
        // comes after the headers are sent, so the next call shows it.
        if (points > 0 && !ctx.headerSent && admission.givenBack) ctx.set(admission.givenBack(points));
      };
    }
    await next();
  };
}

/** The schools an upstream handler may serve: what the gateway forwarded, nothing else. */
export function approvedSchools(ctx: Context): string[] {
  const header = ctx.get('x-claim-schools');
  return header ? header.split(',') : [];
}
