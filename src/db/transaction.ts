import type { Knex } from 'knex';

import { ApiError } from '../errors.js';
import { isDuplicateKey, isRetryableConflict } from './driver-errors.js';

/** Tries before a write gives up with 409 write_conflict: enough to outlast a burst of identical writes. */
const maxAttempts = 5;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface TransactionOptions {
  isolationLevel?: 'read committed';
}

/**
 * The one write transaction: all of the work or none of it, retried when the database reports a deadlock or lock
 * timeout, or when a concurrent writer inserted the same key first (the retry then finds the row). Past the last
 * attempt the client is told to retry: `409 write_conflict`.
 */
export async function retriedTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work, options);
    } catch (err) {
      if (!(isRetryableConflict(err) || isDuplicateKey(err))) throw err;
      if (attempt >= maxAttempts) throw new ApiError('write_conflict', 'The item was changed concurrently by another request; retry the request.');
      await pause(10 * attempt + Math.random() * 30);
    }
  }
}
