import type { Context, Next } from 'koa';

import { ApiError } from '../errors.js';
import { readParams } from '../http/body.js';

/**
 * Brings a token request to the one shape oidc-provider accepts: it reads form or JSON bodies,
 * maps Auth0-style `audience` onto RFC 8707 `resource`, and refuses grants other than
 * client_credentials and authorization_code with `unsupported_grant_type` (oidc-provider would call some of them
 * `unauthorized_client`). The parsed body is handed over on `req.body`, which oidc-provider reads
 * when an upstream parser has consumed the stream.
 */
export async function normaliseTokenRequest(ctx: Context, next: Next): Promise<void> {
  const params = await readParams(ctx);
  ctx.state.clientId = presentedClientId(ctx, params);
  if (!params.grant_type) throw new ApiError(400, 'invalid_request', 'grant_type is required');
  // authorization_code is the portal's sign-in; oidc-provider refuses it to clients not registered for it.
  if (params.grant_type !== 'client_credentials' && params.grant_type !== 'authorization_code') {
    throw new ApiError(400, 'unsupported_grant_type', 'only grant_type=client_credentials is supported (and authorization_code for the developer portal)');
  }
  if (params.audience !== undefined) {
    if (params.resource !== undefined && params.resource !== params.audience) {
      throw new ApiError(400, 'invalid_target', 'audience and resource name different APIs');
    }
    params.resource = params.audience;
    delete params.audience;
  }
  (ctx.req as typeof ctx.req & { body?: unknown }).body = params;
  ctx.req.headers['content-type'] = 'application/x-www-form-urlencoded';
  await next();
}

/** Client ids are alphanumeric; anything else presented as one is not worth a log field (nor a place to hide a secret). */
const plausibleClientId = /^[A-Za-z0-9]{1,64}$/;

/**
 * The client id the request presents (HTTP Basic or the body), for the access log: only the part
 * before the colon of the Basic credentials is decoded, so the secret never reaches a variable that is logged.
 */
function presentedClientId(ctx: Context, params: Record<string, string>): string | undefined {
  const basic = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(ctx.get('authorization'))?.[1];
  let id: string | undefined = params.client_id;
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    id = colon >= 0 ? safeDecode(decoded.slice(0, colon)) : undefined;
  }
  return id !== undefined && plausibleClientId.test(id) ? id : undefined;
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}
