import { createHash, randomBytes } from 'node:crypto';

import type { Db } from '../db/knex.js';
import type { RedisClient } from '../db/redis.js';

/** A signed-in person: who, for which partner, their CSRF token and what sign-out needs. */
export interface PortalSession {
  kind: 'session';
  userId: string;
  partnerId: string;
  email: string;
  csrf: string;
  /** For the provider's sign-out (id_token_hint); never shown, never logged. */
  idToken: string;
  createdAt: number;
  /** A secret to show once, sealed (AES-GCM) until the page that shows it is drawn. */
  flash?: { clientId: string; sealed: string; rotated: boolean };
  /** New Application form ids already used, so a resubmitted form creates nothing twice. */
  usedForms?: string[];
}

/** What the portal remembers between sending the browser to the provider and its return. */
export interface SignInState {
  kind: 'sign-in';
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
}

export type StoredState = PortalSession | SignInState;

/**
 * Server-side state shared by every instance: the database by default, Redis when configured.
 * Keyed by the SHA-256 of the cookie's id, so a read of the store yields no usable cookie.
 */
export interface SessionStore {
  get(id: string): Promise<StoredState | undefined>;
  set(id: string, data: StoredState, ttlMs: number): Promise<void>;
  delete(id: string): Promise<void>;
}

/** 256 random bits: the only thing the browser holds. */
export const newSessionId = () => randomBytes(32).toString('base64url');

const keyOf = (id: string) => createHash('sha256').update(id).digest('hex');

/** Cookie values are checked for shape first, so junk never reaches the store. */
const wellFormed = (id: string | undefined): id is string => typeof id === 'string' && /^[A-Za-z0-9_-]{43}$/.test(id);

export function databaseSessions(db: Db): SessionStore {
  let lastSweep = 0;
  return {
    async get(id) {
      if (!wellFormed(id)) return undefined;
      const key = keyOf(id);
      const row = await db('portal_sessions').where({ id_hash: key }).first('id_hash', 'data', 'expires_at');
      if (!row || row.id_hash !== key || Number(row.expires_at) <= Date.now()) return undefined;
      return JSON.parse(row.data) as StoredState;
    },
    async set(id, data, ttlMs) {
      const row = { data: JSON.stringify(data), expires_at: Date.now() + ttlMs };
      await db('portal_sessions').insert({ id_hash: keyOf(id), ...row }).onConflict('id_hash').merge(row);
      // Expired rows are swept now and then by whichever instance writes; reads already ignore them.
      if (Date.now() - lastSweep > 60_000) {
        lastSweep = Date.now();
        await db('portal_sessions').where('expires_at', '<=', Date.now()).del();
      }
    },
    async delete(id) {
      if (wellFormed(id)) await db('portal_sessions').where({ id_hash: keyOf(id) }).del();
    },
  };
}

export function redisSessions(redis: RedisClient, prefix: string): SessionStore {
  const key = (id: string) => `${prefix}portal-session:${keyOf(id)}`;
  return {
    async get(id) {
      if (!wellFormed(id)) return undefined;
      const raw = await redis.get(key(id));
      return raw ? (JSON.parse(raw) as StoredState) : undefined;
    },
    async set(id, data, ttlMs) {
      await redis.set(key(id), JSON.stringify(data), 'PX', Math.max(1, Math.round(ttlMs)));
    },
    async delete(id) {
      if (wellFormed(id)) await redis.del(key(id));
    },
  };
}
