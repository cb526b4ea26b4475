import Router from '@koa/router';
import Koa from 'koa';

import { ApiError } from '../errors.js';
import { oauthRoutes } from '../oidc/routes.js';
import { bodyLimitBytes, payloadTooLarge } from './body.js';
import { errorHandler } from './errors.js';
import { requestContext } from './request-context.js';
import type { Services } from './services.js';
import { systemRoutes } from './system.js';

/** Route modules in the order they are registered; each receives the services it needs. */
const routeModules: Array<(router: Router, services: Services) => void> = [systemRoutes, oauthRoutes];

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
  for (const register of routeModules) register(router, services);
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
