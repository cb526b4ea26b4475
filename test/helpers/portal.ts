import type { TestApp } from './app.js';
import { createPartner, invite, redeemInvite } from '../../src/portal/partners.js';
import { hashPassword } from '../../src/portal/passwords.js';

interface Cookie {
  value: string;
  path: string;
}

/**
 * A browser without a browser: a cookie jar (paths honoured, Max-Age=0 deletes) and manual
 * redirects, with the app's PUBLIC_URL host mapped onto the test server.
 */
export class PortalBrowser {
  readonly cookies = new Map<string, Cookie>();
  /** Every Set-Cookie line received, attributes included, in order. */
  readonly setCookies: string[] = [];
  constructor(private readonly app: TestApp) {}

  private cookieHeader(path: string): string {
    return [...this.cookies].filter(([, c]) => path.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`).join('; ');
  }

  private remember(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      this.setCookies.push(line);
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const path = attrs.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const gone = attrs.some((a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
      if (gone || value === '') this.cookies.delete(name);
      else this.cookies.set(name, { value, path });
    }
  }

  /** A path of the app, from an absolute URL on PUBLIC_URL or a relative one. */
  localPath(location: string): string {
    const url = new URL(location, this.app.config.publicUrl);
    return url.pathname + url.search;
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const local = this.localPath(path);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(local.split('?')[0]);
    if (cookie) headers.set('cookie', cookie);
    const res = await this.app.fetch(local, { ...init, headers, redirect: 'manual' });
    this.remember(res);
    return res;
  }

  /** Follows redirects (GET after 303/302) until a page answers; returns it with its final path. */
  async follow(path: string, init: RequestInit = {}): Promise<{ res: Response; path: string; text: string }> {
    let res = await this.request(path, init);
    let at = this.localPath(path);
    for (let hops = 0; res.status >= 300 && res.status < 400 && hops < 10; hops++) {
      at = this.localPath(res.headers.get('location')!);
      res = await this.request(at);
    }
    return { res, path: at, text: await res.text() };
  }

  get(path: string) {
    return this.follow(path);
  }

  post(path: string, fields: Record<string, string | string[]>, { follow = true } = {}) {
    const body = new URLSearchParams();
    for (const [key, value] of Object.entries(fields)) for (const v of [value].flat()) body.append(key, v);
    const init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() };
    return follow ? this.follow(path, init) : this.request(path, init).then(async (res) => ({ res, path, text: await res.text() }));
  }
}

/** The value of a named input in a page. */
export function field(page: string, name: string): string {
  const match = page.match(new RegExp(`name="${name}"[^>]*value="([^"]*)"`)) ?? page.match(new RegExp(`value="([^"]*)"[^>]*name="${name}"`));
  if (!match) throw new Error(`no field ${name} in page`);
  return match[1].replace(/&amp;/g, '&');
}

export function formAction(page: string, contains: string): string {
  const actions = [...page.matchAll(/<form[^>]*action="([^"]+)"/g)].map((m) => m[1].replace(/&amp;/g, '&'));
  const action = actions.find((a) => a.includes(contains));
  if (!action) throw new Error(`no form posting to *${contains}* in page: ${actions.join(', ')}`);
  return action;
}


export const password = 'correct horse battery staple';

/** A partner with one person whose password is set, straight through the data layer. */
export async function onboard(app: TestApp, email: string, edorgIds: number[] = [255901001]) {
  const { db, hashKey } = app.services;
  const partner = await createPartner(db, { name: `Partner of ${email}`, edorgIds });
  const { token } = await invite(db, hashKey, partner.id, email);
  await redeemInvite(db, hashKey, token, await hashPassword(password));
  return partner;
}

/** Signs in through the provider's login page; returns the browser holding the portal session. */
export async function signIn(app: TestApp, email: string, returnTo?: string): Promise<{ browser: PortalBrowser; landed: string; page: string }> {
  const browser = new PortalBrowser(app);
  const login = await browser.get(`/portal/sign-in${returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`}`);
  const done = await browser.post(formAction(login.text, '/login'), { csrf: field(login.text, 'csrf'), email, password });
  return { browser, landed: done.path, page: done.text };
}

/** Creates an application through the New Application form; returns its client id and the page that showed the secret. */
export async function createApp(browser: PortalBrowser, name: string, tier = 'standard') {
  const list = await browser.get('/portal/apps');
  const shown = await browser.post('/portal/apps', { csrf: field(list.text, 'csrf'), form_id: field(list.text, 'form_id'), name, tier });
  const clientId = shown.path.split('/').pop()!;
  const secret = shown.text.match(/id="client_secret"[^>]*value="([^"]+)"/)?.[1];
  return { clientId, secret, page: shown.text, path: shown.path, formId: field(list.text, 'form_id'), csrf: field(list.text, 'csrf') };
}
