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

/** Driver and pool errors that mean "the database cannot be reached in time", not "this request is wrong". */
const unavailableCodes = new Set([
  'EDGATE_DB_TIMEOUT', // a statement past the bound (knex.ts)
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_STATEMENT_TIMEOUT',
  'ER_QUERY_TIMEOUT',
]);

/**
 * True when the error (or its cause) says the database is unreachable, hung or overloaded: the
 * pool's acquire timeout, a connect or statement timeout, a refused or dropped connection, a
 * statement stopped by MariaDB's max_statement_time (1969) or MySQL's max_execution_time (3024).
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, errno, name, fatal } = e as DriverError & { name?: string; fatal?: boolean };
    if (name === 'KnexTimeoutError' || (code !== undefined && unavailableCodes.has(code)) || errno === 1969 || errno === 3024) return true;
    // mysql2 marks errors that broke the connection itself as fatal; a statement sent on a
    // connection the deadline destroyed (a transaction's rollback) fails with this message.
    if (fatal === true || /connection is in closed state/i.test((e as Error).message ?? '')) return true;
    // knex's words once its pool is destroyed (the database was shut down under the process): fail closed, as a 503.
    if (/^Unable to acquire a connection$/.test((e as Error).message ?? '')) return true;
  }
  return false;
}
