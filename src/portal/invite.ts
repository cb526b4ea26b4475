import type Router from '@koa/router';
import type { Context } from 'koa';

import { html } from './html.js';
import { redeemInvite, userForInvite } from './partners.js';
import { hashPassword, minPasswordLength, passwordProblem } from './passwords.js';
import { boundToken, derivedKey, sameToken } from './seal.js';
import { readForm, record, send, type PortalDeps } from './context.js';

function inviteGone(ctx: Context): void {
  send(
    ctx,
    {
      title: 'Invitation not valid',
      body: html`<section class="card narrow"><h1>This invitation link is not valid</h1>
        <p>Invitation links work once and expire after 72 hours. Ask your edgate administrator for a new one.</p>
        <p><a href="/portal/sign-in">Already set your password? Sign in</a></p></section>`,
    },
    410,
  );
}

/** The one-time invite link: the invitee chooses a password, then signs in through the provider. */
export function inviteRoutes(router: Router, deps: PortalDeps): void {
  const csrfFor = (token: string) => boundToken(derivedKey(deps.hashKey, 'invite form'), token);

  const form = (ctx: Context, token: string, email: string, problem?: string, status = 200) =>
    send(
      ctx,
      {
        title: 'Set your password',
        body: html`<section class="card narrow">
          <h1>Welcome to edgate</h1>
          <p class="lede">Choose a password for <strong>${email}</strong>.</p>
          ${problem ? html`<p class="notice bad" role="alert">${problem}</p>` : ''}
          <form method="post" action="/portal/invite">
            <input type="hidden" name="token" value="${token}">
            <input type="hidden" name="csrf" value="${csrfFor(token)}">
            <label for="password">New password <span class="muted">(at least ${minPasswordLength} characters)</span></label>
            <input id="password" name="password" type="password" autocomplete="new-password" minlength="${minPasswordLength}" required>
            <label for="confirm">Repeat it</label>
            <input id="confirm" name="confirm" type="password" autocomplete="new-password" required>
            <div class="actions"><button class="button" type="submit">Set password</button></div>
          </form>
        </section>`,
      },
      status,
    );

  router.get('/portal/invite', async (ctx) => {
    // The token is in the query string: access logs record paths only. Referrers never carry it.
    ctx.set('Referrer-Policy', 'no-referrer');
    const token = typeof ctx.query.token === 'string' ? ctx.query.token : '';
    const user = token ? await userForInvite(deps.db, deps.hashKey, token) : undefined;
    if (!user) return inviteGone(ctx);
    form(ctx, token, user.email);
  });

  router.post('/portal/invite', async (ctx) => {
    ctx.set('Referrer-Policy', 'no-referrer');
    const fields = await readForm(ctx);
    const token = fields.token ?? '';
    const user = token ? await userForInvite(deps.db, deps.hashKey, token) : undefined;
    if (!user) return inviteGone(ctx);
    if (!sameToken(csrfFor(token), fields.csrf)) return form(ctx, token, user.email, 'This form expired; please try again.', 403);
    const problem = passwordProblem(fields.password ?? '', fields.confirm ?? '');
    if (problem) return form(ctx, token, user.email, problem, 400);
    const redeemed = await redeemInvite(deps.db, deps.hashKey, token, await hashPassword(fields.password));
    if (!redeemed) return inviteGone(ctx);
    await record(ctx, deps, { actor: { kind: 'user', email: redeemed.email, partnerId: redeemed.partnerId }, action: 'user.password_set' });
    send(ctx, {
      title: 'Password set',
      body: html`<section class="card narrow"><h1>Your password is set</h1><p>Sign in to register your first application.</p>
        <p><a class="button" href="/portal/sign-in">Sign in</a></p></section>`,
    });
  });
}
