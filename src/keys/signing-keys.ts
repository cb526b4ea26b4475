import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import type { SigningKeyRow } from '../db/tables.js';

/**
 * RS256: every token is verified on every API call but signed once an hour per client, and RSA
 * verification (public exponent 65537) is several times faster than ECDSA P-256 or Ed25519
 * verification in OpenSSL. RS256 is also the one JWS algorithm every JOSE library and API gateway
 * implements (RFC 7518 §3.1 "Recommended", RFC 9068 §2.1 requires it be supported).
 */
export const signingAlg = 'RS256';

export interface SigningKeySet {
  /** The key new tokens are signed with. */
  activeKid: string;
  /** Private JWKs for oidc-provider: the active key first, then retired keys still published. */
  privateJwks: JWK[];
  /** Public JWKs: what /.well-known/jwks.json shows and what the gateway verifies against. */
  publicJwks: JWK[];
  /** Changes whenever a key is added or retired; instances compare it to know when to reload. */
  version: string;
}

function wrappingKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'edgate', 'signing-key-encryption', 32));
}

function sealPrivateJwk(jwk: JWK, secret: string | undefined): { private_jwk: string; encrypted: boolean } {
  const plain = JSON.stringify(jwk);
  if (!secret) return { private_jwk: plain, encrypted: false };
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', wrappingKey(secret), iv);
  const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const envelope = { v: 1, iv: iv.toString('base64url'), tag: cipher.getAuthTag().toString('base64url'), ct: ct.toString('base64url') };
  return { private_jwk: JSON.stringify(envelope), encrypted: true };
}

function openPrivateJwk(row: SigningKeyRow, secret: string | undefined): JWK {
  if (!row.encrypted) return JSON.parse(row.private_jwk) as JWK;
  if (!secret) throw new Error(`signing key ${row.kid} is encrypted; set KEY_ENCRYPTION_SECRET to use it`);
  const { iv, tag, ct } = JSON.parse(row.private_jwk) as Record<string, string>;
  const decipher = createDecipheriv('aes-256-gcm', wrappingKey(secret), Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  try {
    return JSON.parse(Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8')) as JWK;
  } catch {
    throw new Error(`signing key ${row.kid} could not be decrypted: KEY_ENCRYPTION_SECRET is not the one it was stored with`);
  }
}

async function newKeyRow(config: Config): Promise<SigningKeyRow> {
  const { privateKey, publicKey } = await generateKeyPair(signingAlg, { modulusLength: 2048, extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const meta = { kid, alg: signingAlg, use: 'sig' };
  return {
    kid,
    alg: signingAlg,
    public_jwk: JSON.stringify({ ...publicJwk, ...meta }),
    ...sealPrivateJwk({ ...(await exportJWK(privateKey)), ...meta }, config.keyEncryptionSecret),
    created_at: Date.now(),
    retired_at: null,
  };
}

/** A retired key stays published until every token it signed has expired (plus a minute of clock skew). */
function stillPublished(row: SigningKeyRow, config: Config, now: number): boolean {
  return row.retired_at === null || Number(row.retired_at) + (config.tokenTtlSeconds + 60) * 1000 > now;
}

/** Newest unretired key signs; if two instances raced to create the first key, both stay published. */
function newestFirst(a: SigningKeyRow, b: SigningKeyRow): number {
  const retired = Number(a.retired_at !== null) - Number(b.retired_at !== null);
  return retired || Number(b.created_at) - Number(a.created_at) || a.kid.localeCompare(b.kid);
}

export async function loadSigningKeys(db: Db, config: Config, now = Date.now()): Promise<SigningKeySet> {
  let rows = (await db<SigningKeyRow>('signing_keys').select()).filter((r) => stillPublished(r, config, now));
  if (!rows.some((r) => r.retired_at === null)) {
    await db('signing_keys').insert(await newKeyRow(config));
    rows = (await db<SigningKeyRow>('signing_keys').select()).filter((r) => stillPublished(r, config, now));
  }
  rows.sort(newestFirst);
  return {
    activeKid: rows[0].kid,
    privateJwks: rows.map((r) => openPrivateJwk(r, config.keyEncryptionSecret)),
    publicJwks: rows.map((r) => JSON.parse(r.public_jwk) as JWK),
    version: rows.map((r) => `${r.kid}:${r.retired_at ?? ''}`).join(','),
  };
}

/** The cheap query instances poll to notice a rotation made elsewhere. */
export async function signingKeysVersion(db: Db, config: Config, now = Date.now()): Promise<string> {
  const rows = (await db<SigningKeyRow>('signing_keys').select('kid', 'created_at', 'retired_at')).filter((r) =>
    stillPublished(r as SigningKeyRow, config, now),
  );
  return (rows as SigningKeyRow[]).sort(newestFirst).map((r) => `${r.kid}:${r.retired_at ?? ''}`).join(',');
}

export async function rotateSigningKey(db: Db, config: Config): Promise<string> {
  const row = await newKeyRow(config);
  await db.transaction(async (trx) => {
    await trx('signing_keys').whereNull('retired_at').update({ retired_at: Date.now() });
    await trx('signing_keys').insert(row);
  });
  return row.kid;
}

export async function listSigningKeys(db: Db, config: Config, now = Date.now()) {
  const rows = await db<SigningKeyRow>('signing_keys').select('kid', 'alg', 'encrypted', 'created_at', 'retired_at').orderBy('created_at', 'desc');
  return rows.map((r) => {
    const publishedUntil = r.retired_at === null ? null : Number(r.retired_at) + (config.tokenTtlSeconds + 60) * 1000;
    const status = r.retired_at === null ? 'active' : publishedUntil! > now ? 'retired (published)' : 'expired';
    return {
      kid: r.kid,
      alg: r.alg,
      status,
      encrypted: Boolean(r.encrypted),
      created_at: new Date(Number(r.created_at)).toISOString(),
      retired_at: r.retired_at === null ? null : new Date(Number(r.retired_at)).toISOString(),
      published_until: publishedUntil === null ? null : new Date(publishedUntil).toISOString(),
    };
  });
}
