import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import axe from 'axe-core';
import { decodeJwt } from 'jose';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';

/**
 * The portal in a real browser (Debian's chromium, driven by playwright-core). SQLite only: the
 * HTTP and data behaviour is covered on both engines by portal.test.ts, and a second browser run
 * on MariaDB would double the slowest file of the suite for no new browser behaviour.
 */
const executablePath = '/usr/bin/chromium';
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const shots = fromRoot('test-artifacts', 'screenshots');
const password = 'a long and memorable passphrase';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** axe-core on the current page: no serious or critical violation. */
async function accessible(page: Page, label: string): Promise<void> {
  // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') rightly blocks injected script tags.
  await page.evaluate(axe.source);
  const results = (await page.evaluate(() => (globalThis as unknown as { axe: typeof axe }).axe.run())) as axe.AxeResults;
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(' | ')}`), label).toEqual([]);
}

const seen = new Set<string>();
/** A screenshot per page (test artifact) and an accessibility check of it. */
async function visit(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  await accessible(page, name);
  seen.add(name);
}

const sqlite = engines.find((e) => e.name === 'sqlite')!;

describe.skipIf(!existsSync(executablePath))('developer portal in a browser (chromium, SQLite)', () => {
  let app: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let partnerId: string;
  let clientId: string;
  let secret: string;
  const dialogs: string[] = [];

  const url = (path: string) => `${app.config.publicUrl}${path}`;
  const token = async (id: string, key: string) =>
    app.fetch('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: id, client_secret: key, grant_type: 'client_credentials' }) });
  /** CLI changes reach token issuance within the client cache's 2 seconds. */
  const tokenUntil = async (id: string, key: string, status: number) => {
    const started = Date.now();
    let res = await token(id, key);
    while (res.status !== status && Date.now() - started < 4000) {
      await new Promise((r) => setTimeout(r, 250));
      res = await token(id, key);
    }
    return res;
  };
  const secretOnPage = () => page.locator('#client_secret').inputValue();

  beforeAll(async () => {
    mkdirSync(shots, { recursive: true });
    const port = await freePort();
    app = await startTestApp(sqlite, { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
    await app.edorgs(...grandBend);
    partnerId = JSON.parse((await app.cli('partner', 'add', '--name', 'Northwind Learning', '--edorg', '255901001', '--json')).stdout).partner_id;
    browser = await chromium.launch({ executablePath, args: flags, headless: true });
    context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    page = await context.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('takes a new partner from the invite link to a first 200 from the attendance summary', async () => {
    const invite = JSON.parse((await app.cli('partner', 'invite', '--partner', partnerId, '--email', 'dev@northwind.example', '--json')).stdout);
    const started = Date.now();
    await page.goto(url('/portal'));
    await visit(page, '01-landing');
    await page.goto(invite.invite_url);
    await visit(page, '02-invite');
    await page.fill('#password', password);
    await page.fill('#confirm', password);
    await page.click('button[type=submit]');
    await visit(page, '03-password-set');
    await page.click('text=Sign in >> nth=-1');
    await page.waitForURL(/\/portal\/interaction\//);
    await visit(page, '04-sign-in');
    await page.fill('#email', 'dev@northwind.example');
    await page.fill('#password', password);
    await page.click('button:has-text("Sign in")');
    await page.waitForURL(/\/portal\/apps$/);
    await visit(page, '05-applications');
    await page.fill('#name', 'Attendance dashboard');
    await page.check('input[name=tier][value=standard]');
    await page.click('button:has-text("Create application")');
    await page.waitForURL(/\/portal\/apps\/[A-Za-z0-9]{20}$/);
    clientId = await page.locator('#client_id').inputValue();
    secret = await secretOnPage();
    await visit(page, '06-credentials-once');
    const issued = await token(clientId, secret);
    expect(issued.status).toBe(200);
    const { access_token } = (await issued.json()) as { access_token: string };
    const first = await app.fetch('/stats/v1/attendance/summary?school_id=255901001', { headers: { authorization: `Bearer ${access_token}` } });
    expect(first.status).toBe(200);
    const seconds = (Date.now() - started) / 1000;
    console.log(`onboarding, invite link to first 200: ${seconds.toFixed(1)} s (scripted browser; the promise to a person is five minutes)`);
    expect(seconds).toBeLessThan(300);
    // The copy button (hidden until the script runs) puts the secret on the clipboard.
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.config.publicUrl });
    const copy = page.locator('button[data-copy=client_secret]');
    await copy.click();
    // The label changes once the clipboard write resolves, after the click returns.
    await expect.poll(() => copy.textContent(), { timeout: 10_000 }).toBe('Copied');
    expect(await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText())).toBe(secret);
  }, 120_000);

  it('never shows the secret again after a reload', async () => {
    await page.reload();
    expect(await page.locator('#client_secret').count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    await visit(page, '07-application');
  });

  it('rotates the secret: shown once, the old one dead', async () => {
    await page.click('button:has-text("Rotate secret")');
    const rotated = await secretOnPage();
    expect(rotated).not.toBe(secret);
    expect((await tokenUntil(clientId, secret, 401)).status).toBe(401);
    expect((await token(clientId, rotated)).status).toBe(200);
    secret = rotated;
  });

  it('puts the schools of an access request approved by the CLI into a new token', async () => {
    await page.goto(url('/portal/access'));
    await page.check('input[name=school][value="255901044"]');
    await page.fill('#reason', 'Our pilot extends to the middle school');
    await page.click('button:has-text("Send request")');
    await visit(page, '08-school-access');
    const requests = JSON.parse((await app.cli('access', 'list', '--status', 'pending', '--json')).stdout).requests as Array<{ id: string }>;
    expect((await app.cli('access', 'approve', requests[0].id)).code).toBe(0);
    const started = Date.now();
    let schools: unknown = [];
    while (!(schools as string[]).includes('255901044') && Date.now() - started < 4000) {
      schools = decodeJwt(((await (await token(clientId, secret)).json()) as { access_token: string }).access_token).schools;
    }
    expect(schools).toEqual(['255901001', '255901044']);
    await page.reload();
    expect(await page.locator('text=Approved').count()).toBe(1);
  }, 60_000);

  it('gives a pending premium application no token', async () => {
    await page.goto(url('/portal/apps'));
    await page.fill('#name', 'District analytics');
    await page.check('input[name=tier][value=premium]');
    await page.click('button:has-text("Create application")');
    await page.waitForURL(/\/portal\/apps\/[A-Za-z0-9]{20}$/);
    expect(await page.locator('text=Pending approval').count()).toBeGreaterThan(0);
    const res = await token(await page.locator('#client_id').inputValue(), await secretOnPage());
    expect(res.status).toBe(401);
    await visit(page, '09-pending-application');
  });

  it('shows usage, the quick start, activity and the API reference', async () => {
    await page.goto(url(`/portal/apps/${clientId}`));
    expect(await page.locator('svg.chart').count()).toBe(1);
    await page.goto(url(`/portal/quick-start?app=${clientId}`));
    expect(await page.content()).toContain(clientId);
    await visit(page, '10-quick-start');
    await page.goto(url('/portal/activity'));
    await visit(page, '11-activity');
    await page.goto(url('/docs'));
    // Swagger UI resolves the whole document (about 700 kB: every verb, change query and profile media type) before it
    // draws; on a loaded 2-core machine that takes 10–25 s.
    await page.waitForSelector('.opblock', { timeout: 45_000 });
    await visit(page, '12-api-reference');
  }, 90_000);

  it('refuses a POST without the CSRF token, and creates nothing', async () => {
    await page.goto(url('/portal/apps'));
    const before = await page.locator('tbody tr').count();
    const res = await context.request.post(url('/portal/apps'), { form: { name: 'Forged', tier: 'free' }, maxRedirects: 0 });
    expect(res.status()).toBe(403);
    await page.setContent(await res.text());
    await page.goto(url('/portal/apps'));
    expect(await page.locator('tbody tr').count()).toBe(before);
  });

  it('shows an application named <script>alert(1)</script> as text and runs nothing', async () => {
    await page.fill('#name', '<script>alert(1)</script>');
    await page.click('button:has-text("Create application")');
    await page.waitForURL(/\/portal\/apps\/[A-Za-z0-9]{20}$/);
    await page.goto(url('/portal/apps'));
    expect(await page.locator('a', { hasText: '<script>alert(1)</script>' }).count()).toBe(1);
    expect(dialogs).toEqual([]);
  });

  it('ignores an open-redirect returnTo', async () => {
    await page.goto(url('/portal/sign-in?returnTo=https://evil.example/steal'));
    await page.waitForURL(/\/portal\/apps$/);
    expect(new URL(page.url()).origin).toBe(app.config.publicUrl);
  });

  it('refuses the session cookie replayed after sign-out, and asks for the password again', async () => {
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'edgate_portal')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    await page.click('button:has-text("Sign out")');
    await page.waitForURL(/\/oauth\/session\/end/);
    await visit(page, '13-sign-out');
    await page.click('button:has-text("Sign out of edgate")');
    await page.waitForURL(/\/portal\/signed-out$/);
    await visit(page, '14-signed-out');
    const replay = await browser.newContext();
    await replay.addCookies(cookies.filter((c) => c.name === 'edgate_portal'));
    const replayed = await replay.newPage();
    await replayed.goto(url('/portal/apps'));
    expect(replayed.url()).toMatch(/\/portal\/interaction\//);
    await replay.close();
    await page.goto(url('/portal/apps'));
    expect(page.url()).toMatch(/\/portal\/interaction\//); // the provider's session ended too
  });

  it('stops 20 wrong passwords in a row', async () => {
    let last = '';
    for (let i = 0; i < 20; i++) {
      if (!page.url().includes('/portal/interaction/')) await page.goto(url('/portal/sign-in'));
      await page.fill('#email', 'dev@northwind.example');
      await page.fill('#password', `wrong guess ${i}`);
      await page.click('button:has-text("Sign in")');
      last = (await page.locator('[role=alert]').textContent()) ?? '';
    }
    expect(last).toContain('Too many failed sign-ins');
    await visit(page, '15-too-many-attempts');
    await page.fill('#email', 'dev@northwind.example');
    await page.fill('#password', password);
    await page.click('button:has-text("Sign in")');
    expect(page.url()).toMatch(/\/portal\/interaction\//);
    expect(await page.locator('[role=alert]').textContent()).toContain('Too many failed sign-ins');
  }, 120_000);

  it('checked every page it visited for accessibility', () => {
    expect(seen.size).toBe(15);
  });
});
