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
