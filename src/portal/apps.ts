import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';

import { announceRevocation } from '../gateway/revocation.js';
import {
  createApplication,
  edorgNames,
  listApplications,
  requireApplication,
  rotateApplicationSecret,
  setApplicationDisabled,
  type Application,
} from './applications.js';
import { usageChart } from './chart.js';
import { actorOf, currentSession, formOf, record, send, sessionTtlMs, userOf, type PortalDeps, type SignedIn } from './context.js';
import { html, type Html } from './html.js';
import { derivedKey, seal, unseal } from './seal.js';
import { reachOf } from '../db/edorgs.js';

const number = (n: number) => n.toLocaleString('en-US');

/** Pages under /portal that need a signed-in person: others are sent to sign in and brought back. */
export async function signedIn(ctx: Context, deps: PortalDeps): Promise<SignedIn | undefined> {
  const found = await currentSession(ctx, deps);
  if (!found) {
    ctx.status = 303;
    ctx.redirect(`/portal/sign-in?returnTo=${encodeURIComponent(ctx.path)}`);
  }
  return found;
}

export function statusBadge(app: Application): Html {
  if (app.pending) return html`<span class="badge warn">Pending approval</span>`;
  if (app.disabled) return html`<span class="badge muted">Disabled</span>`;
  return html`<span class="badge ok">Active</span>`;
}

