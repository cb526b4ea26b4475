import type { Context, Next } from 'koa';

import type { Services } from '../http/services.js';
import { bearerToken, invalidToken } from './verifier.js';

/** What the gateway hands to upstream handlers, besides the X-Claim-* headers. */
export interface GatewayState {
  clientId: string;
  tier: string;
}

/**
 * The gateway in front of /data/ and /stats/: authenticate, then forward the approved schools as
 * X-Claim-Schools. Client-supplied X-Claim-* headers were already dropped by requestContext.
 */
export function gateway(services: Services) {
  const { verifier, directory } = services;
  return async (ctx: Context, next: Next): Promise<void> => {
    const claims = await verifier.verify(bearerToken(ctx.get('authorization') || undefined));
    const client = await directory.find(claims.clientId);
    if (!client || client.disabled) throw invalidToken('the client behind this token is disabled');
    ctx.state.clientId = claims.clientId;
    ctx.state.tier = claims.tier;
    ctx.req.headers['x-claim-schools'] = claims.schools.join(',');
    ctx.req.headers['x-claim-client-id'] = claims.clientId;
    await next();
  };
}

/** The schools an upstream handler may serve: what the gateway forwarded, nothing else. */
export function approvedSchools(ctx: Context): string[] {
  const header = ctx.get('x-claim-schools');
  return header ? header.split(',') : [];
}
