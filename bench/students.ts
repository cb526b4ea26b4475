/**
 * The student data set the edfi and changes scenarios measure: on its own MariaDB database (dropped and recreated),
 * schools, students and StudentSchoolAssociations bulk-loaded straight in the storage format (src/edfi/documents.ts);
 * and the real app serving it from a child process.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import knex, { type Knex } from 'knex';

import { loadConfig, type Config } from '../src/config/index.js';
import { migrate } from '../migrations/index.js';
import { documentEtag, naturalKeyHash, newDocumentId } from '../src/edfi/documents.js';
import { startServer } from '../src/app/server.js';

const issuer = 'http://bench.edgate';
/** Quotas no run can reach, so every call is admitted and the figures measure the API alone. */
const benchTier = { requestsPerMinute: 1_000_000_000, costPerDay: 1_000_000_000_000 };
export const schoolsPerLea = 10;
const chunk = 1000;

/** The options every student scenario takes, as parseArgs declares them. */
export const datasetArgs = {
  'database-url': { type: 'string' },
  schools: { type: 'string' },
  students: { type: 'string' },
  rounds: { type: 'string' },
  duration: { type: 'string' },
  connections: { type: 'string' },
} as const;

/**
 * The MariaDB server (no database) from --database-url or the scenario's environment variable, and the data set's
 * size and load rounds, with the scenario's default connection count.
 */
export function datasetOptions(
  values: { 'database-url'?: string; schools?: string; students?: string; rounds?: string; duration?: string; connections?: string },
  scenario: { name: string; urlVariable: string; connections: number },
) {
  const url = new URL(values['database-url'] ?? process.env[scenario.urlVariable] ?? 'mysql://root@127.0.0.1:3306');
  if (!url.protocol.startsWith('mysql')) throw new Error(`the ${scenario.name} benchmark runs on MariaDB/MySQL: pass --database-url mysql://… or ${scenario.urlVariable}`);
  url.pathname = '/';
  return {
    serverUrl: url.toString(),
    schools: Number(values.schools ?? 1000),
    students: Number(values.students ?? 200_000),
    rounds: Number(values.rounds ?? 3),
    duration: Number(values.duration ?? 10),
    connections: Number(values.connections ?? scenario.connections),
  };
}

// ---------------------------------------------------------------- data, in the storage format

async function insertChunked(db: Knex, table: string, rows: Array<Record<string, unknown>>): Promise<void> {
  for (let i = 0; i < rows.length; i += chunk) await db(table).insert(rows.slice(i, i + chunk));
}

export const leaIdOf = (lea: number) => 300_000 + lea;
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

export interface StudentDataset {
  /** The loaded database, as the app's DATABASE_URL names it. */
  databaseUrl: string;
  /** A temporary folder holding the app's config file; the caller removes it. */
  dir: string;
  /** The app's environment, for startChild. */
  env: Record<string, string>;
  config: Config;
  /** Open on the loaded database, for the scenario's clients; the caller destroys it. */
  db: Knex;
  loadSeconds: number;
}

/** Drops and recreates `databaseName`, migrates it, loads the schools and students, and analyses the tables read. */
export async function loadStudents(opts: { serverUrl: string; schools: number; students: number }, databaseName: string, dirPrefix: string): Promise<StudentDataset> {
  const admin = knex({ client: 'mysql2', connection: opts.serverUrl });
  await admin.raw(`drop database if exists \`${databaseName}\``);
  await admin.raw(`create database \`${databaseName}\` character set utf8mb4 collate utf8mb4_bin`);
  await admin.destroy();
  const databaseUrl = new URL(databaseName, opts.serverUrl).toString();
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
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
  return { databaseUrl, dir, env, config, db, loadSeconds };
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

export function startChild(env: Record<string, string>): Promise<{ url: string; stop(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve'], { env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
    child.once('message', (message) => resolve({ url: (message as { url: string }).url, stop: () => child.kill() }));
  });
}

export async function tokenFor(url: string, credentials: { clientId: string; secret: string }): Promise<string> {
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: credentials.clientId, client_secret: credentials.secret, grant_type: 'client_credentials' }),
  });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

if (process.argv[2] === '--serve') {
  serve().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
