import type Router from '@koa/router';
import type { Context, Next } from 'koa';

import { ApiError } from '../errors.js';
import type { FirstPartyClient } from '../oidc/provider.js';
import { accessRoutes } from './access.js';
import { appRoutes } from './apps.js';
import { portalClientId, send, type PortalDeps } from './context.js';
import { docsRoutes } from './docs.js';
import { html } from './html.js';
import { inviteRoutes } from './invite.js';
import { interactionPath, loggedOutPage, loginRoutes, logoutPage } from './login.js';
import { findUser } from './partners.js';
import { keyedHash } from '../secret-hash.js';
import { callbackPath, portalClientSecret, signedOutPath, signInRoutes } from './sign-in.js';

/** Every portal page, in one router registration (logto `routes/` style: each file registers its own). */
export function portalRoutes(router: Router, deps: PortalDeps): void {
  for (const register of [signInRoutes, loginRoutes, inviteRoutes, appRoutes, accessRoutes, docsRoutes]) register(router, deps);
}

/** The portal as oidc-provider's one interactive client. */
export function portalAsClient(deps: Pick<PortalDeps, 'config' | 'db' | 'hashKey'>): FirstPartyClient {
  return {
    clientId: portalClientId,
    secretHash: keyedHash(deps.hashKey, portalClientSecret(deps.hashKey)),
    redirectUri: `${deps.config.publicUrl}${callbackPath}`,
    postLogoutRedirectUri: `${deps.config.publicUrl}${signedOutPath}`,
    interactionUrl: interactionPath,
    findAccount: async (id) => {
      const user = await findUser(deps.db, id);
      return user && { email: user.email };
    },
    logoutPage,
    loggedOutPage,
    sessionTtlSeconds: deps.config.portal.sessionHours * 3600,
  };
}

const isPortalPath = (path: string) => path === '/docs' || path.startsWith('/portal');

const pageHeaders = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
};

/**
 * Portal pages get browser security headers, are never cached, and show errors as pages rather
 * than JSON: a refused form (a missing CSRF token, a wrong application id) answers with its status
 * and a way back, and nothing is changed.
 */
export async function portalPages(ctx: Context, next: Next): Promise<void> {
  if (ctx.path === '/') {
    // The root is the Ed-Fi version document for API clients (JSON, or no preference); a browser asking for a
    // page is sent to the portal instead of being shown JSON.
    ctx.vary('Accept');
    if ((ctx.method === 'GET' || ctx.method === 'HEAD') && ctx.accepts('json', 'html') === 'html') {
      ctx.status = 303;
      return ctx.redirect('/portal');
    }
    return next();
  }
  if (!isPortalPath(ctx.path)) return next();
  ctx.set(pageHeaders);
  // Swagger UI sets inline styles on the elements it draws.
  if (ctx.path === '/docs') ctx.set('Content-Security-Policy', pageHeaders['Content-Security-Policy'].replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"));
  if (!ctx.path.startsWith('/portal/assets/')) ctx.set('Cache-Control', 'no-store');
  try {
    await next();
  } catch (err) {
    if (!(err instanceof ApiError) || err.status >= 500) throw err;
    send(
      ctx,
      {
        title: 'Not done',
        body: html`<section class="card narrow"><h1>${err.status === 404 ? 'Not found' : 'That did not work'}</h1>
          <p role="alert">${err.detail ?? err.code}</p><p class="muted">Error <code>${err.code}</code>, request id <code>${ctx.state.requestId}</code></p>
          <p><a class="button quiet" href="/portal/apps">Back to your applications</a></p></section>`,
      },
      err.status,
    );
  }
}
