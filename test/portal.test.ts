import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createDb } from '../src/db/knex.js';
import { migrate, rollbackAll } from '../migrations/index.js';
import { startServer } from '../src/app/server.js';
import { inviteTtlMs } from '../src/portal/partners.js';
import { grandBend, runCli, startTestApp, type TestApp } from './helpers/app.js';
import { engines, redisUrl } from './helpers/engines.js';
import { createApp, field, formAction, onboard, password, PortalBrowser, signIn } from './helpers/portal.js';
import { startSmtpSink } from './helpers/smtp.js';

/** Tiers as in the contract, plus a tiny one whose minute quota a test can exhaust. */
function portalConfigFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'edgate-portal-')), 'config.json');
  const tiers = {
    free: { requestsPerMinute: 60, costPerDay: 5_000 },
    standard: { requestsPerMinute: 600, costPerDay: 100_000 },
    premium: { requestsPerMinute: 6_000, costPerDay: 2_000_000 },
    tiny: { requestsPerMinute: 3, costPerDay: 1_000 },
  };
  writeFileSync(file, JSON.stringify({ tiers }));
  return file;
}

const summary = '/stats/v1/attendance/summary?school_id=255901001';

/** Token requests see a CLI change within the client cache's 2 seconds: ask until the answer is `status`. */
async function tokenStatus(app: TestApp, clientId: string, secret: string, status: number): Promise<Response> {
  const started = Date.now();
  for (;;) {
    const res = await app.fetch('/oauth/token', { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    if (res.status === status || Date.now() - started > 4000) return res;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function tokenFor(app: TestApp, clientId: string, secret: string): Promise<string> {
  const res = await tokenStatus(app, clientId, secret, 200);
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function cliJson(app: TestApp, ...args: string[]) {
  const out = await app.cli(...args, '--json');
  return { code: out.code, body: JSON.parse(out.stdout) as Record<string, any> };
}

describe.each(engines)('developer portal on $name', (engine) => {
  let app: TestApp;
  let ada: PortalBrowser;

  beforeAll(async () => {
    app = await startTestApp(engine, { EDGATE_CONFIG: portalConfigFile() });
    await app.edorgs(...grandBend);
    await onboard(app, 'ada@example.com', [255901001]);
    ada = (await signIn(app, 'ada@example.com')).browser;
  });
  afterAll(() => app.stop());

  it('onboards from the CLI invite link: password set once, signed in through the provider, audited without secrets', async () => {
    const partner = (await cliJson(app, 'partner', 'add', '--name', 'Acme Learning', '--edorg', '255901001')).body;
    const invited = await cliJson(app, 'partner', 'invite', '--partner', partner.partner_id, '--email', ' Grace@Example.COM ');
    expect(invited.body).toMatchObject({ email: 'grace@example.com', mailed: false, invite_url: expect.stringContaining('/portal/invite?token=') });
    const browser = new PortalBrowser(app);
    const form = await browser.get(invited.body.invite_url);
    expect(form.text).toContain('grace@example.com');
    const short = await browser.post('/portal/invite', { token: field(form.text, 'token'), csrf: field(form.text, 'csrf'), password: 'short', confirm: 'short' });
    expect(short.res.status).toBe(400);
    const set = await browser.post('/portal/invite', { token: field(form.text, 'token'), csrf: field(form.text, 'csrf'), password, confirm: password });
    expect(set.text).toContain('Your password is set');
    expect((await browser.get(invited.body.invite_url)).res.status).toBe(410); // one use only
    expect(Math.abs(Date.parse(invited.body.expires_at) - Date.now() - inviteTtlMs)).toBeLessThan(60_000);
    const stored = (await app.services.db('portal_users').where({ email: 'grace@example.com' }).first('password_hash')).password_hash as string;
    expect(stored).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);

    const { landed, page } = await signIn(app, 'GRACE@example.com');
    expect(landed).toBe('/portal/apps');
    expect(page).toContain('grace@example.com');

    const audit = await app.cli('audit', 'list', '--partner', partner.partner_id);
    for (const action of ['partner.added', 'user.invited', 'user.password_set', 'user.signed_in']) expect(audit.stdout).toContain(action);
    expect(audit.stdout).not.toContain(new URL(invited.body.invite_url).searchParams.get('token'));
    const events = (await cliJson(app, 'audit', 'list', '--limit', '5')).body.events as Array<{ request_id: string | null }>;
    expect(events.every((e) => e.request_id)).toBe(true);
  }, 120_000);

  it('refuses an invite link once its 72 hours have passed, and sets no password', async () => {
    const partner = (await cliJson(app, 'partner', 'list')).body.partners[0];
    const invited = (await cliJson(app, 'partner', 'invite', '--partner', partner.partner_id, '--email', 'late@example.com')).body;
    const browser = new PortalBrowser(app);
    const form = await browser.get(invited.invite_url);
    expect(form.res.status).toBe(200);
    const user = await app.services.db('portal_users').where({ email: 'late@example.com' }).first('id');
    await app.services.db('portal_invites').where({ user_id: user.id }).update({ expires_at: Date.now() - 1 }); // 72 hours later
    expect((await browser.get(invited.invite_url)).res.status).toBe(410);
    const late = await browser.post('/portal/invite', { token: field(form.text, 'token'), csrf: field(form.text, 'csrf'), password, confirm: password });
    expect(late.res.status).toBe(410);
    expect((await app.services.db('portal_users').where({ id: user.id }).first('password_hash')).password_hash).toBeNull();
  });

  it('mails the invite link when SMTP_URL is set, and still prints it when the mail server is down', async () => {
    const partner = (await cliJson(app, 'partner', 'list')).body.partners[0];
    const sink = await startSmtpSink();
    try {
      const env = { ...app.env, SMTP_URL: sink.url, MAIL_FROM: 'portal@edgate.test' };
      const sent = await runCli(['partner', 'invite', '--partner', partner.partner_id, '--email', 'mailed@example.com', '--json'], env);
      const body = JSON.parse(sent.stdout);
      expect({ code: sent.code, mailed: body.mailed }).toEqual({ code: 0, mailed: true });
      expect(sink.received).toHaveLength(1);
      expect(sink.received[0]).toMatchObject({ from: '<portal@edgate.test>', to: ['<mailed@example.com>'] });
      // Quoted-printable: soft line breaks and escaped '=' undone, the link in the mail is the one printed.
      const text = sink.received[0].data.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      expect(text).toContain(body.invite_url);
      expect((await new PortalBrowser(app).get(body.invite_url)).res.status).toBe(200);
    } finally {
      await sink.close();
    }
    const down = await runCli(['partner', 'invite', '--partner', partner.partner_id, '--email', 'unmailed@example.com', '--json'], { ...app.env, SMTP_URL: 'smtp://127.0.0.1:1' });
    const body = JSON.parse(down.stdout);
    expect({ code: down.code, mailed: body.mailed, error: typeof body.mail_error }).toEqual({ code: 0, mailed: false, error: 'string' });
    expect((await new PortalBrowser(app).get(body.invite_url)).res.status).toBe(200);
  }, 60_000);

  it('shows the tier table from config beside New Application', async () => {
    const page = (await ada.get('/portal/apps')).text;
    expect(page).toContain('<th scope="row">tiny</th><td>3</td><td>1,000</td>');
    expect(page).toMatch(/<th scope="row">premium<\/th><td>6,000<\/td><td>2,000,000<\/td>\s*<td>Needs approval<\/td>/);
    expect(page).toMatch(/<th scope="row">standard<\/th><td>600<\/td><td>100,000<\/td>\s*<td>Immediate<\/td>/);
    for (const tier of ['free', 'standard', 'premium', 'tiny']) expect(page).toContain(`name="tier" value="${tier}"`);
  });

  it('sends a browser at the root to the portal, and API clients the version document', async () => {
    const browserAccept = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
    const res = await app.fetch('/', { headers: { accept: browserAccept }, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/portal');
    expect((await app.fetch('/', { headers: { accept: browserAccept } })).headers.get('content-type')).toMatch(/^text\/html/);
    for (const accept of [undefined, '*/*', 'application/json']) {
      const api = await app.fetch('/', { headers: accept ? { accept } : {} });
      expect(api.status, accept).toBe(200);
      expect(api.headers.get('vary')).toMatch(/accept/i);
      expect(((await api.json()) as { urls: { oauth: string } }).urls.oauth).toMatch(/\/oauth\/token$/);
    }
  });

  it('shows a new application its secret once, and the secret gets a token that the API accepts', async () => {
    const created = await createApp(ada, 'Attendance dashboard');
    expect(created.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.page).toContain('shown only this once');
    const token = await tokenFor(app, created.clientId, created.secret!);
    expect((await app.fetch(summary, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const again = await ada.get(created.path);
    expect(again.text).toContain(created.clientId);
    expect(again.text).not.toContain(created.secret);
    expect(again.text).not.toContain('id="client_secret"');
    expect(again.text).toContain('Grand Bend High School'); // schools by name
    // The same form posted again (a reload of the POST) creates nothing.
    const before = (await ada.get('/portal/apps')).text.match(/href="\/portal\/apps\/[A-Za-z0-9]{20}"/g)!.length;
    const resent = await ada.post('/portal/apps', { csrf: created.csrf, form_id: created.formId, name: 'Attendance dashboard', tier: 'standard' });
    expect(resent.path).toBe('/portal/apps');
    expect(resent.text).not.toContain('id="client_secret"');
    expect(resent.text.match(/href="\/portal\/apps\/[A-Za-z0-9]{20}"/g)!.length).toBe(before);
  });

  it('keeps a premium application pending, without tokens, until an admin approves it', async () => {
    const created = await createApp(ada, 'Premium analytics', 'premium');
    expect(created.page).toContain('Pending approval');
    const refused = await tokenStatus(app, created.clientId, created.secret!, 401);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: 'invalid_client' });
    const pending = (await cliJson(app, 'client', 'pending')).body.applications as Array<{ client_id: string }>;
    expect(pending.map((a) => a.client_id)).toContain(created.clientId);
    expect((await cliJson(app, 'client', 'approve', created.clientId)).code).toBe(0);
    await tokenFor(app, created.clientId, created.secret!);
    const twice = await cliJson(app, 'client', 'approve', created.clientId);
    expect({ code: twice.code, error: twice.body.error }).toEqual({ code: 1, error: 'not_pending' });
    expect((await cliJson(app, 'client', 'approve', 'NoSuchClient')).body.error).toBe('unknown_application');
  }, 120_000);

  it('rotates a secret: the new one is shown once and the old one stops working', async () => {
    const created = await createApp(ada, 'Rotating app');
    const page = await ada.get(created.path);
    const rotated = await ada.post(formAction(page.text, '/rotate'), { csrf: field(page.text, 'csrf') });
    const secret = rotated.text.match(/id="client_secret"[^>]*value="([^"]+)"/)?.[1];
    expect(secret).toBeDefined();
    expect(secret).not.toBe(created.secret);
    expect((await tokenStatus(app, created.clientId, created.secret!, 401)).status).toBe(401);
    await tokenFor(app, created.clientId, secret!);
    expect((await ada.get(created.path)).text).not.toContain(secret);
    const audit = await app.cli('audit', 'list', '--limit', '200', '--json');
    expect(audit.stdout).toContain('application.secret_rotated');
    for (const shown of [created.secret!, secret!]) {
      expect(audit.stdout).not.toContain(shown);
      expect((await ada.get('/portal/activity')).text).not.toContain(shown);
    }
  });

  it('disables and enables an application', async () => {
    const created = await createApp(ada, 'Switchable');
    let page = await ada.get(created.path);
    page = await ada.post(formAction(page.text, '/disable'), { csrf: field(page.text, 'csrf') });
    expect(page.text).toContain('Disabled');
    expect((await tokenStatus(app, created.clientId, created.secret!, 401)).status).toBe(401);
    page = await ada.post(formAction(page.text, '/enable'), { csrf: field(page.text, 'csrf') });
    expect(page.text).toContain('Active');
    await tokenFor(app, created.clientId, created.secret!);
  });

  it('adds the schools of an access request the CLI approves to tokens minted afterwards', async () => {
    await onboard(app, 'lin@example.com', [255901001]);
    const lin = (await signIn(app, 'lin@example.com')).browser;
    const created = await createApp(lin, 'Reach grows');
    expect(decodeJwt(await tokenFor(app, created.clientId, created.secret!)).schools).toEqual(['255901001']);
    const form = await lin.get('/portal/access');
    const sent = await lin.post('/portal/access', { csrf: field(form.text, 'csrf'), school: ['255901044', '255901107'], reason: 'Rolling out to the middle and elementary schools' });
    expect(sent.text).toContain('Pending');
    const listed = (await cliJson(app, 'access', 'list', '--status', 'pending')).body.requests as Array<{ id: string; reason: string; education_organization_ids: number[] }>;
    const mine = listed.find((r) => r.reason.startsWith('Rolling out'))!;
    expect(mine.education_organization_ids).toEqual([255901044, 255901107]);
    const approved = await cliJson(app, 'access', 'approve', mine.id, '--note', 'ok');
    expect(approved).toMatchObject({ code: 0, body: { partner: 'Partner of lin@example.com', status: 'approved', note: 'ok' } });
    const started = Date.now();
    let schools: unknown;
    do schools = decodeJwt(await tokenFor(app, created.clientId, created.secret!)).schools;
    while ((schools as string[]).length < 3 && Date.now() - started < 4000);
    expect(schools).toEqual(['255901001', '255901044', '255901107']);
    expect((await lin.get('/portal/access')).text).toContain('Approved');
    const again = await cliJson(app, 'access', 'deny', mine.id);
    expect(again.body.error).toBe('already_decided');
    expect((await cliJson(app, 'access', 'approve', 'nope')).body.error).toBe('unknown_access_request');
    // A new application gets the widened reach too.
    const later = await createApp(lin, 'Born wide');
    expect(decodeJwt(await tokenFor(app, later.clientId, later.secret!)).schools).toEqual(['255901001', '255901044', '255901107']);
  }, 120_000);

  it('refuses a form posted without its CSRF token and changes nothing', async () => {
    const list = await ada.get('/portal/apps');
    const count = (list.text.match(/<tr><td><a href/g) ?? []).length;
    const forged = await ada.post('/portal/apps', { name: 'Forged', tier: 'standard' });
    expect(forged.res.status).toBe(403);
    expect(forged.text).toContain('did not come from the portal');
    const wrong = await ada.post('/portal/apps', { csrf: 'x'.repeat(43), name: 'Forged', tier: 'standard' });
    expect(wrong.res.status).toBe(403);
    expect(((await ada.get('/portal/apps')).text.match(/<tr><td><a href/g) ?? []).length).toBe(count);
    const notAForm = await ada.request('/portal/apps', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(notAForm.status).toBe(415);
    const badTier = await ada.post('/portal/apps', { csrf: field(list.text, 'csrf'), name: 'x', tier: 'platinum' });
    expect(badTier.res.status).toBe(400);
    expect(badTier.text).toContain('Choose one of the tiers');
  });

  it('shows an application named <script>alert(1)</script> as text', async () => {
    const created = await createApp(ada, '<script>alert(1)</script>');
    for (const page of [(await ada.get('/portal/apps')).text, (await ada.get(created.path)).text]) {
      expect(page).not.toContain('<script>alert(1)</script>');
      expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    }
  });

  it('never redirects outside the portal after sign-in (returnTo)', async () => {
    for (const evil of ['https://evil.example/x', '//evil.example/x', '/\\evil.example', '/portal/../../evil', 'javascript:alert(1)']) {
      expect((await signIn(app, 'ada@example.com', evil)).landed).toBe('/portal/apps');
    }
    expect((await signIn(app, 'ada@example.com', '/portal/access')).landed).toBe('/portal/access');
  });

  it('hides another partner\'s application', async () => {
    const created = await createApp(ada, 'Private');
    await onboard(app, 'mallory@example.com', [255901107]);
    const mallory = (await signIn(app, 'mallory@example.com')).browser;
    const peek = await mallory.get(created.path);
    expect(peek.res.status).toBe(404);
    expect(peek.text).not.toContain('Private');
    const page = await mallory.get('/portal/apps');
    const rotate = await mallory.post(`/portal/apps/${created.clientId}/rotate`, { csrf: field(page.text, 'csrf') });
    expect(rotate.res.status).toBe(404);
    await tokenFor(app, created.clientId, created.secret!); // untouched
    // Ids compare byte for byte: a case or trailing-space variant of one's own id finds nothing either.
    for (const variant of [created.clientId.toLowerCase(), `${created.clientId}%20`]) {
      expect((await ada.get(`/portal/apps/${variant}`)).res.status, variant).toBe(404);
    }
  });

  it('shows this minute\'s calls, today\'s cost and the 429s of the last 24 hours', async () => {
    const created = await createApp(ada, 'Busy app', 'tiny');
    const token = await tokenFor(app, created.clientId, created.secret!);
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await app.fetch(summary, { headers: { authorization: `Bearer ${token}` } })).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const page = (await ada.get(created.path)).text;
    expect(page).toContain('5 <small>of 3 this minute');
    expect(page).toContain('30 <small>of 1,000 today');
    expect(page).toContain('3 <small>admitted</small> · 2 <small>429s');
    expect(page).toMatch(/<title>\d\d:00 UTC: 3 admitted, 2 refused \(429\)<\/title>/);
  });

  it('fills the quick start with the real URLs and the application\'s client_id', async () => {
    const created = await createApp(ada, 'Quick');
    const page = (await ada.get(`/portal/quick-start?app=${created.clientId}`)).text;
    expect(page).toContain(`${app.config.publicUrl}/oauth/token`);
    expect(page).toContain(`&quot;client_id&quot;:&quot;${created.clientId}&quot;`);
    expect(page).toContain(`${app.config.publicUrl}/stats/v1/attendance/summary?school_id=255901001`);
  });

  it('serves the API reference and its renderer locally', async () => {
    const docs = await app.fetch('/docs');
    expect(docs.status).toBe(200);
    const page = await docs.text();
    expect(page).not.toMatch(/https?:\/\/(?!.*edgate)/); // no CDN
    for (const asset of ['/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css', '/docs/assets/docs.js', '/portal/assets/portal.css']) {
      expect((await app.fetch(asset)).status, asset).toBe(200);
    }
  });

  it('advertises the authorization code flow with PKCE in discovery', async () => {
    const doc = (await (await app.fetch('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      authorization_endpoint: expect.stringMatching(/\/oauth\/authorize$/),
      end_session_endpoint: expect.stringMatching(/\/oauth\/session\/end$/),
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
    });
    expect(doc.grant_types_supported).toEqual(expect.arrayContaining(['authorization_code', 'client_credentials']));
  });

  it('ends both sessions at sign-out: the old cookie is refused and the provider asks for the password again', async () => {
    const { browser } = await signIn(app, 'ada@example.com');
    const cookie = [...browser.cookies].find(([name]) => name === 'edgate_portal')![1].value;
    const apps = await browser.get('/portal/apps');
    const confirm = await browser.post('/portal/sign-out', { csrf: field(apps.text, 'csrf') });
    expect(confirm.path).toMatch(/^\/oauth\/session\/end/);
    const done = await browser.post(formAction(confirm.text, '/oauth/session/end/confirm'), { xsrf: field(confirm.text, 'xsrf'), logout: 'yes' });
    expect(done.path).toBe('/portal/signed-out');
    const replay = await app.fetch('/portal/apps', { headers: { cookie: `edgate_portal=${cookie}` }, redirect: 'manual' });
    expect(replay.status).toBe(303);
    expect(replay.headers.get('location')).toMatch(/^\/portal\/sign-in/);
    const again = await browser.get('/portal/sign-in');
    expect(again.path).toMatch(/^\/portal\/interaction\//);
    expect(again.text).toContain('type="password"');
  });

  it('answers 20 wrong passwords with 401s, then 429 per account, and refuses even the right password while blocked', async () => {
    await onboard(app, 'target@example.com');
    const browser = new PortalBrowser(app);
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      const login = await browser.get('/portal/sign-in');
      const res = await browser.post(formAction(login.text, '/login'), { csrf: field(login.text, 'csrf'), email: 'target@example.com', password: `guess ${i}` }, { follow: false });
      statuses.push(res.res.status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(new Set(statuses.slice(5))).toEqual(new Set([429]));
    const login = await browser.get('/portal/sign-in');
    const right = await browser.post(formAction(login.text, '/login'), { csrf: field(login.text, 'csrf'), email: 'target@example.com', password }, { follow: false });
    expect(right.res.status).toBe(429);
    expect(right.res.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await app.cli('audit', 'list', '--limit', '30')).stdout).toContain('user.sign_in_blocked');
    // Another account still signs in: the block is the account's.
    expect((await signIn(app, 'ada@example.com')).landed).toBe('/portal/apps');
  }, 120_000);

  it('refuses a login form without its token, and unknown interactions', async () => {
    const browser = new PortalBrowser(app);
    const login = await browser.get('/portal/sign-in');
    const forged = await browser.post(formAction(login.text, '/login'), { email: 'ada@example.com', password }, { follow: false });
    expect(forged.res.status).toBe(403);
    expect((await browser.get('/portal/interaction/made-up')).res.status).toBe(400);
  });

  it('reports CLI mistakes with stable codes', async () => {
    expect((await cliJson(app, 'partner', 'invite', '--partner', 'nope', '--email', 'x@example.com')).body.error).toBe('unknown_partner');
    const partner = (await cliJson(app, 'partner', 'list')).body.partners[0];
    expect((await cliJson(app, 'partner', 'invite', '--partner', partner.partner_id, '--email', 'not-an-address')).body.error).toBe('invalid_field');
    const other = (await cliJson(app, 'partner', 'add', '--name', 'Other', '--edorg', '255901')).body;
    expect((await cliJson(app, 'partner', 'invite', '--partner', other.partner_id, '--email', 'ADA@example.com')).body.error).toBe('email_taken');
    expect((await cliJson(app, 'partner', 'add', '--name', 'Ghost', '--edorg', '999')).body.error).toBe('unknown_edorg');
    expect((await cliJson(app, 'access', 'list', '--status', 'maybe')).body.error).toBe('invalid_field');
  }, 120_000);

  // Last: it spends this address's failure budget.
  it('blocks an address that fails across many accounts', async () => {
    const browser = new PortalBrowser(app);
    let last = 0;
    for (let i = 0; i < 21; i++) {
      const login = await browser.get('/portal/sign-in');
      last = (await browser.post(formAction(login.text, '/login'), { csrf: field(login.text, 'csrf'), email: `spray${i}@example.com`, password: 'nope' }, { follow: false })).res.status;
    }
    expect(last).toBe(429);
  }, 120_000);
});

describe.each(engines)('portal migration on $name', (engine) => {
  it('rolls back and re-applies', async () => {
    const database = await engine.createDatabase();
    const db = createDb(database.url);
    try {
      await migrate(db);
      expect(await db.schema.hasTable('audit_events')).toBe(true);
      await rollbackAll(db);
      expect(await db.schema.hasTable('audit_events')).toBe(false);
      expect(await db.schema.hasTable('clients')).toBe(false);
      await migrate(db);
      expect(await db.schema.hasTable('portal_sessions')).toBe(true);
    } finally {
      await db.destroy();
      await database.drop();
    }
  });
});

describe.each(engines)('portal sessions shared by instances on $name', (engine) => {
  it.each([false, true].filter((redis) => !redis || redisUrl))('a session started on one instance is valid on another (Redis: %s)', async (withRedis) => {
    const app = await startTestApp(engine, withRedis ? { REDIS_URL: redisUrl! } : {});
    const second = await startServer(app.config);
    try {
      await app.edorgs(...grandBend);
      await onboard(app, 'shared@example.com');
      const { browser, landed } = await signIn(app, 'shared@example.com');
      expect(landed).toBe('/portal/apps');
      const cookie = `edgate_portal=${browser.cookies.get('edgate_portal')!.value}`;
      const elsewhere = await fetch(`${second.url}/portal/apps`, { headers: { cookie }, redirect: 'manual' });
      expect(elsewhere.status).toBe(200);
      expect(await elsewhere.text()).toContain('shared@example.com');
      const rows = await app.services.db('portal_sessions').count({ n: '*' }).first();
      expect(Number(rows!.n) > 0).toBe(!withRedis); // with Redis, sessions live there and not in the table
    } finally {
      await second.close();
      await app.stop();
    }
  }, 120_000);
});

describe.each(engines)('portal cookies under an https PUBLIC_URL on $name', (engine) => {
  it('sets __Host- cookies (Secure, HttpOnly, SameSite=Lax) and a new session id at every sign-in, ending the one before', async () => {
    const app = await startTestApp(engine, { PUBLIC_URL: 'https://edgate.test' });
    try {
      await app.edorgs(...grandBend);
      await onboard(app, 'tls@example.com');
      const browser = new PortalBrowser(app);
      const planted = 'p'.repeat(43); // an id fixed by someone else before sign-in
      browser.cookies.set('__Host-edgate_portal', { value: planted, path: '/' });
      const login = await browser.get('/portal/sign-in');
      const landed = await browser.post(formAction(login.text, '/login'), { csrf: field(login.text, 'csrf'), email: 'tls@example.com', password });
      expect(landed.path).toBe('/portal/apps');
      const first = browser.cookies.get('__Host-edgate_portal')!.value;
      expect(first).not.toBe(planted);
      const portalCookies = browser.setCookies.filter((line) => /^__Host-edgate_(portal|signin)=[^;]/.test(line));
      expect(portalCookies.length).toBeGreaterThanOrEqual(2);
      for (const line of portalCookies) {
        expect(line).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+; Secure$/);
        expect(line).not.toMatch(/domain=/i);
      }
      expect(browser.setCookies.some((line) => /^edgate_portal=/.test(line))).toBe(false);
      // Signing in again (the provider remembers the person) gives a new id, and the old one stops working.
      const again = await browser.get('/portal/sign-in');
      expect(again.path).toBe('/portal/apps');
      const second = browser.cookies.get('__Host-edgate_portal')!.value;
      expect(second).not.toBe(first);
      const replay = await app.fetch('/portal/apps', { headers: { cookie: `__Host-edgate_portal=${first}` }, redirect: 'manual' });
      expect(replay.status).toBe(303);
      expect((await app.fetch('/portal/apps', { headers: { cookie: `__Host-edgate_portal=${second}` }, redirect: 'manual' })).status).toBe(200);
    } finally {
      await app.stop();
    }
  }, 120_000);
});
