import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { loadConfig } from '../src/config/index.js';
import { fromRoot } from '../src/config/paths.js';
import { putEdorg } from '../src/db/edorgs.js';
import { createDb, type Db } from '../src/db/knex.js';
import { migrate } from '../migrations/index.js';
import { startServer, type RunningServer } from '../src/app/server.js';
import type { RosterRecord } from '../src/sis/roster.js';
import { issueSisSecret } from '../src/sis/institution-secrets.js';
import { mysqlDatabase, sqliteDatabase, type BenchDatabase } from './databases.js';
import { machine, writeReport } from './lib.js';

/**
 * `npm run bench -- sis [--rows N] [--rounds N]`: SIS sync on SQLite, and on MariaDB when
 * MariaDB from BENCH_MYSQL_URL, else the local server if it answers (a scratch schema is created and dropped).
 *
 * 1. one 5,000-student batch into an empty database, against the floor: a plain knex bulk insert
 *    of exactly the rows the endpoint wrote, in one transaction, into another empty database;
 * 2. the same batch re-sent (all unchanged), against the floor: reading those rows back by key;
 * 3. a roster pushed end to end with `edgate sis push` (CSV → batches → HTTP → database), against
 *    the plain bulk insert's rate in students per second.
 */

type Scratch = BenchDatabase;

/** SQLite always; MariaDB when a server answers (a fresh schema per call, dropped after). */
async function scratchDatabases(): Promise<Array<() => Promise<Scratch>>> {
  const probe = await mysqlDatabase();
  if (!probe) return [sqliteDatabase];
  await probe.drop();
  return [sqliteDatabase, async () => (await mysqlDatabase())!];
}

const schools = [255901001, 255901044, 255901107];

function roster(count: number, prefix: string): RosterRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    studentUniqueId: `${prefix}${i}`,
    firstName: `First${i}`,
    lastSurname: `Last${i}`,
    birthDate: `2011-0${(i % 9) + 1}-1${i % 10}`,
    schoolId: schools[i % schools.length],
    entryDate: '2025-08-20',
    entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade',
  }));
}

function rosterCsv(records: RosterRecord[]): string {
  const columns = Object.keys(records[0]) as Array<keyof RosterRecord>;
  return [columns.join(','), ...records.map((r) => columns.map((c) => r[c]).join(','))].join('\n') + '\n';
}

async function seed(db: Db): Promise<void> {
  await putEdorg(db, { id: 255901, type: 'lea', name: 'Grand Bend ISD' }, { upsert: true });
  for (const id of schools) await putEdorg(db, { id, type: 'school', name: `School ${id}`, parentId: 255901 }, { upsert: true });
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = process.hrtime.bigint();
  const result = await work();
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, result };
}

