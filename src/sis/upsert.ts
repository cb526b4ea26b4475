import { dialectOf, type Db } from '../db/knex.js';
import { retriedTransaction } from '../db/transaction.js';
import { documentInfoOf, naturalKeyOf, type DocumentInfo, type ReferenceValue } from '../edfi/document-info.js';
import { reserveChangeVersions } from '../edfi/change-versions.js';
import { canonicalJson, documentEtag, newDocumentId } from '../edfi/documents.js';
import type { EdfiModel } from '../edfi/model/index.js';
import type { ResourceDeclaration } from '../edfi/resource-declaration.js';
import { assumedTarget, resolveReferences } from '../edfi/store.js';
import { ApiError } from '../errors.js';
import type { RosterRecord } from './roster.js';
import type { DocumentRow } from '../db/tables.js';

export interface SyncCounts {
  received: number;
  created: number;
  updated: number;
  unchanged: number;
}

type Body = Record<string, unknown>;

/** An edfi_documents row, built from the model as the Ed-Fi resource API builds it. */

interface Desired {
  keyHash: string;
  body: Body;
}

type Planned = { outcome: 'unchanged' } | { outcome: 'created' | 'updated'; row: DocumentRow; body: Body; info: DocumentInfo };

/**
 * Rows per statement. knex writes a multi-row SQLite insert as a compound SELECT, which SQLite caps
 * at 500 terms; MySQL gains little from more (measured: about 5 % at 1,000).
 */
const chunkSize = 500;

const chunks = <T>(items: T[]): T[][] => Array.from({ length: Math.ceil(items.length / chunkSize) }, (_, i) => items.slice(i * chunkSize, (i + 1) * chunkSize));

/** The two resources a roster writes, from the same model the resource API serves. */
interface RosterResources {
  students: ResourceDeclaration;
  associations: ResourceDeclaration;
}

function rosterResources(model: EdfiModel): RosterResources {
  const students = model.named('students');
  const associations = model.named('studentSchoolAssociations');
  if (!students || !associations) throw new Error('the model serves no students or studentSchoolAssociations: SIS sync needs both');
  return { students, associations };
}

function studentOf(resources: RosterResources, r: RosterRecord): Desired {
  const body = { studentUniqueId: r.studentUniqueId, firstName: r.firstName, lastSurname: r.lastSurname, birthDate: r.birthDate };
  return { keyHash: naturalKeyOf(resources.students, body), body };
}

function associationBody(r: RosterRecord): Body {
  const body: Body = { studentReference: { studentUniqueId: r.studentUniqueId }, schoolReference: { schoolId: r.schoolId }, entryDate: r.entryDate };
  if (r.entryGradeLevelDescriptor !== undefined) body.entryGradeLevelDescriptor = r.entryGradeLevelDescriptor;
  return body;
}

function associationOf(resources: RosterResources, r: RosterRecord): Desired {
  const body = associationBody(r);
  return { keyHash: naturalKeyOf(resources.associations, body), body };
}

/**
 * Descriptors a roster names must exist, as they must for the resource API: one query for the
 * batch's distinct values, before anything is written; the first record naming an unknown one is reported.
 */
export async function checkRosterDescriptors(db: Db, model: EdfiModel, records: RosterRecord[]): Promise<void> {
  const { associations } = rosterResources(model);
  const firstIndex = new Map<string, number>();
  records.forEach((r, i) => r.entryGradeLevelDescriptor !== undefined && !firstIndex.has(r.entryGradeLevelDescriptor) && firstIndex.set(r.entryGradeLevelDescriptor, i));
  if (!firstIndex.size) return;
  const indexOfReference = new Map<ReferenceValue, number>();
  for (const [value, index] of firstIndex) {
    for (const ref of documentInfoOf(associations, { entryGradeLevelDescriptor: value }).references) if (ref.reference.isDescriptor) indexOfReference.set(ref, index);
  }
  const { missing } = await resolveReferences(db, [...indexOfReference.keys()]);
  if (!missing.length) return;
  const index = Math.min(...missing.map((m) => indexOfReference.get(m)!));
  const field = `students[${index}].entryGradeLevelDescriptor`;
  throw new ApiError('invalid_field', `${field} names a ${missing[0].reference.target} that does not exist: ${missing[0].label}`, { field });
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
  const planned_ = (outcome: 'created' | 'updated', id: string, keyHash: string, body: Body, etag: string): Planned => {
    const info = documentInfoOf(resource, body);
    return { outcome, row: documentRow(id, resource, keyHash, body, etag, now, info), body, info };
  };
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
      planned.set(d.keyHash, planned_('created', newDocumentId(), d.keyHash, d.body, etag));
      continue;
    }
    const storedBody = JSON.parse(stored.body) as Body;
    const body = { ...storedBody, ...d.body };
    const changed = canonicalJson(body) !== canonicalJson(storedBody);
    planned.set(d.keyHash, changed ? planned_('updated', stored.id, d.keyHash, body, documentEtag(body)) : { outcome: 'unchanged' });
  }
  return planned;
}

