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

type Outcome = 'created' | 'updated' | 'unchanged';
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

interface Planned {
  row: DocumentRow;
  outcome: Outcome;
}

/** Rows per statement: well under SQLite's 32,766 bound variables and MySQL's packet size. */
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

/** Stored documents by key hash; on MySQL locked, so a concurrent writer cannot slip in between. */
async function existingDocuments(trx: Db, resource: string, keyHashes: string[]) {
  const found = new Map<string, { id: string; body: string }>();
  for (const chunk of chunks(keyHashes)) {
    const query = trx('edfi_documents').where({ resource }).whereIn('key_hash', chunk).select('id', 'key_hash', 'body');
    if (dialectOf(trx) === 'mysql') query.forUpdate();
    for (const row of (await query) as Array<{ id: string; key_hash: string; body: string }>) found.set(row.key_hash, row);
  }
  return found;
}

/**
 * Decides each document's fate. An existing document keeps the members the SIS does not send
 * (e.g. ones written through the resource API) and is unchanged when the merge changes nothing.
 */
function plan(resource: string, desired: Desired[], existing: Map<string, { id: string; body: string }>, now: number): Map<string, Planned> {
  const planned = new Map<string, Planned>();
  for (const d of desired) {
    if (planned.has(d.keyHash)) continue;
    const stored = existing.get(d.keyHash);
    const storedBody = stored ? (JSON.parse(stored.body) as Body) : undefined;
    const body = storedBody ? { ...storedBody, ...d.body } : d.body;
    const outcome: Outcome = !storedBody ? 'created' : canonicalJson(body) === canonicalJson(storedBody) ? 'unchanged' : 'updated';
    const row: DocumentRow = {
      id: stored?.id ?? newDocumentId(),
      resource,
      key_hash: d.keyHash,
      body: JSON.stringify(body),
      etag: documentEtag(body),
      last_modified: now,
      created_by: null,
      edorg_id: d.edorgId,
      student_unique_id: d.studentUniqueId,
    };
    planned.set(d.keyHash, { row, outcome });
  }
  return planned;
}

/** New documents are plain inserts (a concurrent twin fails loudly and the request is retried); changed ones are upserts. */
async function writeDocuments(trx: Db, planned: Iterable<Planned>): Promise<void> {
  const all = [...planned];
  for (const chunk of chunks(all.filter((p) => p.outcome === 'created').map((p) => p.row))) await trx('edfi_documents').insert(chunk);
  for (const chunk of chunks(all.filter((p) => p.outcome === 'updated').map((p) => p.row))) {
    await trx('edfi_documents').insert(chunk).onConflict(['resource', 'key_hash']).merge(['body', 'etag', 'last_modified']);
  }
}

/** Each new StudentSchoolAssociation makes its student reachable through its school. */
async function writeSubjectEdorgs(trx: Db, associations: Iterable<Planned>): Promise<void> {
  const rows = [...associations]
    .filter((p) => p.outcome === 'created')
    .map(({ row }) => ({ subject_type: 'student', subject_id: row.student_unique_id, edorg_id: row.edorg_id, via_document_id: row.id }));
  for (const chunk of chunks(rows)) await trx('edfi_subject_edorgs').insert(chunk);
}

async function writeRoster(trx: Db, records: RosterRecord[], now: number): Promise<SyncCounts> {
  const students = records.map(studentOf);
  const associations = records.map(associationOf);
  const storedStudents = await existingDocuments(trx, 'students', [...new Set(students.map((s) => s.keyHash))]);
  const storedAssociations = await existingDocuments(trx, 'studentSchoolAssociations', associations.map((a) => a.keyHash));
  const studentPlan = plan('students', students, storedStudents, now);
  const associationPlan = plan('studentSchoolAssociations', associations, storedAssociations, now);
  await writeDocuments(trx, studentPlan.values());
  await writeDocuments(trx, associationPlan.values());
  await writeSubjectEdorgs(trx, associationPlan.values());
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

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Writes a validated roster in one transaction: all of it or none of it. Two identical requests
 * racing each other collide on the unique key or deadlock; the loser retries and finds the rows.
 */
export async function syncRoster(db: Db, records: RosterRecord[]): Promise<SyncCounts> {
  if (!records.length) return { received: 0, created: 0, updated: 0, unchanged: 0 };
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction((trx) => writeRoster(trx, records, Date.now()));
    } catch (err) {
      if (attempt >= maxAttempts || !(isDuplicateKey(err) || isRetryableConflict(err))) throw err;
      await pause(20 * attempt + Math.random() * 50);
    }
  }
}
