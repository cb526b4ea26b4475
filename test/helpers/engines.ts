import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';

/** A database engine the suite runs against; each test file gets a database of its own. */
export interface Engine {
  name: 'sqlite' | 'mysql';
  createDatabase(): Promise<{ url: string; drop(): Promise<void> }>;
}

const sqlite: Engine = {
  name: 'sqlite',
  async createDatabase() {
    const dir = mkdtempSync(join(tmpdir(), 'edgate-test-'));
    return { url: `sqlite:${join(dir, 'edgate.sqlite')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

function mysql(serverUrl: string): Engine {
  return {
    name: 'mysql',
    async createDatabase() {
      const name = `edgate_t_${randomBytes(6).toString('hex')}`;
      const admin = knex({ client: 'mysql2', connection: serverUrl });
      // The server's usual default, case-insensitive and PAD SPACE: migrations must not rely on the database's collation.
      await admin.raw(`create database \`${name}\` character set utf8mb4 collate utf8mb4_general_ci`);
      await admin.destroy();
      const url = new URL(serverUrl);
      url.pathname = `/${name}`;
      return {
        url: url.toString(),
        async drop() {
          const again = knex({ client: 'mysql2', connection: serverUrl });
          await again.raw(`drop database if exists \`${name}\``);
          await again.destroy();
        },
      };
    },
  };
}

/** SQLite always; MariaDB/MySQL too when TEST_MYSQL_URL is set (as .ci/run does). */
export const engines: Engine[] = [sqlite, ...(process.env.TEST_MYSQL_URL ? [mysql(process.env.TEST_MYSQL_URL)] : [])];

export const redisUrl = process.env.TEST_REDIS_URL;
