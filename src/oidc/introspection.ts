import type Router from '@koa/router';
import type { Context } from 'koa';

import type { Config } from '../config/index.js';
import { ApiError } from '../errors.js';
import type { TokenVerifier } from '../gateway/verifier.js';
import { readParams } from '../http/body.js';
import { secretMatches } from '../secret-hash.js';
import { introspectionPath } from './paths.js';
import type { ClientDirectory } from '../clients/directory.js';

export interface IntrospectionDeps {
  config: Config;
  hashKey: Buffer;
  verifier: TokenVerifier;
  directory: ClientDirectory;
}

function invalidClient(basic: boolean): ApiError {
  // RFC 6749 §5.2: a client that tried HTTP Basic gets the Basic challenge back.
  return new ApiError('invalid_client', 'client authentication failed', {}, basic ? { 'WWW-Authenticate': 'Basic realm="edgate"' } : {});
}

/** HTTP Basic (RFC 6749 §2.3.1, form-encoded id and secret) or client_id + client_secret in the body. */
function presentedCredentials(ctx: Context, params: Record<string, string>): { id?: string; secret?: string; basic: boolean } {
  const basic = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(ctx.get('authorization'));
  if (!basic) return { id: params.client_id, secret: params.client_secret, basic: false };
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { basic: true };
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)), basic: true };
  } catch {
    return { basic: true };
  }
}

/** The caller must be an enabled client: RFC 7662 §2.1 asks for authorisation, and scanners get nothing. */
async function authenticateCaller(ctx: Context, params: Record<string, string>, { directory, hashKey }: IntrospectionDeps): Promise<void> {
  const { id, secret, basic } = presentedCredentials(ctx, params);
  if (!id || !secret) throw invalidClient(basic);
  const caller = await directory.find(id);
  if (!caller || caller.disabled || !secretMatches(hashKey, secret, caller.secretHash)) throw invalidClient(basic);
}

/** What RFC 7662 lets the answer be for anything that is not a live token of an enabled client. */
const inactive = { active: false };

/**
 * POST /oauth/introspect — RFC 7662 for edgate's JWT access tokens. oidc-provider's own endpoint
 * refuses structured tokens, and a resource server can check a JWT's signature itself; what it
 * cannot see is whether the client has been disabled since, which is what this answers: the token
 * is verified exactly as the gateway does, and a disabled client's tokens are `active: false`.
 * Any enabled client may introspect any token: the JWT's claims are readable by whoever holds it.
 */
export function introspectionRoutes(router: Router, deps: IntrospectionDeps): void {
  router.post(introspectionPath, async (ctx) => {
    const params = await readParams(ctx);
    await authenticateCaller(ctx, params, deps);
    if (!params.token) throw new ApiError('invalid_request', 'send the token to introspect as `token`');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = await describeToken(params.token, deps);
  });
}

async function describeToken(token: string, { config, verifier, directory }: IntrospectionDeps): Promise<Record<string, unknown>> {
  let claims;
  try {
    claims = await verifier.verify(token);
  } catch (err) {
    // A token that does not verify is simply not active; anything else (keys unreachable) is a real failure.
    if (err instanceof ApiError && err.status === 401) return inactive;
    throw err;
  }
  const owner = await directory.find(claims.clientId);
  if (!owner || owner.disabled) return inactive;
  return {
    active: true,
    client_id: claims.clientId,
    sub: claims.clientId,
    token_type: 'Bearer',
    iss: config.publicUrl,
    aud: config.audience,
    iat: claims.iat,
    exp: claims.exp,
    jti: claims.jti,
    tier: claims.tier,
    schools: claims.schools,
  };
}