function tierTable(deps: PortalDeps): Html {
  const rows = Object.entries(deps.config.tiers).map(
    ([name, tier]) => html`<tr><th scope="row">${name}</th><td>${number(tier.requestsPerMinute)}</td><td>${number(tier.costPerDay)}</td>
      <td>${deps.config.portal.approvalTiers.includes(name) ? 'Needs approval' : 'Immediate'}</td></tr>`,
  );
  return html`<table><caption class="muted">Subscription tiers</caption><thead><tr><th scope="col">Tier</th><th scope="col">Requests / minute</th><th scope="col">Cost / day</th><th scope="col">Access</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function secretOnce(clientId: string, secret: string, rotated: boolean): Html {
  return html`<section class="card" aria-labelledby="creds">
    <h2 id="creds">${rotated ? 'Your new client secret' : 'Your credentials'}</h2>
    <p class="notice warn" role="alert"><strong>Copy the client secret now.</strong> It is shown only this once; edgate keeps only a keyed hash of it. If you lose it, rotate it.</p>
    <label for="client_id">client_id</label>
    <div class="secret"><input id="client_id" type="text" readonly value="${clientId}"><button type="button" class="button quiet" data-copy="client_id" hidden>Copy</button></div>
    <label for="client_secret">client_secret</label>
    <div class="secret"><input id="client_secret" type="text" readonly value="${secret}"><button type="button" class="button quiet" data-copy="client_secret" hidden>Copy</button></div>
    ${rotated ? html`<p class="muted">The previous secret stopped working (within 2 seconds on every instance).</p>` : ''}
  </section>`;
}

export function appRoutes(router: Router, deps: PortalDeps): void {
  const { db, hashKey, config } = deps;
  const flashKey = derivedKey(hashKey, 'secret shown once');

  router.get('/portal/apps', async (ctx) => {
    const me = await signedIn(ctx, deps);
    if (!me) return;
    const apps = await listApplications(db, me.partner.id);
    const tiers = Object.keys(config.tiers);
    const formId = randomBytes(16).toString('base64url');
    const rows = apps.map(
      (app) => html`<tr><td><a href="/portal/apps/${app.clientId}">${app.name}</a></td><td><code>${app.clientId}</code></td><td>${app.tier}</td><td>${statusBadge(app)}</td><td>${new Date(app.createdAt).toISOString().slice(0, 10)}</td></tr>`,
    );
    send(ctx, {
      title: 'Applications',
      section: 'apps',
      user: userOf(me),
      body: html`<h1>Applications</h1>
        <p class="lede">Each application gets its own client credentials and quotas. Its schools are ${me.partner.name}'s approved reach.</p>
        <section class="card"><h2>Your applications</h2>
          ${apps.length ? html`<table><thead><tr><th scope="col">Name</th><th scope="col">client_id</th><th scope="col">Tier</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead><tbody>${rows}</tbody></table>` : html`<p class="muted">No applications yet. Create your first one below.</p>`}
        </section>
        <section class="card" aria-labelledby="new-app"><h2 id="new-app">New Application</h2>
          <div class="grid">
            <form method="post" action="/portal/apps">
              <input type="hidden" name="csrf" value="${me.session.csrf}">
              <input type="hidden" name="form_id" value="${formId}">
              <label for="name">Name</label>
              <input id="name" name="name" type="text" maxlength="255" required placeholder="e.g. Attendance dashboard">
              <fieldset><legend>Subscription tier</legend>
                ${tiers.map((tier, i) => html`<label class="choice"><input type="radio" name="tier" value="${tier}" ${i === 0 ? html`checked` : ''}> ${tier}</label>`)}
              </fieldset>
              <div class="actions"><button class="button" type="submit">Create application</button></div>
            </form>
            <div>${tierTable(deps)}</div>
          </div>
        </section>`,
    });
  });

  router.post('/portal/apps', async (ctx) => {
    const me = await signedIn(ctx, deps);
    if (!me) return;
    const form = await formOf(ctx, me.session.csrf);
    // The same form posted twice (a reload, a double click) creates one application.
    if (form.form_id && me.session.usedForms?.includes(form.form_id)) {
      ctx.status = 303;
      return ctx.redirect('/portal/apps');
    }
    const user = { id: me.session.userId, partnerId: me.partner.id, email: me.session.email, passwordHash: null };
    const { application, secret } = await createApplication(db, hashKey, { partner: me.partner, user, name: form.name ?? '', tier: form.tier ?? '' }, {
      tiers: Object.keys(config.tiers),
      approvalTiers: config.portal.approvalTiers,
    });
    await record(ctx, deps, { actor: actorOf(me), action: 'application.created', subject: application.clientId, detail: { name: application.name, tier: application.tier, pending: application.pending } });
    await showOnce(ctx, me, application.clientId, secret, false, form.form_id);
  });

  /** The secret rides to the next page sealed in the server-side session and is dropped as it is drawn. */
  const showOnce = async (ctx: Context, me: SignedIn, clientId: string, secret: string, rotated: boolean, formId?: string) => {
    const session = { ...me.session, flash: { clientId, sealed: seal(flashKey, secret), rotated } };
    if (formId) session.usedForms = [...(me.session.usedForms ?? []).slice(-20), formId];
    await deps.sessions.set(me.id, session, sessionTtlMs(deps, session));
    ctx.status = 303;
    ctx.redirect(`/portal/apps/${clientId}`);
  };

  router.get('/portal/apps/:clientId', async (ctx) => {
    const me = await signedIn(ctx, deps);
    if (!me) return;
    const app = await requireApplication(db, me.partner.id, ctx.params.clientId);
    let reveal: Html | '' = '';
    const flash = me.session.flash;
    if (flash) {
      const { flash: _shown, ...rest } = me.session;
      await deps.sessions.set(me.id, rest, sessionTtlMs(deps, me.session));
      if (flash.clientId === app.clientId) reveal = secretOnce(app.clientId, unseal(flashKey, flash.sealed), flash.rotated);
    }
    const [schools, usage, cost] = await Promise.all([
      reachOf(db, app.clientId).then((reach) => edorgNames(db, reach.schools)),
      deps.usage.snapshot(app.clientId),
      deps.limits.spentToday(app.clientId, app.tier),
    ]);
    const tier = config.tiers[app.tier];
    const totals = usage.hours.reduce((sum, h) => ({ admitted: sum.admitted + h.admitted, limited: sum.limited + h.limited }), { admitted: 0, limited: 0 });
    ctx.set('Cache-Control', 'no-store');
    send(ctx, {
      title: app.name,
      section: 'apps',
      user: userOf(me),
      body: html`<p><a href="/portal/apps">← Applications</a></p>
        <h1>${app.name} ${statusBadge(app)}</h1>
        <p class="lede">client_id <code>${app.clientId}</code> · tier <strong>${app.tier}</strong></p>
        ${app.pending ? html`<p class="notice warn">The ${app.tier} tier needs an edgate administrator's approval. Until then this application cannot get a token.</p>` : ''}
        ${reveal}
        <section class="card" aria-labelledby="usage"><h2 id="usage">Usage</h2>
          <div class="grid">
            <div><div class="stat">${number(usage.thisMinute)} <small>of ${number(tier?.requestsPerMinute ?? 0)} this minute</small></div><div class="muted">requests, admitted or not</div></div>
            <div><div class="stat">${number(cost.spent)} <small>of ${number(cost.quota)} today</small></div><div class="muted">cost spent in the current day window</div></div>
            <div><div class="stat">${number(totals.admitted)} <small>admitted</small> · ${number(totals.limited)} <small>429s</small></div><div class="muted">last 24 hours</div></div>
          </div>
          <p class="legend"><span><span class="swatch ok"></span>admitted</span><span><span class="swatch bad"></span>refused (429)</span></p>
          ${usageChart(usage.hours)}
        </section>
        <section class="card" aria-labelledby="schools"><h2 id="schools">Schools</h2>
          ${schools.length ? html`<ul>${schools.map((s) => html`<li>${s.name} <span class="muted">(${s.id})</span></li>`)}</ul>` : html`<p class="muted">No schools yet.</p>`}
          <p><a href="/portal/access">Request access to more schools</a> · <a href="/portal/quick-start?app=${app.clientId}">Quick start with this application</a></p>
        </section>
        <section class="card" aria-labelledby="manage"><h2 id="manage">Manage</h2>
          <div class="actions">
            <form method="post" action="/portal/apps/${app.clientId}/rotate"><input type="hidden" name="csrf" value="${me.session.csrf}"><button class="button quiet" type="submit">Rotate secret</button></form>
            <form method="post" action="/portal/apps/${app.clientId}/${app.disabled ? 'enable' : 'disable'}"><input type="hidden" name="csrf" value="${me.session.csrf}"><button class="button ${app.disabled ? 'quiet' : 'danger'}" type="submit">${app.disabled ? 'Enable' : 'Disable'} application</button></form>
          </div>
          <p class="muted">Rotating ends the old secret at once; tokens already issued keep working until they expire. Disabling also stops its live tokens within 10 seconds.</p>
        </section>`,
    });
  });

  router.post('/portal/apps/:clientId/rotate', async (ctx) => {
    const me = await signedIn(ctx, deps);
    if (!me) return;
    await formOf(ctx, me.session.csrf);
    const app = await requireApplication(db, me.partner.id, ctx.params.clientId);
    const secret = await rotateApplicationSecret(db, hashKey, app);
    await record(ctx, deps, { actor: actorOf(me), action: 'application.secret_rotated', subject: app.clientId });
    await showOnce(ctx, me, app.clientId, secret, true);
  });

  for (const [action, disabled] of [['disable', true], ['enable', false]] as const) {
    router.post(`/portal/apps/:clientId/${action}`, async (ctx) => {
      const me = await signedIn(ctx, deps);
      if (!me) return;
      await formOf(ctx, me.session.csrf);
      const app = await requireApplication(db, me.partner.id, ctx.params.clientId);
      await setApplicationDisabled(db, app, disabled);
      await announceRevocation(config.redisUrl, config.redisPrefix, app.clientId, disabled);
      await record(ctx, deps, { actor: actorOf(me), action: disabled ? 'application.disabled' : 'application.enabled', subject: app.clientId });
      ctx.status = 303;
      ctx.redirect(`/portal/apps/${app.clientId}`);
    });
  }
}
