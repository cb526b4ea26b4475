/**
 * `npm run bench -- edfi [--database-url mysql://root@127.0.0.1:3306] [--schools 1000]
 *   [--students 200000] [--rounds 3] [--duration 10] [--connections 10]`
 *
 * On its own MariaDB database (`edgate_bench_edfi`, dropped and recreated), bulk-loads the schools,
 * students and StudentSchoolAssociations straight in the storage format (src/edfi/documents.ts),
 * then measures, against the real app served from a child process:
 * - GET /students?limit=100 for a SIS Vendor client whose reach is 10 schools, against the same
 *   call by an Ed-Fi Sandbox client (no authorisation): medians of alternating rounds, and the ratio;
 * - POST /students throughput with 25 connections, a new student per request (anchor: Meadowlark
 *   on PostgreSQL ≈ 93 req/s on 8 vCPUs).
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import knex, { type Knex } from 'knex';

import { loadConfig } from '../src/config/index.js';
import { createClient } from '../src/db/clients.js';
import { migrate } from '../migrations/index.js';
import { resolveSecretHashKey } from '../src/db/settings.js';
import { documentEtag, naturalKeyHash, newDocumentId } from '../src/edfi/documents.js';
import { startServer } from '../src/app/server.js';
import { compare, load, machine, writeReport } from './lib.js';

const databaseName = 'edgate_bench_edfi';
const issuer = 'http://bench.edgate';
/** Quotas no run can reach, so every call is admitted and the figures measure the API alone. */
const benchTier = { requestsPerMinute: 1_000_000_000, costPerDay: 1_000_000_000_000 };
const schoolsPerLea = 10;
const chunk = 1000;

interface Options {
  serverUrl: string;
  schools: number;
  students: number;
  rounds: number;
  duration: number;
  connections: number;
}

function options(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      'database-url': { type: 'string' },
      schools: { type: 'string' },
      students: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
    },
  });
  const url = new URL(values['database-url'] ?? process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306');
  if (!url.protocol.startsWith('mysql')) throw new Error('the edfi benchmark runs on MariaDB/MySQL: pass --database-url mysql://… or DATABASE_URL');
  url.pathname = '/';
  return {
    serverUrl: url.toString(),
    schools: Number(values.schools ?? 1000),
    students: Number(values.students ?? 200_000),
    rounds: Number(values.rounds ?? 3),
    duration: Number(values.duration ?? 10),
    connections: Number(values.connections ?? 10),
  };
}

// ---------------------------------------------------------------- data, in the storage format

async function insertChunked(db: Knex, table: string, rows: Array<Record<string, unknown>>): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) await db(table).insert(rows.slice(i, i + chunk));
}

const leaIdOf = (lea: number) => 300_000 + lea;
const schoolIdOf = (school: number) => leaIdOf(Math.floor(school / schoolsPerLea)) * 1000 + (school % schoolsPerLea) + 1;

async function loadEdorgs(db: Knex, schools: number): Promise<void> {
  const now = Date.now();
  const leas = Math.ceil(schools / schoolsPerLea);
  const orgs: Array<Record<string, unknown>> = [];
  const closure: Array<Record<string, unknown>> = [];
  for (let lea = 0; lea < leas; lea++) {
    orgs.push({ id: leaIdOf(lea), type: 'lea', name: `Bench ISD ${lea}`, parent_id: null, created_at: now, updated_at: now });
    closure.push({ ancestor_id: leaIdOf(lea), descendant_id: leaIdOf(lea), depth: 0 });
  }
  for (let school = 0; school < schools; school++) {
    const id = schoolIdOf(school);
    const lea = leaIdOf(Math.floor(school / schoolsPerLea));
    orgs.push({ id, type: 'school', name: `Bench School ${school}`, parent_id: lea, created_at: now, updated_at: now });
    closure.push({ ancestor_id: id, descendant_id: id, depth: 0 }, { ancestor_id: lea, descendant_id: id, depth: 1 });
  }
  await insertChunked(db, 'education_organizations', orgs);
  await insertChunked(db, 'edorg_closure', closure);
}

function studentRows(index: number, schools: number) {
  const uniqueId = `B${String(index).padStart(7, '0')}`;
  const schoolId = schoolIdOf(index % schools);
  const now = Date.now();
  const student = { studentUniqueId: uniqueId, firstName: 'Bench', lastSurname: `Student ${index}`, birthDate: '2011-04-01' };
  const association = {
    studentReference: { studentUniqueId: uniqueId },
    schoolReference: { schoolId },
    entryDate: '2025-08-18',
    entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade',
  };
  const studentDoc = { id: newDocumentId(), resource: 'students', key_hash: naturalKeyHash([uniqueId]), body: JSON.stringify(student), etag: documentEtag(student), last_modified: now, created_by: 'bench', student_unique_id: uniqueId };
  const associationDoc = {
    id: newDocumentId(),
    resource: 'studentSchoolAssociations',
    key_hash: naturalKeyHash([uniqueId, schoolId, '2025-08-18']),
    body: JSON.stringify(association),
    etag: documentEtag(association),
    last_modified: now,
    created_by: 'bench',
    student_unique_id: uniqueId,
    edorg_id: schoolId,
  };
  const subject = { subject_type: 'student', subject_id: uniqueId, edorg_id: schoolId, via_document_id: associationDoc.id };
  return { studentDoc, associationDoc, subject };
}