function documentRow(id: string, resource: ResourceDeclaration, keyHash: string, body: Body, etag: string, now: number, info: DocumentInfo): DocumentRow {
  return { id, resource: resource.name, key_hash: keyHash, body: JSON.stringify(body), etag, last_modified: now, created_by: null, created_by_ownership_token_id: null, ...info.columns };
}

const plannedOf = (planned: Planned[], outcome: 'created' | 'updated') => planned.flatMap((p) => (p.outcome === outcome ? [p] : []));
const rowsOf = (planned: Planned[], outcome: 'created' | 'updated'): DocumentRow[] => plannedOf(planned, outcome).map((p) => p.row);

/** New documents are plain inserts (a concurrent twin fails loudly and the request is retried); changed ones are upserts. */
async function writeDocuments(trx: Db, planned: Planned[]): Promise<void> {
  const created = rowsOf(planned, 'created');
  const updated = rowsOf(planned, 'updated');
  if (!created.length && !updated.length) return;
  // One reservation for the batch: each written document gets its own change version, in the batch's transaction.
  let next = await reserveChangeVersions(trx, created.length + updated.length);
  const stamped = (rows: DocumentRow[]) => rows.map((row) => ({ ...row, change_version: next++ }));
  for (const chunk of chunks(stamped(created))) await trx('edfi_documents').insert(chunk);
  for (const chunk of chunks(stamped(updated))) {
    await trx('edfi_documents').insert(chunk).onConflict(['resource', 'key_hash']).merge(['body', 'etag', 'last_modified', 'change_version']);
  }
}

/** Each new StudentSchoolAssociation makes its student reachable through its school. */
async function writeSubjectEdorgs(trx: Db, associationPlan: Planned[]): Promise<void> {
  const rows = plannedOf(associationPlan, 'created').flatMap(({ row, info }) => (info.subject ? [{ ...info.subject, via_document_id: row.id }] : []));
  for (const chunk of chunks(rows)) await trx('edfi_subject_edorgs').insert(chunk);
}

/**
 * The reference rows of written documents, as the resource API writes them. Every reference was
 * checked before the write (schools by reach, descriptors by checkRosterDescriptors, students are
 * in the batch), so each resolves to its first candidate.
 */
async function writeReferences(trx: Db, planned: Planned[]): Promise<void> {
  const updated = plannedOf(planned, 'updated').map((p) => p.row.id);
  for (const chunk of chunks(updated)) await trx('edfi_references').whereIn('document_id', chunk).del();
  const rows = [...plannedOf(planned, 'created'), ...plannedOf(planned, 'updated')].flatMap(({ row, info }) => {
    const seen = new Set<string>();
    return info.references.flatMap((ref) => {
      const target = assumedTarget(ref);
      const key = target && `${target.resource}\u0000${target.keyHash}`;
      if (!target || seen.has(key!)) return [];
      seen.add(key!);
      return [{ document_id: row.id, referenced_resource: target.resource, referenced_key_hash: target.keyHash }];
    });
  });
  for (const chunk of chunks(rows)) await trx('edfi_references').insert(chunk);
}

async function writeRoster(trx: Db, resources: RosterResources, records: RosterRecord[], now: number): Promise<SyncCounts> {
  const { students, associations } = resources;
  const wantedStudents = records.map((r) => studentOf(resources, r));
  const wantedAssociations = records.map((r) => associationOf(resources, r));
  const storedStudents = await existingDocuments(trx, students.name, [...new Set(wantedStudents.map((s) => s.keyHash))]);
  const storedAssociations = await existingDocuments(trx, associations.name, wantedAssociations.map((a) => a.keyHash));
  const studentPlan = plan(students, wantedStudents, storedStudents, now);
  const associationPlan = plan(associations, wantedAssociations, storedAssociations, now);
  await writeDocuments(trx, [...studentPlan.values()]);
  await writeDocuments(trx, [...associationPlan.values()]);
  await writeSubjectEdorgs(trx, [...associationPlan.values()]);
  await writeReferences(trx, [...studentPlan.values(), ...associationPlan.values()]);
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

/**
 * Writes a validated roster in one transaction: all of it or none of it. Two identical requests
 * racing each other collide on the unique key or deadlock; the loser retries and finds the rows.
 */
export async function syncRoster(db: Db, model: EdfiModel, records: RosterRecord[]): Promise<SyncCounts> {
  if (!records.length) return { received: 0, created: 0, updated: 0, unchanged: 0 };
  const resources = rosterResources(model);
  return retriedTransaction(db, (trx) => writeRoster(trx, resources, records, Date.now()), transactionOptions(db));
}
