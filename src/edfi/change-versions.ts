import type { Knex } from 'knex';

/**
 * Change versions come from the database's one-row sequence (migrations/20261202020000_change_queries.ts), bumped in
 * the writer's own transaction. The UPDATE locks the row until that transaction ends, so a writer that takes a version
 * after another waits for the other's commit: versions are committed in the order they are issued, on every instance
 * sharing the database. A reader who sees newestChangeVersion N can therefore never later find a new item at ≤ N.
 * Take versions as late in a transaction as possible: the lock serialises writers from then until commit.
 */
export async function reserveChangeVersions(trx: Knex, count = 1): Promise<number> {
  await trx('edfi_change_version').where({ id: 1 }).update({ version: trx.raw('version + ?', [count]) });
  const row = (await trx('edfi_change_version').where({ id: 1 }).first('version')) as { version: number | string };
  return Number(row.version) - count + 1;
}

/** The newest change version issued and committed (0 before the first write). */
export async function newestChangeVersion(db: Knex): Promise<number> {
  const row = (await db('edfi_change_version').where({ id: 1 }).first('version')) as { version: number | string } | undefined;
  return Number(row?.version ?? 0);
}
