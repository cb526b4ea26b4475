import { isDuplicateKey, isRetryableConflict } from '../db/errors.js';
import { dialectOf, type Db } from '../db/knex.js';
import { canonicalJson, documentEtag, newDocumentId } from '../edfi/documents.js';
import type { ResourceDeclaration } from '../edfi/resource.js';
import { resourceNamed } from '../edfi/resources/index.js';
import { documentColumnsOf, naturalKeyOf, subjectEdorgRow } from '../edfi/store.js';
import type { RosterRecord } from './roster.js';

export interface SyncCounts {
  received: number;
  created: number;
  updated: number;
  unchanged: number;
}

type Body = Record<string, unknown>;

/** An edfi_documents row, built from the resource declarations as the Ed-Fi resource API builds it. */
type DocumentRow = { id: string; resource: string; key_hash: string; body: string; etag: string; last_modified: number; created_by: string | null } & ReturnType<
  typeof documentColumnsOf
>;

interface Desired {
  keyHash: string;
  body: Body;
}

type Planned = { outcome: 'unchanged' } | { outcome: 'created' | 'updated'; row: DocumentRow; body: Body };

/**
 * Rows per statement. knex writes a multi-row SQLite insert as a compound SELECT, which SQLite caps
 * at 500 terms; MySQL gains little from more (measured: about 5 % at 1,000).
 */
const chunkSize = 500;
const maxAttempts = 5;

const chunks = <T>(items: T[]): T[][] => Array.from({ length: Math.ceil(items.length / chunkSize) }, (_, i) => items.slice(i * chunkSize, (i + 1) * chunkSize));

function declared(name: string): ResourceDeclaration {
  const resource = resourceNamed(name);
  if (!resource) throw new Error(`the ${name} resource is not declared`);
  return resource;
}

// Keys, securable columns and reach rows come from the same declarations the resource API uses.
const students = declared('students');
const associations = declared('studentSchoolAssociations');

function studentOf(r: RosterRecord): Desired {
  const body = { studentUniqueId: r.studentUniqueId, firstName: r.firstName, lastSurname: r.lastSurname, birthDate: r.birthDate };
  return { keyHash: naturalKeyOf(students, body), body };
}

function associationOf(r: RosterRecord): Desired {
  const body: Body = { studentReference: { studentUniqueId: r.studentUniqueId }, schoolReference: { schoolId: r.schoolId }, entryDate: r.entryDate };
  if (r.entryGradeLevelDescriptor !== undefined) body.entryGradeLevelDescriptor = r.entryGradeLevelDescriptor;
  return { keyHash: naturalKeyOf(associations, body), body };
}

interface Stored {
  id: string;
  body: string;
  etag: string;
}

/**
 * Stored documents by key hash. On MySQL the rows found are locked, so a concurrent writer cannot
 * change them between this read and the merge; keys not found are not gap-locked (read committed),
 * so batches of different students do not deadlock each other.
 */
async function existingDocuments(trx: Db, resource: string, keyHashes: string[]) {
  const found = new Map<string, Stored>();
  for (const chunk of chunks(keyHashes)) {
    const query = trx('edfi_documents').where({ resource }).whereIn('key_hash', chunk).select('id', 'key_hash', 'body', 'etag');
    if (dialectOf(trx) === 'mysql') query.forUpdate();
    for (const row of (await query) as Array<Stored & { key_hash: string }>) found.set(row.key_hash, row);
  }
  return found;
}

/**
 * Decides each document's fate. An existing document keeps the members the SIS does not send
 * (e.g. ones written through the resource API) and is unchanged when the merge changes nothing.
 */
function plan(resource: ResourceDeclaration, desired: Desired[], existing: Map<string, Stored>, now: number): Map<string, Planned> {
  const planned = new Map<string, Planned>();
  for (const d of desired) {
    if (planned.has(d.keyHash)) continue;
    const stored = existing.get(d.keyHash);
    const etag = documentEtag(d.body);
    // Same etag, same content: the common re-send is decided without parsing the stored body.
    if (stored?.etag === etag) {
      planned.set(d.keyHash, { outcome: 'unchanged' });
      continue;
    }
    if (!stored) {
      planned.set(d.keyHash, { outcome: 'created', row: documentRow(newDocumentId(), resource, d.keyHash, d.body, etag, now), body: d.body });
      continue;
    }
    const storedBody = JSON.parse(stored.body) as Body;
    const body = { ...storedBody, ...d.body };
    const changed = canonicalJson(body) !== canonicalJson(storedBody);
    planned.set(d.keyHash, changed ? { outcome: 'updated', row: documentRow(stored.id, resource, d.keyHash, body, documentEtag(body), now), body } : { outcome: 'unchanged' });
  }
  return planned;
}

