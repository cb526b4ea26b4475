import type { IncomingMessage } from 'node:http';
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
  refuseUnusableAuthorization(ctx.get('authorization'));
  const params = await readParams(ctx);
  ctx.state.clientId = presentedClientId(ctx, params);
  if (!params.grant_type) throw new ApiError('invalid_request', 'grant_type is required');
  // authorization_code is the portal's sign-in; oidc-provider refuses it to clients not registered for it.
  if (params.grant_type !== 'client_credentials' && params.grant_type !== 'authorization_code') {
    throw new ApiError('unsupported_grant_type', 'only grant_type=client_credentials is supported (and authorization_code for the developer portal)');
  }
  if (params.audience !== undefined) {
    if (params.resource !== undefined && params.resource !== params.audience) {
      throw new ApiError('invalid_target', 'audience and resource name different APIs');
    }
    params.resource = params.audience;
    delete params.audience;
  }
  const scope = params.scope;
  if (scope !== undefined) {
    // An Ed-Fi scope is an ed-org id; oidc-provider knows no such scope, so edgate takes it over (see edorgScopeOf).
    if (!/^\d{1,18}$/.test(scope.trim())) {
      throw new ApiError('invalid_scope', "The supplied 'scope' was not a number (it should be an EducationOrganizationId that is explicitly associated with the client).");
    }
    (ctx.req as ScopedRequest)[edorgScopeKey] = Number(scope.trim());
    delete params.scope;
  }
  (ctx.req as typeof ctx.req & { body?: unknown }).body = params;
  ctx.req.headers['content-type'] = 'application/x-www-form-urlencoded';
  await next();
  // The ODS/API echoes the granted scope.
  if (scope !== undefined && ctx.status === 200 && ctx.body && typeof ctx.body === 'object') (ctx.body as Record<string, unknown>).scope = scope.trim();
}

const edorgScopeKey = Symbol('edorgScope');
type ScopedRequest = IncomingMessage & { [edorgScopeKey]?: number };

/** The ed-org a token request narrowed itself to with `scope=<id>`, if any. */
export function edorgScopeOf(req: IncomingMessage): number | undefined {
  return (req as ScopedRequest)[edorgScopeKey];
}

/**
 * Client authentication the ODS/API refuses before looking at credentials: another scheme than Basic is
 * `401 invalid_client`, and Basic with an empty key or secret is `401 invalid_request`. A Basic value that is not
 * one base64 token is left to oidc-provider (`400 invalid_request`).
 */
function refuseUnusableAuthorization(header: string): void {
  if (!header) return;
  const [scheme, ...rest] = header.trim().split(/\s+/);
  if (scheme.toLowerCase() !== 'basic') throw new ApiError('invalid_client', 'client authentication must use the Basic scheme (or client_id and client_secret in the body)');
  if (rest.length !== 1) return;
  const decoded = Buffer.from(rest[0], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon >= 0 && (colon === 0 || colon === decoded.length - 1)) {
    throw new ApiError('invalid_request', 'the Basic credentials have an empty client id or secret', {}, {}, 401);
  }
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
