import { randomBytes } from 'node:crypto';

import type { Config } from '../config/index.js';
import type { Db } from './knex.js';
import { isDuplicateKey } from './driver-errors.js';

async function getOrCreate(db: Db, name: string, create: () => string): Promise<string> {
  const row = await db('settings').where({ name }).first('value');
  if (row) return row.value as string;
  try {
    await db('settings').insert({ name, value: create() });
  } catch (err) {
    // Another process created it first; theirs wins.
    if (!isDuplicateKey(err)) throw err;
  }
  return (await db('settings').where({ name }).first('value')).value as string;
}

/**
 * The HMAC key for client and SIS secrets. Production supplies SECRET_HASH_KEY (config refuses to
 * start without it); development generates one and keeps it in the database so hashes survive restarts.
 */
export async function resolveSecretHashKey(db: Db, config: Config): Promise<Buffer> {
  if (config.secretHashKey) return Buffer.from(config.secretHashKey, 'utf8');
  const hex = await getOrCreate(db, 'secret_hash_key', () => randomBytes(32).toString('hex'));
  return Buffer.from(hex, 'hex');
}
