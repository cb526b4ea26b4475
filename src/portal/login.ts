import type Router from '@koa/router';
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { layout } from './layout.js';
import { html, raw } from './html.js';
import { normaliseEmail, findUserByEmail } from './partners.js';
import { passwordMatches, spendPasswordCheck } from './passwords.js';
import { boundToken, derivedKey, sameToken } from './seal.js';
import { readForm, record, send, type PortalDeps } from './context.js';

export const interactionPath = (uid: string) => `/portal/interaction/${uid}`;

function loginPage(ctx: Context, deps: PortalDeps, uid: string, problem?: string, email = '', status = 200): void {
  const csrf = boundToken(derivedKey(deps.hashKey, 'login form'), uid);
  send(
    ctx,
    {
      title: 'Sign in',
      body: html`<section class="card narrow">
        <h1>Sign in</h1>
        <p class="lede">to the edgate developer portal</p>
        ${problem ? html`<p class="notice bad" role="alert">${problem}</p>` : ''}
        <form method="post" action="${interactionPath(uid)}/login">
          <input type="hidden" name="csrf" value="${csrf}">
          <label for="email">E-mail</label>
          <input id="email" name="email" type="email" autocomplete="username" required value="${email}">
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required>
          <div class="actions"><button class="button" type="submit">Sign in</button></div>
        </form>
        <p class="muted">No account yet? Your organisation's edgate administrator sends invitations.</p>
      </section>`,
    },
    status,
  );
}

function expired(ctx: Context): void {
  send(
    ctx,
    {
      title: 'Sign-in expired',
      body: html`<section class="card narrow"><h1>This sign-in page expired</h1><p>Sign-in pages work for 15 minutes, in the browser that opened them.</p><p><a class="button" href="/portal/sign-in">Start again</a></p></section>`,
    },
    400,
  );
}

/**
 * oidc-provider's login interaction, as its `interactions.url` points here: the provider keeps
 * the interaction (a cookie bound to its uid), this page checks the password and hands back
 * `{ login: { accountId } }`. Consent is never asked of the first-party portal (loadExistingGrant).
 */
export function loginRoutes(router: Router, deps: PortalDeps): void {
  const details = async (ctx: Context) => {
    try {
      return await deps.provider().interactionDetails(ctx.req, ctx.res);
    } catch {
      return undefined; // unknown, expired, or another browser's interaction
    }
  };

  router.get('/portal/interaction/:uid', async (ctx) => {
    const interaction = await details(ctx);
    if (!interaction || interaction.uid !== ctx.params.uid) return expired(ctx);
    if (interaction.prompt.name !== 'login') {
      // Only reached if a grant is missing: the first-party client is granted openid and email.
      const redirect = await deps.provider().interactionResult(ctx.req, ctx.res, {}, { mergeWithLastSubmission: true });
      ctx.status = 303;
      return ctx.redirect(redirect);
    }
    loginPage(ctx, deps, interaction.uid);
  });

  router.post('/portal/interaction/:uid/login', async (ctx) => {
    const interaction = await details(ctx);
    if (!interaction || interaction.uid !== ctx.params.uid || interaction.prompt.name !== 'login') return expired(ctx);
    const form = await readForm(ctx);
    if (!sameToken(boundToken(derivedKey(deps.hashKey, 'login form'), interaction.uid), form.csrf)) {
      return loginPage(ctx, deps, interaction.uid, 'This form expired. Please sign in again.', '', 403);
    }
    const email = normaliseEmail(form.email ?? '');
    const password = form.password ?? '';
    const address = ctx.ip;
    const waitMs = await deps.loginLimits.blockedFor(email, address);
    if (waitMs > 0) {
      await record(ctx, deps, { actor: { kind: 'anonymous' }, action: 'user.sign_in_blocked', subject: email, detail: { address } });
      ctx.set('Retry-After', String(Math.ceil(waitMs / 1000)));
      return loginPage(ctx, deps, interaction.uid, `Too many failed sign-ins. Try again in ${Math.ceil(waitMs / 60_000)} minute(s).`, email, 429);
    }
    const user = await findUserByEmail(deps.db, email);
    const valid = user?.passwordHash ? await passwordMatches(password, user.passwordHash) : (await spendPasswordCheck(password), false);
    if (!user || !valid) {
      await deps.loginLimits.failed(email, address);
      await record(ctx, deps, { actor: { kind: 'anonymous' }, action: 'user.sign_in_failed', subject: email, detail: { address } });
      return loginPage(ctx, deps, interaction.uid, 'That e-mail and password do not match an account.', email, 401);
    }
    await deps.loginLimits.succeeded(email);
    const redirect = await deps.provider().interactionResult(ctx.req, ctx.res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirect);
  });
}

/** The provider's sign-out confirmation, in the portal's look; `form` is the provider's own (with its xsrf token). */
export function logoutPage(ctx: KoaContextWithOIDC, form: string): void {
  ctx.type = 'html';
  ctx.body = layout({
    title: 'Sign out',
    body: html`<section class="card narrow">
      <h1>Sign out of edgate?</h1>
      <p class="lede">Your portal session has ended. Finish by ending your edgate sign-in on this browser too.</p>
      ${raw(form)}
      <div class="actions">
        <button class="button" autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Sign out of edgate</button>
        <button class="button quiet" type="submit" form="op.logoutForm">Stay signed in to edgate</button>
      </div>
    </section>`,
  });
}

export function loggedOutPage(ctx: KoaContextWithOIDC): void {
  ctx.type = 'html';
  ctx.body = layout({
    title: 'Signed out',
    body: html`<section class="card narrow"><h1>You are signed out</h1><p><a class="button" href="/portal/sign-in">Sign in again</a></p></section>`,
  });
}
