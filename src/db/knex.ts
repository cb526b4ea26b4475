import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import knex, { type Knex } from 'knex';

import { migrationSource } from '../../migrations/index.js';

export type Db = Knex;
export type Dialect = 'sqlite' | 'mysql';

export function dialectOf(db: Knex): Dialect {
  return db.client.config.client === 'mysql2' ? 'mysql' : 'sqlite';
}

function sqliteConfig(path: string): Knex.Config {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  return {
    client: 'better-sqlite3',
    connection: { filename: path },
    useNullAsDefault: true,
    pool: {
      // One connection: SQLite serialises writers anyway, and a single handle keeps transactions simple.
      min: 1,
      max: 1,
      afterCreate(conn: { pragma(sql: string): unknown }, done: (err: Error | null, conn: unknown) => void) {
        conn.pragma('journal_mode = WAL');
        conn.pragma('synchronous = NORMAL');
        conn.pragma('foreign_keys = ON');
        conn.pragma('busy_timeout = 5000');
        done(null, conn);
      },
    },
  };
}

function mysqlConfig(url: string): Knex.Config {
  const u = new URL(url);
  return {
    client: 'mysql2',
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
    },
    pool: { min: 0, max: 10 },
  };
}

export function createDb(databaseUrl: string): Knex {
  if (databaseUrl.startsWith('sqlite:')) return knex(sqliteConfig(databaseUrl.slice('sqlite:'.length)));
  if (databaseUrl.startsWith('mysql:')) return knex(mysqlConfig(databaseUrl));
  throw new Error(`DATABASE_URL must start with sqlite: or mysql://, got ${databaseUrl.split(':')[0]}:`);
}

export async function migrate(db: Knex): Promise<void> {
  await db.migrate.latest({ migrationSource });
}

export async function rollbackAll(db: Knex): Promise<void> {
  await db.migrate.rollback({ migrationSource }, true);
}

/** True when the database answers a trivial query; `/ready` uses it. */
export async function databaseAnswers(db: Knex): Promise<boolean> {
  try {
    await db.raw('select 1');
    return true;
  } catch {
    return false;
  }
}
