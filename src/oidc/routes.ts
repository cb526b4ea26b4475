import type { IncomingMessage, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type Provider from 'oidc-provider';
import type { Context, Middleware, Next } from 'koa';
import type { Logger } from 'pino';

import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import { ApiError } from '../errors.js';
import type { TokenVerifier } from '../gateway/verifier.js';
import { tokenClaims } from './claims.js';
import type { ClientDirectory } from './client-directory.js';
import type { Keyring } from './keyring.js';
import { oauthMetadataPath, openIdMetadataPath, servedMetadata } from './discovery.js';
import { introspectionRoutes } from './introspection.js';
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
}

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * The paths oidc-provider answers, and the methods each accepts; everything else it would mount
 * (PAR, userinfo, …) stays unreachable, and discovery advertises only these (discovery.ts).
 */
const providerRoutes: Record<string, string[]> = {
  '/oauth/token': ['POST'],
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
  if (!route) throw new ApiError(404, 'not_found', `no route for ${ctx.method} ${ctx.path}`);
  const methods = methodsOf(route);
  if (!methods.includes(ctx.method) && !(methods.includes('GET') && ctx.method === 'HEAD')) {
    throw new ApiError(405, 'method_not_allowed', `${ctx.path} accepts ${methods.join(', ')} only`);
  }
  ctx.state.route = route;
  if (ctx.path === '/oauth/token') return normaliseTokenRequest(ctx, next);
  if (ctx.path === openIdMetadataPath || ctx.path === oauthMetadataPath) return servedMetadata(ctx, next);
  await next();
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
  const claimsFor = tokenClaims(deps.directory);
  const build = () => {
    const provider = buildProvider({ ...deps, keys: deps.keyring.current, claimsFor, firstParty });
    for (const middleware of [...preMiddleware, withRequestId, onlyProviderRoutes]) provider.use(middleware);
    provider.on('server_error', (_ctx: unknown, err: Error) => deps.logger.error({ err }, 'oidc-provider server error'));
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
