import type Router from '@koa/router';
import type { Middleware } from 'koa';

import { ApiError } from '../errors.js';

/** A method the path's endpoint does not take, named as it was sent, in the ODS/API's words. */
export function methodNotAllowed(method: string): ApiError {
  return new ApiError('method_not_allowed', `The endpoint of the request does not support the '${method}' method.`);
}

/**
 * Names a route registered only to refuse its method in its own words (`router.post(refusal('…'), path, …)`): it is
 * left out of `Allow`.
 */
export const refusal = (what: string) => `refusal: ${what}`;

/** The methods the router's routes take at a path, HEAD aside (the router adds it to every GET) and refusals aside. */
function allowedAt(router: Router, path: string): string[] {
  const served = router.match(path, 'GET').path.filter((layer) => !layer.name?.startsWith(refusal('')));
  const methods = new Set(served.flatMap((layer) => layer.methods));
  methods.delete('HEAD');
  return [...methods];
}

/**
 * HEAD and OPTIONS on a path under `prefix` that the router serves: 405, as the ODS/API answers them on its resource
 * paths (its endpoints declare their verbs, and these are none of them). Elsewhere the router's defaults stand: HEAD
 * answered as GET without the body, OPTIONS with 200 and `Allow`.
 */
export function refuseHeadAndOptions(router: Router, prefix: string): Middleware {
  return async (ctx, next) => {
    if ((ctx.method === 'HEAD' || ctx.method === 'OPTIONS') && ctx.path.startsWith(prefix)) {
      const allowed = allowedAt(router, ctx.path);
      if (allowed.length) {
        ctx.set('Allow', allowed.join(', '));
        throw methodNotAllowed(ctx.method);
      }
    }
    await next();
  };
}

/**
 * The router's answer to a method no route of the path takes (405 with `Allow`, or 501 for a method it does not know
 * at all), as an ApiError the one error handler renders; OPTIONS keeps the router's 200 with `Allow`. Under `prefix`,
 * where HEAD is refused too, `Allow` leaves it out.
 */
export function methodRefusals(router: Router, prefix: string): Middleware {
  // Its type asks for a router's context; it reads only what the routers left on this one (the matched routes).
  const allowedMethods = router.allowedMethods() as Middleware;
  return async (ctx, next) => {
    await allowedMethods(ctx, next);
    // Only the router's own answers: it set the status and `Allow` and left no body.
    if (ctx.body !== undefined && ctx.body !== null) return;
    if (ctx.status === 405) {
      if (ctx.path.startsWith(prefix)) ctx.set('Allow', allowedAt(router, ctx.path).join(', '));
      throw methodNotAllowed(ctx.method);
    }
    if (ctx.status === 501) throw new ApiError('not_implemented', 'this method is not implemented');
  };
}