function documentRow(id: string, resource: ResourceDeclaration, keyHash: string, body: Body, etag: string, now: number): DocumentRow {
  return { id, resource: resource.name, key_hash: keyHash, body: JSON.stringify(body), etag, last_modified: now, created_by: null, ...documentColumnsOf(resource, body) };
}

const plannedOf = (planned: Planned[], outcome: 'created' | 'updated') => planned.flatMap((p) => (p.outcome === outcome ? [p] : []));
const rowsOf = (planned: Planned[], outcome: 'created' | 'updated'): DocumentRow[] => plannedOf(planned, outcome).map((p) => p.row);

/** New documents are plain inserts (a concurrent twin fails loudly and the request is retried); changed ones are upserts. */
async function writeDocuments(trx: Db, planned: Planned[]): Promise<void> {
  for (const chunk of chunks(rowsOf(planned, 'created'))) await trx('edfi_documents').insert(chunk);
  for (const chunk of chunks(rowsOf(planned, 'updated'))) {
    await trx('edfi_documents').insert(chunk).onConflict(['resource', 'key_hash']).merge(['body', 'etag', 'last_modified']);
  }
}

/** Each new StudentSchoolAssociation makes its student reachable through its school. */
async function writeSubjectEdorgs(trx: Db, associationPlan: Planned[]): Promise<void> {
  const rows = plannedOf(associationPlan, 'created').map(({ row, body }) => subjectEdorgRow(associations, row.id, body)!);
  for (const chunk of chunks(rows)) await trx('edfi_subject_edorgs').insert(chunk);
}

async function writeRoster(trx: Db, records: RosterRecord[], now: number): Promise<SyncCounts> {
  const wantedStudents = records.map(studentOf);
  const wantedAssociations = records.map(associationOf);
  const storedStudents = await existingDocuments(trx, students.name, [...new Set(wantedStudents.map((s) => s.keyHash))]);
  const storedAssociations = await existingDocuments(trx, associations.name, wantedAssociations.map((a) => a.keyHash));
  const studentPlan = plan(students, wantedStudents, storedStudents, now);
  const associationPlan = plan(associations, wantedAssociations, storedAssociations, now);
  await writeDocuments(trx, [...studentPlan.values()]);
  await writeDocuments(trx, [...associationPlan.values()]);
  await writeSubjectEdorgs(trx, [...associationPlan.values()]);
  return countPerRecord(records.length, wantedStudents, wantedAssociations, studentPlan, associationPlan);
}

/**
 * Counts are per record (one student enrolled at one school): created when its student or its
 * association is new, updated when either changed, unchanged otherwise.
 */
function countPerRecord(received: number, wantedStudents: Desired[], wantedAssociations: Desired[], studentPlan: Map<string, Planned>, associationPlan: Map<string, Planned>): SyncCounts {
  const counts: SyncCounts = { received, created: 0, updated: 0, unchanged: 0 };
  for (let i = 0; i < received; i++) {
    const outcomes = [studentPlan.get(wantedStudents[i].keyHash)!.outcome, associationPlan.get(wantedAssociations[i].keyHash)!.outcome];
    counts[outcomes.includes('created') ? 'created' : outcomes.includes('updated') ? 'updated' : 'unchanged'] += 1;
  }
  return counts;
}

/** See existingDocuments: MySQL reads committed rows and locks only those it found. */
function transactionOptions(db: Db): { isolationLevel?: 'read committed' } {
  return dialectOf(db) === 'mysql' ? { isolationLevel: 'read committed' } : {};
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes a validated roster in one transaction: all of it or none of it. Two identical requests
 * racing each other collide on the unique key or deadlock; the loser retries and finds the rows.
 */
export async function syncRoster(db: Db, records: RosterRecord[]): Promise<SyncCounts> {
  if (!records.length) return { received: 0, created: 0, updated: 0, unchanged: 0 };
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction((trx) => writeRoster(trx, records, Date.now()), transactionOptions(db));
    } catch (err) {
      if (attempt >= maxAttempts || !(isDuplicateKey(err) || isRetryableConflict(err))) throw err;
      await pause(20 * attempt + Math.random() * 50);
    }
  }
}