async function post(server: RunningServer, secret: string, students: RosterRecord[]) {
  const res = await fetch(`${server.url}/api/sis/sync`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
    body: JSON.stringify({ students }),
  });
  const body = (await res.json()) as Record<string, number>;
  if (res.status !== 200) throw new Error(`sync answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

/** The floor for a first batch: the endpoint's own rows, bulk-inserted with knex into an empty database. */
async function plainBulkInsert(scratch: () => Promise<Scratch>, source: Db): Promise<number> {
  const documents = await source('edfi_documents').select();
  const subjects = await source('edfi_subject_edorgs').select();
  const target = await scratch();
  const db = createDb(target.url);
  try {
    await migrate(db);
    const { ms } = await timed(() =>
      db.transaction(async (trx) => {
        await trx.batchInsert('edfi_documents', documents, 500);
        await trx.batchInsert('edfi_subject_edorgs', subjects, 500);
      }),
    );
    return ms;
  } finally {
    await db.destroy();
    await target.drop();
  }
}

/** The floor for a re-send: reading the same documents back by natural key. */
async function readBack(db: Db): Promise<number> {
  const keys = (await db('edfi_documents').select('resource', 'key_hash')) as Array<{ resource: string; key_hash: string }>;
  const { ms } = await timed(async () => {
    for (const resource of ['students', 'studentSchoolAssociations']) {
      const hashes = keys.filter((k) => k.resource === resource).map((k) => k.key_hash);
      for (let i = 0; i < hashes.length; i += 500) await db('edfi_documents').where({ resource }).whereIn('key_hash', hashes.slice(i, i + 500)).select('id', 'key_hash', 'body');
    }
  });
  return ms;
}

async function pushEndToEnd(server: RunningServer, secret: string, rows: number): Promise<{ ms: number; summary: Record<string, number> }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-bench-roster-'));
  const file = join(dir, 'roster.csv');
  writeFileSync(file, rosterCsv(roster(rows, 'P')));
  try {
    const { ms, result } = await timed(() =>
      promisify(execFile)(process.execPath, [fromRoot('dist', 'src', 'admin', 'cli.js'), 'sis', 'push', file, '--url', server.url, '--json'], {
        env: { ...process.env, SIS_SECRET: secret },
        maxBuffer: 1 << 20,
      }),
    );
    return { ms, summary: JSON.parse(result.stdout) as Record<string, number> };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const round1 = (n: number) => Math.round(n * 10) / 10;

async function measure(scratch: () => Promise<Scratch>, pushRows: number) {
  const target = await scratch();
  const configDir = mkdtempSync(join(tmpdir(), 'edgate-bench-config-'));
  // The push sends many batches a minute; the bench measures throughput, not the limiter.
  writeFileSync(join(configDir, 'config.json'), JSON.stringify({ sisSync: { requestsPerMinute: 1_000_000 } }));
  const config = loadConfig({ DATABASE_URL: target.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', EDGATE_CONFIG: join(configDir, 'config.json') });
  const server = await startServer(config);
  try {
    const { db, hashKey } = server.services;
    await seed(db);
    const { secret } = await issueSisSecret(db, hashKey, 255901);
    const batch = roster(5000, 'B');
    const first = await timed(() => post(server, secret, batch));
    if (first.result.created !== 5000) throw new Error(`first batch: ${JSON.stringify(first.result)}`);
    const resend = await timed(() => post(server, secret, batch));
    if (resend.result.unchanged !== 5000) throw new Error(`re-send: ${JSON.stringify(resend.result)}`);
    const insertFloor = await plainBulkInsert(scratch, db);
    const readFloor = await readBack(db);
    const pushed = await pushEndToEnd(server, secret, pushRows);
    if (pushed.summary.created !== pushRows) throw new Error(`push: ${JSON.stringify(pushed.summary)}`);
    return { engine: target.engine, firstMs: first.ms, resendMs: resend.ms, insertFloor, readFloor, pushMs: pushed.ms };
  } finally {
    await server.close();
    await target.drop();
    rmSync(configDir, { recursive: true, force: true });
  }
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(args: string[]): Promise<void> {
  const pushRows = option(args, 'rows', 100_000);
  const rounds = option(args, 'rounds', 1);
  const rows: Array<Record<string, string | number>> = [];
  for (const scratch of await scratchDatabases()) {
    const results: Array<Awaited<ReturnType<typeof measure>>> = [];
    for (let i = 0; i < rounds; i++) results.push(await measure(scratch, pushRows));
    const pick = (f: (r: (typeof results)[number]) => number) => median(results.map(f));
    const engine = results[0].engine;
    const first = pick((r) => r.firstMs);
    const insertFloor = pick((r) => r.insertFloor);
    const resend = pick((r) => r.resendMs);
    const readFloor = pick((r) => r.readFloor);
    const pushRate = pick((r) => (pushRows / r.pushMs) * 1000);
    const floorRate = (5000 / insertFloor) * 1000;
    rows.push(
      { engine, measure: '5,000-student batch, empty database (ms)', edgate: round1(first), baseline: `${round1(insertFloor)} (knex bulk insert of the same rows)`, ratio: round1(first / insertFloor), goal: '≤ 2000 ms', met: first <= 2000 ? 'yes' : 'no' },
      { engine, measure: 'same batch re-sent, all unchanged (ms)', edgate: round1(resend), baseline: `${round1(readFloor)} (reading the same rows by key)`, ratio: round1(resend / readFloor), goal: '≤ 1000 ms', met: resend <= 1000 ? 'yes' : 'no' },
      { engine, measure: `${pushRows.toLocaleString('en')}-row roster, sis push end to end (students/s)`, edgate: Math.round(pushRate), baseline: `${Math.round(floorRate)} (bulk insert rate)`, ratio: round1(pushRate / floorRate), goal: '≥ 5000 students/s', met: pushRate >= 5000 ? 'yes' : 'no' },
    );
  }
  // The load average says how much the machine was shared while measuring (figures vary with it).
  writeReport({ scenario: 'sis', date: new Date().toISOString(), machine: machine(), rows, rounds, pushRows, loadAverage: loadavg().map((l) => Math.round(l * 100) / 100) });
}
