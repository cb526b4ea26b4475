import type { Knex } from 'knex';

/**
 * The collation that makes MySQL compare text as SQLite does: byte for byte, with trailing spaces
 * significant (NO PAD). Authorisation joins ids (student, staff and client ids) as text, so a
 * case-insensitive or PAD SPACE collation would let `vicqabc` or `VICQABC ` stand for `VICQABC`.
 * MariaDB ≥ 10.2 calls it utf8mb4_nopad_bin; MySQL 8 calls it utf8mb4_0900_bin (its utf8mb4_bin pads).
 */
export async function byteCollation(db: Knex): Promise<string> {
  const [[{ version }]] = (await db.raw('select version() as version')) as [Array<{ version: string }>];
  if (/mariadb/i.test(version)) return 'utf8mb4_nopad_bin';
  if (Number(version.split('.')[0]) >= 8) return 'utf8mb4_0900_bin';
  throw new Error(`MySQL ${version} has no binary NO PAD collation; edgate needs MariaDB ≥ 10.2 or MySQL ≥ 8`);
}
