import type { IncomingMessage, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';

import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import { isDatabaseUnavailable } from '../db/driver-errors.js';
import { ApiError } from '../errors.js';
import { databaseUnavailable } from '../http/error-response.js';
import type { TokenVerifier } from '../gateway/verifier.js';
import { tokenClaims } from './claims.js';
import type { ClientDirectory } from '../clients/directory.js';
import type { Keyring } from '../keys/keyring.js';
import { oauthMetadataPath, openIdMetadataPath, servedMetadata } from './discovery.js';
import { introspectionRoutes } from './introspection.js';
import { tokenPath } from './paths.js';
import { buildProvider, type FirstPartyClient } from './provider.js';
import { normaliseTokenRequest } from './token-request.js';
import { tokenInfoRoutes } from './token-info.js';

export interface OAuthDeps {
  config: Config;
  db: Db;
  logger: Logger;
  hashKey: Buffer;
  keyring: Keyring;
  directory: ClientDirectory;
  verifier: TokenVerifier;
  /** The Ed-Fi resources served, listed by token_info. */
  resources?: Array<{ name: string; project?: string; isDescriptor?: boolean }>;
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * The paths oidc-provider answers, and the methods each accepts; everything else it would mount
 * (PAR, userinfo, …) stays unreachable, and discovery advertises only these (discovery.ts).
 */
const providerRoutes: Record<string, string[]> = {
  [tokenPath]: ['POST'],
  [openIdMetadataPath]: ['GET'],
  [oauthMetadataPath]: ['GET'],
  '/.well-known/jwks.json': ['GET'],
  // The portal's sign-in (authorization code + PKCE) and sign-out (RP-initiated logout): the methods it uses.
  '/oauth/authorize': ['GET'],
  '/oauth/session/end': ['GET'],
  '/oauth/session/end/confirm': ['POST'],
  '/oauth/session/end/success': ['GET'],
};

/** Where the provider resumes an authorization after its interaction: `/oauth/authorize/<uid>`. */
const resumePath = /^\/oauth\/authorize\/[A-Za-z0-9_-]{1,64}$/;

function routeOf(path: string): string | undefined {
  if (Object.hasOwn(providerRoutes, path)) return path;
  return resumePath.test(path) ? '/oauth/authorize/:uid' : undefined;
}

const methodsOf = (route: string) => providerRoutes[route] ?? ['GET'];

export function isProviderPath(url: string | undefined): boolean {
  return routeOf((url ?? '').split('?')[0]) !== undefined;
}

/** oidc-provider renders its own errors (RFC 6749 bodies); they carry the request id like edgate's. */
async function withRequestId(ctx: Context, next: Next): Promise<void> {
  await next();
  const body = ctx.body as Record<string, unknown> | undefined;
  if (ctx.status >= 400 && body && typeof body === 'object' && typeof body.error === 'string' && !body.request_id) {
    ctx.body = { ...body, request_id: ctx.state.requestId };
  }
}

async function onlyProviderRoutes(ctx: Context, next: Next): Promise<void> {
  const route = routeOf(ctx.path);
  if (!route) throw new ApiError('not_found', `no route for ${ctx.method} ${ctx.path}`);
  const methods = methodsOf(route);
  if (!methods.includes(ctx.method) && !(methods.includes('GET') && ctx.method === 'HEAD')) {
    throw new ApiError('method_not_allowed', `${ctx.path} accepts ${methods.join(', ')} only`);
  }
  ctx.state.route = route;
  if (ctx.path === tokenPath) return normaliseTokenRequest(ctx, next);
  if (ctx.path === openIdMetadataPath || ctx.path === oauthMetadataPath) return servedMetadata(ctx, next);
  await next();
}

/** A token request that failed because the database hung or is down: RFC 6749 temporarily_unavailable, 503, Retry-After. */
async function unavailableAsRetryable(ctx: Context, next: Next): Promise<void> {
  await next();
  if (ctx.state.databaseUnavailable) throw databaseUnavailable(ctx.path);
}

/** Replaces `from` with `to` at the start of every string in a JSON value (discovery's URLs). */
function rebased(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') return value === from || value.startsWith(`${from}/`) ? to + value.slice(from.length) : value;
  if (Array.isArray(value)) return value.map((item) => rebased(item, from, to));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rebased(v, from, to)]));
  return value;
}

/**
 * oidc-provider builds the URLs it advertises from the request's Host; a forged Host would be
 * reflected into discovery (and into any cache in front of it). The provider is handed the public
 * host, and every advertised URL is rebased onto PUBLIC_URL's origin, so the scheme is right
 * behind a TLS-terminating proxy too. Discovery is then the same for every request: cacheable.
 */
export function advertiseFromPublicUrl(publicUrl: string): Middleware {
  const advertised = new URL(publicUrl);
  return async (ctx, next) => {
    ctx.req.headers.host = advertised.host;
    await next();
    if (ctx.path === '/.well-known/openid-configuration' && ctx.status === 200) {
      ctx.body = rebased(ctx.body, ctx.origin, advertised.origin);
      ctx.set('Cache-Control', 'public, max-age=300');
    }
  };
}

/**
 * The token endpoint, discovery and JWKS are served by oidc-provider's own Koa app, with edgate's
 * request context, error handler and body normalisation mounted through `provider.use` (its
 * documented pre-middleware hook) — not behind a second Koa app: issuing a token costs well under a
 * millisecond, and a second context and middleware chain per request would cost a fifth of it.
 *
 * The provider is rebuilt when the keyring changes (oidc-provider's keystore is fixed per
 * instance), so a rotation done by the CLI or another instance needs no restart.
 */
export interface ProviderHandle {
  listener: RequestListener;
  /** The provider of the current keyring: interaction routes call its interactionDetails/Finished. */
  current(): Provider;
}

export function providerListener(deps: OAuthDeps, preMiddleware: Middleware[], firstParty?: FirstPartyClient): ProviderHandle {
  const claimsFor = tokenClaims(deps.directory, deps.db);
  const build = () => {
    const provider = buildProvider({ ...deps, keys: deps.keyring.current, claimsFor, firstParty });
    for (const middleware of [...preMiddleware, withRequestId, unavailableAsRetryable, advertiseFromPublicUrl(deps.config.publicUrl), onlyProviderRoutes]) provider.use(middleware);
    provider.on('server_error', (ctx: Context, err: Error) => {
      // oidc-provider renders every unexpected error as 500 server_error itself; a database that
      // does not answer is marked here and answered as 503 by unavailableAsRetryable.
      if (isDatabaseUnavailable(err)) ctx.state.databaseUnavailable = true;
      else deps.logger.error({ err }, 'oidc-provider server error');
    });
    return { provider, listener: provider.callback() as RequestListener };
  };
  let built = build();
  deps.keyring.onChange(() => {
    built = build();
  });
  return { listener: (req, res) => built.listener(req, res), current: () => built.provider };
}

/** Edgate's own OAuth routes: Ed-Fi's token_info and RFC 7662 introspection. */
export function oauthRoutes(router: Router, deps: OAuthDeps): void {
  tokenInfoRoutes(router, deps);
  introspectionRoutes(router, deps);
}
