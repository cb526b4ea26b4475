import type Router from '@koa/router';

import { listAccessRequests, requestAccess, type AccessRequest } from './access-requests.js';
import { edorgNames } from './applications.js';
import { signedIn } from './apps.js';
import { actorOf, formOf, record, send, userOf, type PortalDeps } from './context.js';
import { html } from './html.js';
import { listAudit } from './audit.js';

const badge = (r: AccessRequest) =>
  r.status === 'approved' ? html`<span class="badge ok">Approved</span>` : r.status === 'denied' ? html`<span class="badge bad">Denied</span>` : html`<span class="badge warn">Pending</span>`;

/** "Request access to more schools": the partner support channel, decided by an admin with `edgate access`. */
export function accessRoutes(router: Router, deps: PortalDeps): void {
  const { db } = deps;

  router.get('/portal/access', async (ctx) => {
    const me = await signedIn(ctx, deps);
    if (!me) return;
    const [requests, reach, schools] = await Promise.all([
      listAccessRequests(db, { partnerId: me.partner.id }),
      db('edorg_closure').whereIn('ancestor_id', me.partner.edorgIds.length ? me.partner.edorgIds : [-1]).pluck('descendant_id'),
      db('education_organizations').where({ type: 'school' }).orderBy('name').select('id', 'name'),
    ]);
    const inReach = new Set(reach.map(Number));
    const mine = schools.filter((s: { id: number }) => inReach.has(Number(s.id)));
    const others = schools.filter((s: { id: number }) => !inReach.has(Number(s.id)));
    const names = new Map((await edorgNames(db, requests.flatMap((r) => r.edorgIds))).map((e) => [e.id, e.name]));
    send(ctx, {
      title: 'School access',
      section: 'access',
      user: userOf(me),
      body: html`<h1>School access</h1>
        <p class="lede">Every application of ${me.partner.name} reaches these schools. Tokens issued after an approval carry the new schools.</p>
        <section class="card"><h2>Schools you reach</h2>
          ${mine.length ? html`<ul>${mine.map((s: { id: number; name: string }) => html`<li>${s.name} <span class="muted">(${s.id})</span></li>`)}</ul>` : html`<p class="muted">None yet.</p>`}
        </section>
        <section class="card" aria-labelledby="request"><h2 id="request">Request access to more schools</h2>
          ${others.length
            ? html`<form method="post" action="/portal/access">
                <input type="hidden" name="csrf" value="${me.session.csrf}">
                <fieldset><legend>Schools</legend>
                  ${others.map((s: { id: number; name: string }) => html`<label class="choice"><input type="checkbox" name="school" value="${s.id}"> ${s.name} <span class="muted">(${s.id})</span></label>`)}
                </fieldset>
                <label for="reason">Why do you need them?</label>
                <textarea id="reason" name="reason" required maxlength="2000" placeholder="e.g. Our attendance product is rolling out to these schools next term."></textarea>
                <div class="actions"><button class="button" type="submit">Send request</button></div>
              </form>`
            : html`<p class="muted">You already reach every school edgate knows.</p>`}
        </section>
        <section class="card"><h2>Your requests</h2>
          ${requests.length
            ? html`<table><thead><tr><th scope="col">Sent</th><th scope="col">Schools</th><th scope="col">Reason</th><th scope="col">State</th></tr></thead><tbody>
                ${requests.map((r) => html`<tr><td>${new Date(r.createdAt).toISOString().slice(0, 16).replace('T', ' ')}</td><td>${r.edorgIds.map((id) => names.get(id) ?? String(id)).join(', ')}</td><td>${r.reason}${r.decisionNote ? html`<br><span class="muted">Note: ${r.decisionNote}</span>` : ''}</td><td>${badge(r)}</td></tr>`)}
              </tbody></table>`
            : html`<p class="muted">No requests yet.</p>`}
        </section>`,
    });
  });

  router.post('/portal/access', async (ctx) => {
    const me = await signedIn(ctx, deps);
    if (!me) return;
    const form = await formOf(ctx, me.session.csrf);
    const edorgIds = (form.school ?? '').split(',').filter(Boolean).map(Number).filter((id) => Number.isSafeInteger(id) && id > 0);
    const request = await requestAccess(db, { partnerId: me.partner.id, userId: me.session.userId, edorgIds, reason: form.reason ?? '' });
    await record(ctx, deps, { actor: actorOf(me), action: 'access.requested', subject: request.id, detail: { edorgIds: request.edorgIds } });
    ctx.status = 303;
    ctx.redirect('/portal/access');
  });

  router.get('/portal/activity', async (ctx) => {
    const me = await signedIn(ctx, deps);
    if (!me) return;
    const events = await listAudit(db, { partnerId: me.partner.id, limit: 100 });
    send(ctx, {
      title: 'Activity',
      section: 'activity',
      user: userOf(me),
      body: html`<h1>Activity</h1><p class="lede">What people at ${me.partner.name} and edgate administrators did: the last 100 events.</p>
        <section class="card"><table><thead><tr><th scope="col">When (UTC)</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Subject</th><th scope="col">Request id</th></tr></thead><tbody>
        ${events.map((e) => html`<tr><td>${e.at.slice(0, 19).replace('T', ' ')}</td><td>${e.actor}</td><td>${e.action}</td><td><code>${e.subject ?? ''}</code></td><td><code>${e.request_id ?? ''}</code></td></tr>`)}
        </tbody></table></section>`,
    });
  });
}
