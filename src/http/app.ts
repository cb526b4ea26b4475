import Router from '@koa/router';
import Koa from 'koa';

import { ApiError } from '../errors.js';
import { gateway } from '../gateway/index.js';
import { oauthRoutes } from '../oidc/routes.js';
import { statsRoutes } from '../stats/routes.js';
import { bodyLimitBytes, payloadTooLarge } from './body.js';
import { errorHandler } from './errors.js';
import { requestContext } from './request-context.js';
import type { Services } from './services.js';
import { systemRoutes } from './system.js';

type RouteModule = (router: Router, services: Services) => void;

/** Routes that are not API calls: no gateway in front. */
const openRoutes: RouteModule[] = [systemRoutes, oauthRoutes];

/** API routes: every one of them sits behind the gateway (authentication, limits, school claims). */
const guardedRoutes: RouteModule[] = [statsRoutes];

/** Path prefixes the gateway guards. */
export const guardedPrefixes = ['/data/', '/stats/'];

export function buildApp(services: Services): Koa {
  const app = new Koa();
  app.use(requestContext(services.logger, services.metrics));
  app.use(errorHandler(services.logger));
  app.use(async (ctx, next) => {
    // Refuse a declared oversized body before reading a byte of it; chunked bodies are capped while read.
    if ((ctx.request.length ?? 0) > bodyLimitBytes) throw payloadTooLarge();
    await next();
  });
  const router = new Router();
  for (const register of openRoutes) register(router, services);
  const guard = gateway(services);
  app.use(async (ctx, next) => (guardedPrefixes.some((p) => ctx.path.startsWith(p)) ? guard(ctx, next) : next()));
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
