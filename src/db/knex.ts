import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';


export type Db = Knex;
export type Dialect = 'sqlite' | 'mysql';

export function dialectOf(db: Knex): Dialect {
  return (db.client as { driverName?: string }).driverName === 'mysql2' ? 'mysql' : 'sqlite';
}

/**
 * How long any one database step may take: opening a connection, waiting for one from the pool,
 * and running a statement. A database that hangs (paused, partitioned, overloaded) then costs a
 * request this long at most, and it fails with a DatabaseTimeout instead of waiting forever.
 */
export const defaultDatabaseTimeoutMs = 10_000;

/** A statement that outlived the bound; its connection was destroyed rather than left in an unknown state. */
export class DatabaseTimeout extends Error {
  readonly code = 'EDGATE_DB_TIMEOUT';
}

type Connection = { destroy(): void; __knex__disposed?: unknown };

// knex documents a custom Client class as `client`; its MySQL client has no typed export path.
const MySqlClient = createRequire(import.meta.url)('knex/lib/dialects/mysql2/index.js') as new (config: Knex.Config) => {
  _query(connection: Connection, obj: unknown): Promise<unknown>;
};

/**
 * The MySQL client with a deadline on every statement, transactions included (knex builds their
 * clients from this class's prototype). Past it the connection is destroyed and marked disposed,
 * so the pool never hands it out again, and the statement fails; a stuck connection would
 * otherwise queue every later statement behind it.
 */
function boundedMySqlClient(timeoutMs: number) {
  return class BoundedMySqlClient extends MySqlClient {
    override _query(connection: Connection, obj: unknown): Promise<unknown> {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new DatabaseTimeout(`a database statement took longer than ${timeoutMs} ms`);
          connection.__knex__disposed = err;
          connection.destroy();
          reject(err);
        }, timeoutMs);
      });
      return Promise.race([super._query(connection, obj), deadline]).finally(() => clearTimeout(timer));
    }
  };
}

function sqliteConfig(path: string, timeoutMs: number): Knex.Config {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return {
    client: 'better-sqlite3',
    connection: { filename: path },
    useNullAsDefault: true,
    pool: {
      // One connection: SQLite serialises writers anyway, and a single handle keeps transactions simple.
      min: 1,
      max: 1,
      // SQLite cannot hang like a server, but a request can wait behind another's lock.
      acquireTimeoutMillis: timeoutMs,
      afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma(`busy_timeout = ${timeoutMs}`);
        done(null, conn);
      },
    },
  };
}

function mysqlConfig(url: string, timeoutMs: number): Knex.Config {
  const u = new URL(url);
  return {
    client: boundedMySqlClient(timeoutMs) as unknown as Knex.Config['client'],
    acquireConnectionTimeout: timeoutMs,
    connection: {
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      database: u.pathname.replace(/^\//, ''),
      charset: 'utf8mb4',
      // Timestamps are stored as epoch milliseconds, so no driver time-zone conversion is wanted.
      supportBigNumbers: true,
      bigNumberStrings: false,
      // Covers the TCP connect and the server's handshake.
      connectTimeout: timeoutMs,
    },
    pool: {
      min: 0,
      max: 10,
      createTimeoutMillis: timeoutMs,
      afterCreate: (conn: SessionConnection, done: (err: Error | null, conn: unknown) => void) => boundStatements(conn, timeoutMs, (err) => done(err, conn)),
    },
  };
}

interface SessionConnection {
  query(sql: string, cb: (err: (Error & { errno?: number }) | null) => void): void;
}

/** MySQL's "unknown system variable": the server is not the dialect the statement was written for. */
const unknownSystemVariable = 1193;

/**
 * The server also stops a statement at the bound, so a statement the client gave up on does not keep running and
 * holding locks: MariaDB's `max_statement_time` (seconds, fractions allowed), else MySQL's, TiDB's and Aurora's
 * `max_execution_time` (milliseconds, reads only). A server that knows neither keeps the client deadline alone.
 */
export function boundStatements(conn: SessionConnection, timeoutMs: number, done: (err: Error | null) => void): void {
  conn.query(`SET SESSION max_statement_time = ${timeoutMs / 1000}`, (err) => {
    if (err?.errno !== unknownSystemVariable) return done(err);
    conn.query(`SET SESSION max_execution_time = ${Math.round(timeoutMs)}`, (again) => done(again?.errno === unknownSystemVariable ? null : again));
  });
}

function unboundedMysqlConfig(url: string): Knex.Config {
  const config = mysqlConfig(url, defaultDatabaseTimeoutMs);
  return { ...config, client: 'mysql2', acquireConnectionTimeout: undefined, pool: { min: 0, max: 10 } };
}

export interface DbOptions {
  /**
   * Bound on connecting, acquiring a connection and each statement (default 10 s). 0 means no
   * statement bound: migrations and admin commands, where an operator watches and a large
   * table may legitimately take minutes.
   */
  timeoutMs?: number;
}

export function createDb(databaseUrl: string, { timeoutMs = defaultDatabaseTimeoutMs }: DbOptions = {}): Knex {
  if (databaseUrl.startsWith('sqlite:')) return knex(sqliteConfig(databaseUrl.slice('sqlite:'.length), timeoutMs || defaultDatabaseTimeoutMs));
  if (databaseUrl.startsWith('mysql:')) {
    const config = timeoutMs ? mysqlConfig(databaseUrl, timeoutMs) : unboundedMysqlConfig(databaseUrl);
    const db = knex(config);
    // The class only matters to construction; code that asks which driver this is (migrations
    // among it) reads `config.client`, so it names the driver, as for any MySQL knex.
    db.client.config.client = 'mysql2';
    return db;
  }
  throw new Error(`DATABASE_URL must start with sqlite: or mysql://, got ${databaseUrl.split(':')[0]}:`);
}

/** True when the database answers a trivial query within `withinMs`; `/ready` uses it. */
export async function databaseAnswers(db: Knex, withinMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, withinMs, false)));
  const answered = db.raw('select 1').then(
    () => true,
    () => false,
  );
  return Promise.race([answered, late]).finally(() => clearTimeout(timer));
}