async function loadRoster(db: Knex, students: number, schools: number): Promise<void> {
  for (let start = 0; start < students; start += chunk) {
    const rows = Array.from({ length: Math.min(chunk, students - start) }, (_, i) => studentRows(start + i, schools));
    await db.transaction(async (trx) => {
      await trx('edfi_documents').insert(rows.flatMap((r) => [r.studentDoc, r.associationDoc]));
      await trx('edfi_subject_edorgs').insert(rows.map((r) => r.subject));
    });
    if ((start / chunk) % 20 === 0) process.stdout.write(`\r  loaded ${start + rows.length} students`);
  }
  process.stdout.write('\n');
}

// ---------------------------------------------------------------- the server, in a child process

function benchEnv(databaseUrl: string, configPath: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    EDGATE_CONFIG: configPath,
    PUBLIC_URL: issuer,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    SECRET_HASH_KEY: 'bench-secret-hash-key-bench-secret-hash-key',
  };
}

async function serve(): Promise<void> {
  const running = await startServer(loadConfig(process.env));
  process.send?.({ url: running.url });
}

function startChild(env: Record<string, string>): Promise<{ url: string; stop(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    child.once('message', (message) => resolve({ url: (message as { url: string }).url, stop: () => child.kill() }));
  });
}

async function tokenFor(url: string, credentials: { clientId: string; secret: string }): Promise<string> {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: credentials.clientId, client_secret: credentials.secret, grant_type: 'client_credentials' }),
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function run(args: string[]): Promise<void> {
  const opts = options(args);
  const admin = knex({ client: 'mysql2', connection: opts.serverUrl });
  await admin.raw(`drop database if exists \`${databaseName}\``);
  await admin.raw(`create database \`${databaseName}\` character set utf8mb4 collate utf8mb4_bin`);
  await admin.destroy();
  const databaseUrl = new URL(databaseName, opts.serverUrl).toString();
  const dir = mkdtempSync(join(tmpdir(), 'edgate-bench-'));
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ tiers: { bench: benchTier } }));
  const env = benchEnv(databaseUrl, configPath);
  const config = loadConfig(env);

  const db = knex({ client: 'mysql2', connection: databaseUrl, pool: { min: 0, max: 4 } });
  await migrate(db);
  const started = Date.now();
  console.log(`loading ${opts.schools} schools, ${opts.students} students and associations`);
  await loadEdorgs(db, opts.schools);
  await loadRoster(db, opts.students, opts.schools);
  await db.raw('analyze table edfi_documents, edfi_subject_edorgs, edorg_closure');
  const loadSeconds = Math.round((Date.now() - started) / 100) / 10;
  const hashKey = await resolveSecretHashKey(db, config);
  const rules = { tiers: ['bench'], claimSets: ['SIS Vendor', 'Ed-Fi Sandbox'] };
  const tenSchools = await createClient(db, hashKey, { name: 'ten schools', tier: 'bench', edorgIds: [leaIdOf(0)] }, rules);
  const sandbox = await createClient(db, hashKey, { name: 'sandbox', tier: 'bench', claimSet: 'Ed-Fi Sandbox' }, rules);
  await db.destroy();

  const server = await startChild(env);
  try {
    const reachToken = await tokenFor(server.url, { clientId: tenSchools.client.clientId, secret: tenSchools.secret });
    const sandboxToken = await tokenFor(server.url, { clientId: sandbox.client.clientId, secret: sandbox.secret });
    const page = `${server.url}/data/v3/ed-fi/students?limit=100`;
    const probe = (await (await fetch(page, { headers: { authorization: `Bearer ${reachToken}` } })).json()) as unknown[];
    if (probe.length !== 100) throw new Error(`the 10-school client sees ${probe.length} students on the first page, expected 100`);
    const read = (label: string, token: string) => () =>
      load(label, { url: page, headers: { authorization: `Bearer ${token}` }, connections: opts.connections, durationSec: opts.duration });
    const reads = await compare(opts.rounds, read('GET students?limit=100, reach 10 schools', reachToken), read('GET students?limit=100, Ed-Fi Sandbox', sandboxToken));

    let next = 0;
    const writes = await load('POST students, 25 connections', {
      url: `${server.url}/data/v3/ed-fi/students`,
      method: 'POST',
      connections: 25,
      durationSec: opts.duration,
      headers: { authorization: `Bearer ${reachToken}`, 'content-type': 'application/json' },
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ studentUniqueId: `W${process.pid}-${next++}`, firstName: 'New', lastSurname: 'Student', birthDate: '2012-02-02' }) }),
    });

    const row = (f: typeof writes, note = '') => ({ load: f.label, 'req/s': f.requestsPerSec, 'p50 ms': f.p50Ms, 'p99 ms': f.p99Ms, non2xx: f.non2xx, note });
    writeReport({
      scenario: 'edfi',
      date: new Date().toISOString(),
      machine: machine(),
      rows: [
        row(reads.subject, `ratio to sandbox ${reads.ratio} (goal ≥ 0.7)`),
        row(reads.baseline, 'no authorisation'),
        row(writes, 'anchor: Meadowlark on PostgreSQL ≈ 93 req/s on 8 vCPUs'),
      ],
      dataset: { schools: opts.schools, students: opts.students, associations: opts.students, loadSeconds, database: 'MariaDB', reachSchools: schoolsPerLea },
      readRatio: reads.ratio,
      rounds: reads.rounds,
      options: { rounds: opts.rounds, durationSec: opts.duration, readConnections: opts.connections, writeConnections: 25 },
    });
  } finally {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') {
  serve().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
