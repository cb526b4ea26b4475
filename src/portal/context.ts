import { parse as parseQuery } from 'node:querystring';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';

import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import type { RedisClient } from '../db/redis.js';
import { ApiError } from '../errors.js';
import type { RateLimits } from '../gateway/rate-limit.js';
import type { UsageMeter } from '../gateway/usage.js';
import { readRawBody } from '../http/body.js';
import type { Keyring } from '../keys/keyring.js';
import { audit, type AuditEntry } from './audit.js';
import { cookieNames, readCookie, type CookieNames } from './cookies.js';
import { layout, type Page } from './layout.js';
import type { LoginLimits } from './login-limits.js';
import { requirePartner, type Partner } from './partners.js';
import { sameToken } from './seal.js';
import type { PortalSession, SessionStore } from './sessions.js';

/** What the portal's routes receive; nothing reaches for a global. */
export interface PortalDeps {
  config: Config;
  db: Db;
  logger: Logger;
  hashKey: Buffer;
  keyring: Keyring;
  sessions: SessionStore;
  loginLimits: LoginLimits;
  limits: RateLimits;
  usage: UsageMeter;
  redis?: RedisClient;
  /** The provider of the current signing keys (it is rebuilt when they rotate). */
  provider(): Provider;
  cookies: CookieNames;
}

export const portalClientId = 'edgate-portal';

export function portalCookies(config: Config): CookieNames {
  return cookieNames(config.publicUrl);
}

/** A signed-in request: the session, its id and the partner. */
export interface SignedIn {
  id: string;
  session: PortalSession;
  partner: Partner;
}

export async function currentSession(ctx: Context, deps: PortalDeps): Promise<SignedIn | undefined> {
  const id = readCookie(ctx, deps.cookies.session);
  if (!id) return undefined;
  const stored = await deps.sessions.get(id);
  if (stored?.kind !== 'session') return undefined;
  const partner = await requirePartner(deps.db, stored.partnerId).catch(() => undefined);
  return partner && { id, session: stored, partner };
}

/** Where to go after sign-in: only a path inside the portal, never another host (no open redirect). */
export function safeReturnTo(raw: unknown): string {
  if (typeof raw !== 'string') return '/portal/apps';
  return /^\/portal(\/[A-Za-z0-9_-]+)*\/?(\?[A-Za-z0-9_=&%.-]*)?$/.test(raw) ? raw : '/portal/apps';
}

export function sessionTtlMs(deps: PortalDeps, session: PortalSession): number {
  return session.createdAt + deps.config.portal.sessionHours * 3600_000 - Date.now();
}

export function send(ctx: Context, page: Page, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.body = layout(page);
}

export function userOf(signedIn: SignedIn) {
  return { email: signedIn.session.email, partnerName: signedIn.partner.name, csrf: signedIn.session.csrf };
}

/** A form post's fields, after its CSRF token was checked against the one in the session. */
export async function formOf(ctx: Context, csrf: string): Promise<Record<string, string>> {
  const form = await readForm(ctx);
  if (!sameToken(csrf, form.csrf)) throw new ApiError('csrf_token_invalid', 'This form expired or did not come from the portal. Go back, reload the page and try again.');
  return form;
}

/** Form fields; repeated fields (checkbox lists) come back joined by commas. */
export async function readForm(ctx: Context): Promise<Record<string, string>> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new ApiError('unsupported_media_type', 'Forms are posted as application/x-www-form-urlencoded.');
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(parseQuery((await readRawBody(ctx)).toString('utf8')))) {
    if (value !== undefined) fields[key] = Array.isArray(value) ? value.join(',') : value;
  }
  return fields;
}

export async function record(ctx: Context, deps: PortalDeps, entry: Omit<AuditEntry, 'requestId'>): Promise<void> {
  await audit(deps.db, { ...entry, requestId: ctx.state.requestId as string });
}

export function actorOf(signedIn: SignedIn) {
  return { kind: 'user' as const, email: signedIn.session.email, partnerId: signedIn.partner.id };
}
