/**
 * Driver errors translated per dialect in one place, so callers ask "was this a duplicate key?"
 * instead of knowing that SQLite says SQLITE_CONSTRAINT_UNIQUE and MySQL says ER_DUP_ENTRY.
 */
interface DriverError {
  code?: string;
  errno?: number;
}

export function isDuplicateKey(err: unknown): boolean {
  const { code, errno } = (err ?? {}) as DriverError;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || errno === 1062;
}

export function isForeignKeyViolation(err: unknown): boolean {
  const { code, errno } = (err ?? {}) as DriverError;
  return code === 'SQLITE_CONSTRAINT_FOREIGNKEY' || errno === 1451 || errno === 1452;
}

/** The row is locked or the transaction deadlocked: safe to retry the whole transaction. */
export function isRetryableConflict(err: unknown): boolean {
  const { code, errno } = (err ?? {}) as DriverError;
  return code === 'SQLITE_BUSY' || errno === 1213 || errno === 1205;
}
