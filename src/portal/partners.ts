import { missingEdorgs } from '../db/edorgs.js';
import type { Db } from '../db/knex.js';
import { ApiError } from '../errors.js';
import { generateSecret, keyedHash } from '../secret-hash.js';
import { newId } from './ids.js';

export interface Partner {
  id: string;
  name: string;
  edorgIds: number[];
  createdAt: number;
}

export interface PortalUser {
  id: string;
  partnerId: string;
  email: string;
  passwordHash: string | null;
}

interface UserRow {
  id: string;
  partner_id: string;
  email: string;
  password_hash: string | null;
}

/** How long an invite link works. */
export const inviteTtlMs = 72 * 3600 * 1000;

/** E-mail addresses compare as typed by people: trimmed and lower-cased once, then byte for byte. */
export function normaliseEmail(raw: string): string {
  return raw.trim().toLowerCase();
}

export function validEmail(email: string): boolean {
  return email.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email);
}

async function partnerEdorgIds(db: Db, partnerId: string): Promise<number[]> {
  const rows = await db('partner_edorgs').where({ partner_id: partnerId }).orderBy('edorg_id').select('edorg_id');
  return rows.map((r: { edorg_id: number }) => Number(r.edorg_id));
}

export async function createPartner(db: Db, input: { name?: string; edorgIds: number[] }): Promise<Partner> {
  const name = input.name?.trim();
  if (!name || name.length > 255) throw new ApiError('missing_field', '--name is required (1–255 characters)');
  const missing = await missingEdorgs(db, input.edorgIds);
  if (missing.length) throw new ApiError('unknown_edorg', `no education organisation with id ${missing.join(', ')}`);
  const id = newId();
  const now = Date.now();
  await db.transaction(async (trx) => {
    await trx('partners').insert({ id, name, created_at: now });
    const unique = [...new Set(input.edorgIds)];
    if (unique.length) await trx('partner_edorgs').insert(unique.map((edorg_id) => ({ partner_id: id, edorg_id })));
  });
  return requirePartner(db, id);
}

export async function findPartner(db: Db, id: string): Promise<Partner | undefined> {
  const row = await db('partners').where({ id }).first('id', 'name', 'created_at');
  return row && { id: row.id, name: row.name, createdAt: Number(row.created_at), edorgIds: await partnerEdorgIds(db, id) };
}

export async function requirePartner(db: Db, id: string): Promise<Partner> {
  const partner = await findPartner(db, id);
  if (!partner) throw new ApiError('unknown_partner', `no partner with id ${id}`);
  return partner;
}

export async function listPartners(db: Db): Promise<Partner[]> {
  const rows = await db('partners').orderBy('created_at').orderBy('id').select('id');
  return Promise.all(rows.map((r: { id: string }) => requirePartner(db, r.id)));
}

function toUser(row: UserRow): PortalUser {
  return { id: row.id, partnerId: row.partner_id, email: row.email, passwordHash: row.password_hash };
}

export async function findUserByEmail(db: Db, email: string): Promise<PortalUser | undefined> {
  const row = await db<UserRow>('portal_users').where({ email: normaliseEmail(email) }).first();
  return row && toUser(row);
}

export async function findUser(db: Db, id: string): Promise<PortalUser | undefined> {
  const row = await db<UserRow>('portal_users').where({ id }).first();
  return row && toUser(row);
}

/**
 * Invites a person to a partner: creates the user (or reuses one of the same partner) and a
 * one-time token. Only the token's keyed hash is stored; the token goes out in the link, once.
 */
export async function invite(db: Db, hashKey: Buffer, partnerId: string, rawEmail: string, now = Date.now()): Promise<{ user: PortalUser; token: string; expiresAt: number }> {
  const email = normaliseEmail(rawEmail);
  if (!validEmail(email)) throw new ApiError('invalid_field', `--email must be an e-mail address, got "${rawEmail}"`);
  await requirePartner(db, partnerId);
  const existing = await findUserByEmail(db, email);
  if (existing && existing.partnerId !== partnerId) throw new ApiError('email_taken', `${email} already belongs to another partner`);
  const token = generateSecret();
  const expiresAt = now + inviteTtlMs;
  const user = existing ?? { id: newId(), partnerId, email, passwordHash: null };
  await db.transaction(async (trx) => {
    if (!existing) await trx('portal_users').insert({ id: user.id, partner_id: partnerId, email, password_hash: null, created_at: now, updated_at: now });
    await trx('portal_invites').insert({ token_hash: keyedHash(hashKey, token), user_id: user.id, created_at: now, expires_at: expiresAt, used_at: null });
  });
  return { user, token, expiresAt };
}

/** The user an unused, unexpired invite token belongs to, or undefined. */
export async function userForInvite(db: Db, hashKey: Buffer, token: string, now = Date.now()): Promise<PortalUser | undefined> {
  const invite = await db('portal_invites').where({ token_hash: keyedHash(hashKey, token) }).first('user_id', 'expires_at', 'used_at');
  if (!invite || invite.used_at !== null || Number(invite.expires_at) <= now) return undefined;
  return findUser(db, invite.user_id);
}

/**
 * Spends the invite and sets the password in one transaction; false when the token was spent
 * (or expired) meanwhile, so two submissions of the same link cannot both succeed.
 */
export async function redeemInvite(db: Db, hashKey: Buffer, token: string, passwordHash: string, now = Date.now()): Promise<PortalUser | undefined> {
  return db.transaction(async (trx) => {
    const tokenHash = keyedHash(hashKey, token);
    const invite = await trx('portal_invites').where({ token_hash: tokenHash }).first('user_id');
    if (!invite) return undefined;
    const spent = await trx('portal_invites').where({ token_hash: tokenHash, used_at: null }).where('expires_at', '>', now).update({ used_at: now });
    if (spent !== 1) return undefined;
    await trx('portal_users').where({ id: invite.user_id }).update({ password_hash: passwordHash, updated_at: now });
    const row = await trx<UserRow>('portal_users').where({ id: invite.user_id }).first();
    return row && toUser(row);
  });
}
