import { randomBytes } from 'node:crypto';

import type { Db } from '../db/knex.js';
import { ApiError } from '../errors.js';
import { generateSecret, keyedHash, secretMatches } from '../secret-hash.js';

/** Live secrets an institution may hold at once: the current one and the one being rotated in. */
export const liveSecretsPerInstitution = 2;

export interface SisSecretRow {
  id: string;
  edorg_id: number;
  secret_hash: string;
  created_at: number;
}

/** The public view of a secret: never the hash. */
export interface SisSecretView {
  secret_id: string;
  institution: number;
  created_at: string;
}

const view = (row: Pick<SisSecretRow, 'id' | 'edorg_id' | 'created_at'>): SisSecretView => ({
  secret_id: row.id,
  institution: Number(row.edorg_id),
  created_at: new Date(Number(row.created_at)).toISOString(),
});

async function requireInstitution(db: Db, institution: number): Promise<void> {
  const found = await db('education_organizations').where({ id: institution }).first('id');
  if (!found) throw new ApiError('unknown_edorg', `education organisation ${institution} does not exist; add it with "edgate edorg add" first`, {}, {}, 404);
}

/**
 * Issues a new secret and retires all but the newest `liveSecretsPerInstitution`, so issuing is
 * also how an institution rotates: issue, switch the SIS over, then revoke the old one (or issue
 * again, which retires it).
 */
export async function issueSisSecret(db: Db, hashKey: Buffer, institution: number) {
  await requireInstitution(db, institution);
  const secret = generateSecret();
  const row = { id: randomBytes(8).toString('hex'), edorg_id: institution, secret_hash: keyedHash(hashKey, secret), created_at: Date.now() };
  const retired = await db.transaction(async (trx) => {
    await trx('sis_secrets').insert(row);
    const live = await trx<SisSecretRow>('sis_secrets').where({ edorg_id: institution }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id', order: 'desc' }]).select('id', 'edorg_id', 'created_at');
    const older = live.filter((r) => r.id !== row.id).slice(liveSecretsPerInstitution - 1);
    if (older.length) await trx('sis_secrets').whereIn('id', older.map((r) => r.id)).del();
    return older.map(view);
  });
  return { secret, issued: view(row), retired };
}

/** Revokes every secret of an institution, or just the one named by `secretId`. */
export async function revokeSisSecrets(db: Db, institution: number, secretId?: string): Promise<SisSecretView[]> {
  await requireInstitution(db, institution);
  const scope = db<SisSecretRow>('sis_secrets').where({ edorg_id: institution });
  if (secretId) scope.andWhere({ id: secretId });
  const doomed = await scope.clone().select('id', 'edorg_id', 'created_at');
  if (secretId && !doomed.length) throw new ApiError('unknown_secret', `institution ${institution} has no secret with id ${secretId}`);
  if (doomed.length) await db('sis_secrets').whereIn('id', doomed.map((r) => r.id)).del();
  return doomed.map(view);
}

export async function listSisSecrets(db: Db, institution?: number): Promise<SisSecretView[]> {
  const query = db<SisSecretRow>('sis_secrets').select('id', 'edorg_id', 'created_at').orderBy(['edorg_id', 'created_at']);
  if (institution !== undefined) query.where({ edorg_id: institution });
  return (await query).map(view);
}

export type SecretCheck = { status: 'ok'; institution: number } | { status: 'unknown' } | { status: 'none_issued' };

/**
 * Finds the institution behind a presented secret: look up by keyed hash, then compare the digests
 * in constant time, so neither the lookup nor the comparison reveals how close a guess came.
 */
export async function institutionForSecret(db: Db, hashKey: Buffer, presented: string | undefined): Promise<SecretCheck> {
  const row = presented
    ? await db<SisSecretRow>('sis_secrets').where({ secret_hash: keyedHash(hashKey, presented) }).first('edorg_id', 'secret_hash')
    : undefined;
  if (row && secretMatches(hashKey, presented!, row.secret_hash)) return { status: 'ok', institution: Number(row.edorg_id) };
  const anyIssued = await db('sis_secrets').first('id');
  return anyIssued ? { status: 'unknown' } : { status: 'none_issued' };
}
