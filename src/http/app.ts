import Router from '@koa/router';
import Koa, { type Context, type Middleware } from 'koa';

import { openApiRoutes } from '../edfi/openapi.js';
import { profilePolicy } from '../edfi/profiles/policy.js';
import { profileMediaTypes } from '../edfi/profiles/registry.js';
import { edfiRoutes } from '../edfi/routes.js';
import { ApiError } from '../errors.js';
import { gateway } from '../gateway/index.js';
import { isProviderPath, oauthRoutes, providerListener, type RequestListener } from '../oidc/routes.js';
import { sisRoutes } from '../sis/routes.js';
import { statsRoutes } from '../stats/routes.js';
import { bodyLimitBytes, payloadTooLarge } from './body.js';
import { errorHandler, matchedRoute } from './errors.js';
import { requestContext } from './request-context.js';
import type { Services } from './services.js';
import { systemRoutes } from './system.js';

type RouteModule = (router: Router, services: Services) => void;

/** Routes that are not API calls: no gateway in front. SIS sync authenticates with its own institution secret. */
const openRoutes: RouteModule[] = [
  systemRoutes,
  oauthRoutes,
  sisRoutes,
  (router, services) => openApiRoutes(profileMediaTypes(services.profiles))(router, services),
];

/** API routes: every one of them sits behind the gateway (authentication, limits, school claims). */
const guardedRoutes: RouteModule[] = [statsRoutes, (router, services) => edfiRoutes(profilePolicy(services.profiles))(router, services)];

/** Path prefixes the gateway guards. */
export const guardedPrefixes = ['/data/', '/stats/'];

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
  const provider = providerListener(services, common);
  const koa = buildKoaApp(services, common).callback();
  return (req, res) => (isProviderPath(req.url) ? provider(req, res) : koa(req, res));
}

/** The template of the route that would answer this request (`/data/v3/ed-fi/students/:id`), if any. */
function routeTemplate(router: Router, ctx: Context): string | undefined {
  const layers = router.match(ctx.path, ctx.method).pathAndMethod.filter((layer) => layer.methods.length > 0);
  return layers.at(-1)?.path as string | undefined;
}

function buildKoaApp(services: Services, common: Middleware[]): Koa {
  const app = new Koa();
  for (const middleware of common) app.use(middleware);
  const router = new Router();
  for (const register of openRoutes) register(router, services);
  const guard = gateway(services);
  const guarded: Middleware = async (ctx, next) => {
    try {
      await guard(ctx, next);
    } finally {
      // A call the gateway refused never reached the router: name its route for the metrics all the same.
      if (!matchedRoute(ctx)) ctx.state.route = routeTemplate(router, ctx);
    }
  };
  app.use(async (ctx, next) => (guardedPrefixes.some((p) => ctx.path.startsWith(p)) ? guarded(ctx, next) : next()));
  for (const register of guardedRoutes) register(router, services);
  app.use(router.routes());
  app.use(
    router.allowedMethods({
      throw: true,
      methodNotAllowed: () => new ApiError(405, 'method_not_allowed', 'this path does not accept that method'),
      notImplemented: () => new ApiError(501, 'not_implemented', 'this method is not implemented'),
    }),
  );
  return app;
}
