import type { Knex } from 'knex';

import { dialectOf } from '../db/knex.js';
import type { EdorgType } from '../db/tables.js';
import { isDuplicateKey } from '../db/errors.js';
import { documentEtag, naturalKeyHash, newDocumentId } from './documents.js';
import type { Securables } from './reach.js';
import { valueAt, type ResourceDeclaration, type SecurableColumn } from './resource.js';

type Body = Record<string, unknown>;

/** The edfi_documents columns a read needs; the body is the only thing that reaches a response. */
export const documentColumns = [
  'd.id',
  'd.body',
  'd.etag',
  'd.last_modified',
  'd.created_by',
  'd.edorg_id',
  'd.student_unique_id',
  'd.staff_unique_id',
  'd.contact_unique_id',
] as const;

interface DocumentRow {
  id: string;
  body: string;
  etag: string;
  last_modified: number | string;
  created_by: string | null;
  edorg_id: number | string | null;
  student_unique_id: string | null;
  staff_unique_id: string | null;
  contact_unique_id: string | null;
}

export interface StoredDocument {
  id: string;
  body: Body;
  etag: string;
  lastModified: number;
  createdBy: string | null;
  securables: Securables;
}

export function toStored(row: DocumentRow): StoredDocument {
  return {
    id: row.id,
    body: JSON.parse(row.body) as Body,
    etag: row.etag,
    lastModified: Number(row.last_modified),
    createdBy: row.created_by,
    securables: {
      edorg_id: row.edorg_id === null ? null : Number(row.edorg_id),
      student_unique_id: row.student_unique_id,
      staff_unique_id: row.staff_unique_id,
      contact_unique_id: row.contact_unique_id,
    },
  };
}

export function naturalKeyOf(resource: ResourceDeclaration, body: Body): string {
  return naturalKeyHash(resource.key.map((path) => valueAt(body, path) as string | number));
}

/** Parent ed-org of an LEA or school body: the first parent reference present. */
function parentEdorgOf(resource: ResourceDeclaration, body: Body): number | null {
  for (const path of resource.edorg?.parentPaths ?? []) {
    const value = valueAt(body, path);
    if (value !== undefined && value !== null) return Number(value);
  }
  return null;
}

export function securablesOf(resource: ResourceDeclaration, body: Body): Securables {
  const values: Securables = {};
  for (const [column, path] of Object.entries(resource.columns) as Array<[SecurableColumn, string]>) {
    const value = valueAt(body, path);
    if (value === undefined || value === null) continue;
    if (column === 'edorg_id') values.edorg_id = Number(value);
    else values[column] = String(value);
  }
  if (resource.edorg) values.parent_edorg_id = parentEdorgOf(resource, body);
  return values;
}

/** The securable columns of a document row, from its resource's declaration (every writer uses these). */
export function documentColumnsOf(resource: ResourceDeclaration, body: Body) {
  const { edorg_id = null, student_unique_id = null, staff_unique_id = null, contact_unique_id = null } = securablesOf(resource, body);
  return { edorg_id, student_unique_id, staff_unique_id, contact_unique_id };
}

export async function documentById(db: Knex, resource: string, id: string, { lock = false } = {}): Promise<StoredDocument | undefined> {
  const query = db('edfi_documents as d').where({ 'd.resource': resource, 'd.id': id }).first(...documentColumns);
  // SQLite serialises writers on its one connection; MySQL needs the row lock.
  if (lock && dialectOf(db) === 'mysql') query.forUpdate();
  const row = (await query) as DocumentRow | undefined;
  return row && toStored(row);
}

export async function documentByKey(db: Knex, resource: string, keyHash: string): Promise<StoredDocument | undefined> {
  const row = (await db('edfi_documents as d').where({ 'd.resource': resource, 'd.key_hash': keyHash }).first(...documentColumns)) as DocumentRow | undefined;
  return row && toStored(row);
}

export interface Written {
  id: string;
  etag: string;
  lastModified: number;
}

export async function insertDocument(trx: Knex, resource: ResourceDeclaration, body: Body, createdBy: string | null): Promise<Written> {
  const written = { id: newDocumentId(), etag: documentEtag(body), lastModified: Date.now() };
  await trx('edfi_documents').insert({
    id: written.id,
    resource: resource.name,
    key_hash: naturalKeyOf(resource, body),
    body: JSON.stringify(body),
    etag: written.etag,
    last_modified: written.lastModified,
    created_by: createdBy,
    ...documentColumnsOf(resource, body),
  });
  await maintainProjections(trx, resource, written.id, body);
  return written;
}

export async function updateDocument(trx: Knex, resource: ResourceDeclaration, id: string, body: Body): Promise<Written> {
  const written = { id, etag: documentEtag(body), lastModified: Date.now() };
  await trx('edfi_documents')
    .where({ id })
    .update({ body: JSON.stringify(body), etag: written.etag, last_modified: written.lastModified, ...documentColumnsOf(resource, body) });
  await maintainProjections(trx, resource, id, body);
  return written;
}

