import { isDuplicateKey, isRetryableConflict } from '../db/errors.js';
import { dialectOf, type Db } from '../db/knex.js';
import { canonicalJson, documentEtag, naturalKeyHash, newDocumentId } from '../edfi/documents.js';
import type { RosterRecord } from './roster.js';

export interface SyncCounts {
  received: number;
  created: number;
  updated: number;
  unchanged: number;
}

type Body = Record<string, unknown>;

/** An edfi_documents row, as the Ed-Fi resource API writes it (src/edfi/documents.ts). */
interface DocumentRow {
  id: string;
  resource: string;
  key_hash: string;
  body: string;
  etag: string;
  last_modified: number;
  created_by: string | null;
  edorg_id: number | null;
  student_unique_id: string | null;
}

interface Desired {
  keyHash: string;
  body: Body;
  /** Securable columns extracted from the body. */
  edorgId: number | null;
  studentUniqueId: string;
}

type Planned = { outcome: 'unchanged' } | { outcome: 'created' | 'updated'; row: DocumentRow };

/**
 * Rows per statement. knex writes a multi-row SQLite insert as a compound SELECT, which SQLite caps
 * at 500 terms; MySQL gains little from more (measured: about 5 % at 1,000).
 */
const chunkSize = 500;
const maxAttempts = 5;

const chunks = <T>(items: T[]): T[][] => Array.from({ length: Math.ceil(items.length / chunkSize) }, (_, i) => items.slice(i * chunkSize, (i + 1) * chunkSize));

function studentOf(r: RosterRecord): Desired {
  return {
    keyHash: naturalKeyHash([r.studentUniqueId]),
    body: { studentUniqueId: r.studentUniqueId, firstName: r.firstName, lastSurname: r.lastSurname, birthDate: r.birthDate },
    edorgId: null,
    studentUniqueId: r.studentUniqueId,
  };
}

function associationOf(r: RosterRecord): Desired {
  const body: Body = { studentReference: { studentUniqueId: r.studentUniqueId }, schoolReference: { schoolId: r.schoolId }, entryDate: r.entryDate };
  if (r.entryGradeLevelDescriptor !== undefined) body.entryGradeLevelDescriptor = r.entryGradeLevelDescriptor;
  return { keyHash: naturalKeyHash([r.studentUniqueId, r.schoolId, r.entryDate]), body, edorgId: r.schoolId, studentUniqueId: r.studentUniqueId };
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
function plan(resource: string, desired: Desired[], existing: Map<string, Stored>, now: number): Map<string, Planned> {
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
      planned.set(d.keyHash, { outcome: 'created', row: documentRow(newDocumentId(), resource, d, d.body, etag, now) });
      continue;
    }
    const storedBody = JSON.parse(stored.body) as Body;
    const body = { ...storedBody, ...d.body };
    const changed = canonicalJson(body) !== canonicalJson(storedBody);
    planned.set(d.keyHash, changed ? { outcome: 'updated', row: documentRow(stored.id, resource, d, body, documentEtag(body), now) } : { outcome: 'unchanged' });
  }
  return planned;
}

function documentRow(id: string, resource: string, d: Desired, body: Body, etag: string, now: number): DocumentRow {
  return { id, resource, key_hash: d.keyHash, body: JSON.stringify(body), etag, last_modified: now, created_by: null, edorg_id: d.edorgId, student_unique_id: d.studentUniqueId };
}

const rowsOf = (planned: Planned[], outcome: 'created' | 'updated'): DocumentRow[] => planned.flatMap((p) => (p.outcome === outcome ? [p.row] : []));

/** New documents are plain inserts (a concurrent twin fails loudly and the request is retried); changed ones are upserts. */
async function writeDocuments(trx: Db, planned: Planned[]): Promise<void> {
  for (const chunk of chunks(rowsOf(planned, 'created'))) await trx('edfi_documents').insert(chunk);
  for (const chunk of chunks(rowsOf(planned, 'updated'))) {
    await trx('edfi_documents').insert(chunk).onConflict(['resource', 'key_hash']).merge(['body', 'etag', 'last_modified']);
  }
}

/** Each new StudentSchoolAssociation makes its student reachable through its school. */
async function writeSubjectEdorgs(trx: Db, associations: Planned[]): Promise<void> {
  const rows = rowsOf(associations, 'created').map((row) => ({ subject_type: 'student', subject_id: row.student_unique_id, edorg_id: row.edorg_id, via_document_id: row.id }));
  for (const chunk of chunks(rows)) await trx('edfi_subject_edorgs').insert(chunk);
}

async function writeRoster(trx: Db, records: RosterRecord[], now: number): Promise<SyncCounts> {
  const students = records.map(studentOf);
  const associations = records.map(associationOf);
  const storedStudents = await existingDocuments(trx, 'students', [...new Set(students.map((s) => s.keyHash))]);
  const storedAssociations = await existingDocuments(trx, 'studentSchoolAssociations', associations.map((a) => a.keyHash));
  const studentPlan = plan('students', students, storedStudents, now);
  const associationPlan = plan('studentSchoolAssociations', associations, storedAssociations, now);
  await writeDocuments(trx, [...studentPlan.values()]);
  await writeDocuments(trx, [...associationPlan.values()]);
  await writeSubjectEdorgs(trx, [...associationPlan.values()]);
  return countPerRecord(records.length, students, associations, studentPlan, associationPlan);
}

/**
 * Counts are per record (one student enrolled at one school): created when its student or its
 * association is new, updated when either changed, unchanged otherwise.
 */
function countPerRecord(received: number, students: Desired[], associations: Desired[], studentPlan: Map<string, Planned>, associationPlan: Map<string, Planned>): SyncCounts {
  const counts: SyncCounts = { received, created: 0, updated: 0, unchanged: 0 };
  for (let i = 0; i < received; i++) {
    const outcomes = [studentPlan.get(students[i].keyHash)!.outcome, associationPlan.get(associations[i].keyHash)!.outcome];
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
