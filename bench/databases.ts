import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import knex from 'knex';

export interface BenchDatabase {
  engine: 'sqlite' | 'mysql';
  url: string;
  drop(): Promise<void>;
}

/** MySQL server for benchmarks: BENCH_MYSQL_URL, else the local MariaDB if it answers. */
const mysqlServer = process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

export async function sqliteDatabase(): Promise<BenchDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-bench-'));
  return { engine: 'sqlite', url: `sqlite:${join(dir, 'bench.sqlite')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh schema on the MySQL server, or undefined when no server answers. */
export async function mysqlDatabase(): Promise<BenchDatabase | undefined> {
  const admin = knex({ client: 'mysql2', connection: mysqlServer, pool: { min: 0, max: 1 } });
  const name = `edgate_bench_${randomBytes(4).toString('hex')}`;
  try {
    await admin.raw(`create database \`${name}\``);
  } catch {
    console.log(`(no MySQL/MariaDB at ${mysqlServer.replace(/\/\/[^@]*@/, '//')}: skipping that engine)`);
    return undefined;
  } finally {
    await admin.destroy();
  }
  const url = new URL(mysqlServer);
  url.pathname = `/${name}`;
  return {
    engine: 'mysql',
    url: url.toString(),
    async drop() {
      const again = knex({ client: 'mysql2', connection: mysqlServer });
      await again.raw(`drop database if exists \`${name}\``);
      await again.destroy();
    },
  };
}

/** The engines a benchmark runs on: `--engine sqlite|mysql` picks one, default both. */
export async function benchDatabases(args: string[]): Promise<BenchDatabase[]> {
  const i = args.indexOf('--engine');
  const only = i >= 0 ? args[i + 1] : undefined;
  const list: BenchDatabase[] = [];
  if (!only || only === 'mysql') {
    const mysql = await mysqlDatabase();
    if (mysql) list.push(mysql);
  }
  if (!only || only === 'sqlite') list.push(await sqliteDatabase());
  return list;
}

export function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}
