import Router from '@koa/router';
import Koa, { type Middleware } from 'koa';

import { discoveryRoutes } from '../edfi/discovery.js';
import { openApiRoutes } from '../edfi/openapi.js';
import { profilePolicy } from '../edfi/profiles/profile-policy.js';
import { profileMediaTypes } from '../edfi/profiles/registry.js';
import { changeVersionRoutes } from '../edfi/change-queries.js';
import { edfiRoutes } from '../edfi/routes.js';
import { dataRoot } from '../edfi/paths.js';
import { routeFor } from '../config/routes.js';
import { gateway } from '../gateway/index.js';
import { upstreamProxy } from '../gateway/upstream.js';
import { isProviderPath, oauthRoutes, providerListener, type RequestListener } from '../oidc/routes.js';
import { portalCookies, type PortalDeps } from '../portal/context.js';
import { LoginLimits } from '../portal/login-limits.js';
import { portalAsClient, portalPages, portalRoutes } from '../portal/routes.js';
import { databaseSessions, redisSessions } from '../portal/sessions.js';
import { sisRoutes } from '../sis/routes.js';
import { statsRoutes } from '../stats/routes.js';
import { bodyLimitBytes, payloadTooLarge } from '../http/body.js';
import { errorHandler } from '../http/error-response.js';
import { methodRefusals, refuseHeadAndOptions } from '../http/methods.js';
import { requestContext } from '../http/request-context.js';
import { apiDescriptions, serviceInfo } from './openapi.js';
import type { Services } from './services.js';
import { systemRoutes } from '../http/system.js';

type RouteModule = (router: Router, services: Services) => void;

/** Routes that are not API calls: no gateway in front. SIS sync authenticates with its own institution secret. */
const openRoutes: RouteModule[] = [
  systemRoutes,
  (router, services) => oauthRoutes(router, { ...services, resources: services.model.resources }),
  sisRoutes,
  (router, services) => openApiRoutes(services.model, profileMediaTypes(services.profiles), apiDescriptions(services), serviceInfo)(router, services),
  (router, services) => discoveryRoutes(services.model, profileMediaTypes(services.profiles))(router, services),
];

/** API routes: every one of them sits behind the gateway (authentication, limits, school claims). */
const guardedRoutes: RouteModule[] = [
  statsRoutes,
  (router, services) => changeVersionRoutes(router, services.db, services.model),
  (router, services) => edfiRoutes(services.model, profilePolicy(services.profiles))(router, services),
];

/**
 * Routes match paths case-sensitively (`/DATA/` is not `/data/`), and the gateway is middleware of
 * the API routes' own router, so it runs for exactly the requests those routes answer: the guard and
 * the router cannot disagree about which paths are guarded.
 */
const routerOptions = { sensitive: true };

const refuseOversizedBodies: Middleware = async (ctx, next) => {
  // Refuse a declared oversized body before reading a byte of it; chunked bodies are capped while read.
  if ((ctx.request.length ?? 0) > bodyLimitBytes) throw payloadTooLarge();
  await next();
};

/**
 * The whole service as one request listener: oidc-provider's paths go to its own Koa app, every
 * other path to edgate's; both run the same request-context, error and body-limit middleware.
 */
export function buildApp(services: Services): RequestListener {
  const common = [requestContext(services.logger, services.metrics), errorHandler(services.logger), refuseOversizedBodies];
  const provider = providerListener(services, common, portalAsClient(services));
  const portal: PortalDeps = {
    ...services,
    sessions: services.redis ? redisSessions(services.redis, services.config.redisPrefix) : databaseSessions(services.db),
    loginLimits: new LoginLimits({ redis: services.redis, prefix: services.config.redisPrefix }),
    provider: provider.current,
    cookies: portalCookies(services.config),
  };
  const koa = buildKoaApp(services, common, portal).callback();
  return (req, res) => {
    // A draining instance answers, but closes each connection after its answer: a balancer's pooled connection
    // is never reused into a closing server.
    if (services.lifecycle.draining) res.setHeader('Connection', 'close');
    return isProviderPath(req.url) ? provider.listener(req, res) : koa(req, res);
  };
}

function buildKoaApp(services: Services, common: Middleware[], portal: PortalDeps): Koa {
  const app = new Koa();
  for (const middleware of common) app.use(middleware);
  app.use(portalPages);
  const open = new Router(routerOptions);
  for (const register of openRoutes) register(open, services);
  portalRoutes(open, portal);
  const guard = gateway(services);
  // Configured upstream routes take their prefix over from the in-process handlers, behind the same gateway.
  const { routes } = services.config;
  if (routes.length) {
    const proxy = upstreamProxy(services);
    app.use((ctx, next) => (routeFor(routes, ctx.path) ? guard(ctx, () => proxy(ctx, next)) : next()));
  }
  const guarded = new Router(routerOptions);
  guarded.use(async (ctx, next) => {
    try {
      await guard(ctx, next);
    } finally {
      // The router names the matched route before its middleware runs, and this middleware's own layer renames it;
      // a call the gateway refuses keeps the name of the route it asked for (metrics label it by route).
      const route = ((ctx as { matched?: Array<{ methods: string[]; path: string }> }).matched ?? []).findLast((layer) => layer.methods.length > 0);
      if (route) (ctx as { _matchedRoute?: string })._matchedRoute = route.path;
    }
  });
  for (const register of guardedRoutes) register(guarded, services);
  // Before the routers: they would answer HEAD as GET and OPTIONS with 200.
  const edfiPaths = `${dataRoot}/`;
  app.use(refuseHeadAndOptions(guarded, edfiPaths));
  app.use(open.routes());
  app.use(guarded.routes());
  // One 405/501 answer for both routers: the matched routes accumulate on the context.
  app.use(methodRefusals(guarded, edfiPaths));
  return app;
}