/** The edfi_subject_edorgs row an association document makes, when its resource declares a subject link. */
export function subjectEdorgRow(resource: ResourceDeclaration, id: string, body: Body) {
  const link = resource.subjectLink;
  if (!link) return undefined;
  return { subject_type: link.subjectType, subject_id: String(valueAt(body, link.subjectPath)), edorg_id: Number(valueAt(body, link.edorgPath)), via_document_id: id };
}

/** Rows derived from a document, rewritten with it (same transaction): subject reach and attendance. */
async function maintainProjections(trx: Knex, resource: ResourceDeclaration, id: string, body: Body): Promise<void> {
  const subjectRow = subjectEdorgRow(resource, id, body);
  if (subjectRow) {
    await trx('edfi_subject_edorgs').where({ via_document_id: id }).del();
    await trx('edfi_subject_edorgs').insert(subjectRow);
  }
  if (resource.attendanceProjection) {
    await trx('attendance_events').where({ document_id: id }).del();
    await trx('attendance_events').insert({
      document_id: id,
      school_id: Number(valueAt(body, 'schoolReference.schoolId')),
      student_unique_id: String(valueAt(body, 'studentReference.studentUniqueId')),
      event_date: String(body.eventDate),
      category: String(body.attendanceEventCategoryDescriptor),
    });
  }
}

/** Deletes a document; its subject and attendance rows go with it (ON DELETE CASCADE). */
export async function deleteDocument(trx: Knex, id: string): Promise<void> {
  await trx('edfi_documents').where({ id }).del();
}

/** Messages for each reference that does not resolve; empty when all do. */
/** A reference whose target does not exist: the member holding it, and what it says. */
export interface UnresolvedReference {
  member: string;
  problem: string;
}

export async function unresolvedReferences(db: Knex, resource: ResourceDeclaration, body: Body): Promise<UnresolvedReference[]> {
  const problems: UnresolvedReference[] = [];
  for (const ref of resource.references) {
    const value = valueAt(body, `${ref.member}.${ref.field}`);
    if (value === undefined || value === null) continue;
    // Every document a reference points at has a one-member natural key, so its hash is the value's.
    const found =
      'resource' in ref.target
        ? await db('edfi_documents').where({ resource: ref.target.resource, key_hash: naturalKeyHash([value as string]) }).first('id')
        : await db('education_organizations').where({ id: Number(value) }).whereIn('type', ref.target.edorgTypes).first('id');
    if (!found) problems.push({ member: ref.member, problem: `${ref.member}.${ref.field} ${JSON.stringify(value)} does not resolve to an existing item` });
  }
  return problems;
}

/** Names of resources holding items that reference this document through a securable column. */
export async function dependantsOf(db: Knex, target: ResourceDeclaration, stored: StoredDocument, all: ResourceDeclaration[]): Promise<string[]> {
  const found: string[] = [];
  for (const resource of all) {
    for (const ref of resource.references) {
      if (!ref.column) continue;
      const pointsHere = 'resource' in ref.target ? ref.target.resource === target.name : Boolean(target.edorg && ref.target.edorgTypes.includes(target.edorg.type));
      const value = stored.securables[ref.column];
      if (!pointsHere || value === null || value === undefined) continue;
      if (await db('edfi_documents').where({ resource: resource.name, [ref.column]: value }).first('id')) found.push(resource.name);
    }
  }
  return [...new Set(found)];
}

/**
 * Ed-orgs added by the admin CLI or the seed exist only in education_organizations; give each a
 * document (built by the declaration) so it reads like any LEA or school. One anti-join per call.
 */
export async function materialiseEdorgDocuments(db: Knex, resource: ResourceDeclaration): Promise<void> {
  const mirror = resource.edorg;
  if (!mirror) return;
  const missing = (await db('education_organizations as e')
    .leftJoin('education_organizations as p', 'p.id', 'e.parent_id')
    .where('e.type', mirror.type)
    .whereNotExists(db('edfi_documents as d').select('d.id').where('d.resource', resource.name).whereRaw('d.edorg_id = e.id'))
    .select('e.id', 'e.name', 'e.parent_id', 'p.type as parent_type')) as Array<{ id: number; name: string; parent_id: number | null; parent_type: EdorgType | null }>;
  for (const row of missing) {
    const body = mirror.bodyFor({ id: Number(row.id), name: row.name, parentId: row.parent_id === null ? null : Number(row.parent_id), parentType: row.parent_type });
    try {
      await insertDocument(db, resource, body, null);
    } catch (err) {
      // Another request materialised it first: the document exists, which is all we wanted.
      if (!isDuplicateKey(err)) throw err;
    }
  }
}
