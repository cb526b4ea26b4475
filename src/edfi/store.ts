import type { Knex } from 'knex';

import { dialectOf } from '../db/knex.js';
import { reserveChangeVersions } from './change-versions.js';
import type { DocumentRow as StoredRow, EdorgType } from '../db/tables.js';
import { isDuplicateKey } from '../db/driver-errors.js';
import { documentInfoOf, type DocumentInfo, type ReferenceValue } from './document-info.js';
import { documentEtag, naturalKeyHash, newDocumentId } from './documents.js';
import type { Securables } from './reach.js';
import type { ResourceDeclaration } from './resource-declaration.js';

type Body = Record<string, unknown>;

/** The edfi_documents columns a read needs; the body is the only thing that reaches a response. */
export const documentColumns = [
  'd.id',
  'd.body',
  'd.etag',
  'd.last_modified',
  'd.created_by',
  'd.created_by_ownership_token_id',
  'd.key_hash',
  'd.edorg_id',
  'd.student_unique_id',
  'd.staff_unique_id',
  'd.contact_unique_id',
  'd.namespace',
] as const;

/** What reads select: every column but the resource, which the caller named. */
type DocumentRow = Omit<StoredRow, 'resource'>;

export interface StoredDocument {
  id: string;
  body: Body;
  etag: string;
  lastModified: number;
  createdBy: string | null;
  /** The creating client's ownership token, or null (the ownership strategy reaches such an item for no one). */
  ownershipTokenId: number | null;
  keyHash: string;
  securables: Securables;
}

export function toStored(row: DocumentRow): StoredDocument {
  return {
    id: row.id,
    body: JSON.parse(row.body) as Body,
    etag: row.etag,
    lastModified: Number(row.last_modified),
    createdBy: row.created_by,
    ownershipTokenId: row.created_by_ownership_token_id === null ? null : Number(row.created_by_ownership_token_id),
    keyHash: row.key_hash,
    securables: {
      edorg_id: row.edorg_id === null ? null : Number(row.edorg_id),
      student_unique_id: row.student_unique_id,
      staff_unique_id: row.staff_unique_id,
      contact_unique_id: row.contact_unique_id,
      namespace: row.namespace,
    },
  };
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

/** A write that changed the item: the change version it was stamped with. */
export type Stamped = Written & { changeVersion: number };

/** Who creates an item: the client and its creator ownership token (both null for the seed, the SIS sync, the CLI). */
export interface Creator {
  clientId: string | null;
  ownershipTokenId: number | null;
}

export const noCreator: Creator = { clientId: null, ownershipTokenId: null };

export async function insertDocument(trx: Knex, resource: ResourceDeclaration, body: Body, info: DocumentInfo, creator: Creator, resolved: ResolvedReference[]): Promise<Stamped> {
  const written = { id: newDocumentId(), etag: documentEtag(body), lastModified: Date.now(), changeVersion: await reserveChangeVersions(trx) };
  await trx('edfi_documents').insert({
    id: written.id,
    resource: resource.name,
    key_hash: info.keyHash,
    body: JSON.stringify(body),
    etag: written.etag,
    last_modified: written.lastModified,
    change_version: written.changeVersion,
    created_by: creator.clientId,
    created_by_ownership_token_id: creator.ownershipTokenId,
    ...info.columns,
  });
  await writeDerivedRows(trx, written.id, info, resolved, false);
  return written;
}

export async function updateDocument(trx: Knex, id: string, body: Body, info: DocumentInfo, resolved: ResolvedReference[]): Promise<Stamped> {
  const written = { id, etag: documentEtag(body), lastModified: Date.now(), changeVersion: await reserveChangeVersions(trx) };
  await trx('edfi_documents')
    .where({ id })
    .update({ key_hash: info.keyHash, body: JSON.stringify(body), etag: written.etag, last_modified: written.lastModified, change_version: written.changeVersion, ...info.columns });
  await writeDerivedRows(trx, id, info, resolved, true);
  return written;
}

/** Rows derived from a document, rewritten with it (same transaction): references, subject reach, projections. */
async function writeDerivedRows(trx: Knex, id: string, info: DocumentInfo, resolved: ResolvedReference[], replacing: boolean): Promise<void> {
  if (replacing) await trx('edfi_references').where({ document_id: id }).del();
  const referenceRows = uniqueReferenceRows(id, resolved);
  if (referenceRows.length) await trx('edfi_references').insert(referenceRows);
  if (info.subject) {
    if (replacing) await trx('edfi_subject_edorgs').where({ via_document_id: id }).del();
    await trx('edfi_subject_edorgs').insert({ ...info.subject, via_document_id: id });
  }
  for (const { table, row } of info.projections) {
    if (replacing) await trx(table).where({ document_id: id }).del();
    await trx(table).insert({ document_id: id, ...row });
  }
}

function uniqueReferenceRows(id: string, resolved: ResolvedReference[]) {
  const seen = new Set<string>();
  const rows = [];
  for (const { resource, keyHash } of resolved) {
    const key = `${resource}\u0000${keyHash}`;
    if (seen.has(key)) continue;
    seen.add(key);
    rows.push({ document_id: id, referenced_resource: resource, referenced_key_hash: keyHash });
  }
  return rows;
}

/** Deletes a document; its reference, subject and projection rows go with it (ON DELETE CASCADE). */
export async function deleteDocument(trx: Knex, id: string): Promise<void> {
  await trx('edfi_documents').where({ id }).del();
}

/** A reference found: the resource and identity hash of the item it points at. */
export interface ResolvedReference {
  resource: string;
  keyHash: string;
}

export interface Resolution {
  resolved: ResolvedReference[];
  /** Labels of the references that point at nothing. */
  missing: ReferenceValue[];
}

/**
 * Resolves every reference of a document: one indexed query over edfi_documents for all of them,
 * and one over the ed-org tree for education organisations that exist only there. References to a
 * resource the model does not hold cannot be checked and are let through.
 */
export async function resolveReferences(db: Knex, references: ReferenceValue[]): Promise<Resolution> {
  const checkable = references.filter((r) => r.targets.length || r.edorgId !== undefined);
  if (!checkable.length) return { resolved: [], missing: [] };
  const hashes = [...new Set(checkable.flatMap((r) => r.targets.map((t) => t.keyHash)))];
  const found = new Set<string>();
  if (hashes.length) {
    const rows = (await db('edfi_documents').whereIn('key_hash', hashes).select('resource', 'key_hash')) as Array<{ resource: string; key_hash: string }>;
    for (const row of rows) found.add(`${row.resource}\u0000${row.key_hash}`);
  }
  const resolved: ResolvedReference[] = [];
  const unresolved: ReferenceValue[] = [];
  for (const reference of checkable) {
    const hit = reference.targets.find((t) => found.has(`${t.resource}\u0000${t.keyHash}`));
    if (hit) resolved.push(hit);
    else unresolved.push(reference);
  }
  const inTree = await edorgsInTree(db, unresolved);
  const missing: ReferenceValue[] = [];
  for (const reference of unresolved) {
    const type = reference.edorgId === undefined ? undefined : inTree.get(reference.edorgId);
    const endpoint = type && reference.reference.edorgTypes?.includes(type) ? reference.reference.edorgEndpoints?.[type] : undefined;
    if (endpoint) resolved.push({ resource: endpoint, keyHash: naturalKeyHash([reference.edorgId!]) });
    else if (reference.targets.length || reference.reference.edorgTypes) missing.push(reference);
  }
  return { resolved, missing };
}

/** Where a reference points when it is known to resolve (a bulk writer checked it beforehand). */
export function assumedTarget(reference: ReferenceValue): ResolvedReference | undefined {
  if (reference.targets.length) return reference.targets[0];
  const types = reference.reference.edorgTypes;
  if (reference.edorgId === undefined || types?.length !== 1) return undefined;
  const endpoint = reference.reference.edorgEndpoints?.[types[0]];
  return endpoint ? { resource: endpoint, keyHash: naturalKeyHash([reference.edorgId]) } : undefined;
}

async function edorgsInTree(db: Knex, references: ReferenceValue[]): Promise<Map<number, EdorgType>> {
  const ids = [...new Set(references.flatMap((r) => (r.edorgId === undefined ? [] : [r.edorgId])))];
  if (!ids.length) return new Map();
  const rows = (await db('education_organizations').whereIn('id', ids).select('id', 'type')) as Array<{ id: number | string; type: EdorgType }>;
  return new Map(rows.map((r) => [Number(r.id), r.type]));
}

/** Names of resources holding items that reference this document. */
export async function dependantsOf(db: Knex, resource: ResourceDeclaration, stored: StoredDocument): Promise<string[]> {
  const rows = (await db('edfi_references as r')
    .join('edfi_documents as d', 'd.id', 'r.document_id')
    .where({ 'r.referenced_resource': resource.name, 'r.referenced_key_hash': stored.keyHash })
    .whereNot('r.document_id', stored.id)
    .distinct('d.resource')
    .limit(10)) as Array<{ resource: string }>;
  return rows.map((r) => r.resource);
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
    const info = documentInfoOf(resource, body);
    try {
      await db.transaction(async (trx) => insertDocument(trx, resource, body, info, noCreator, (await resolveReferences(trx, info.references)).resolved));
    } catch (err) {
      // Another request materialised it first: the document exists, which is all we wanted.
      if (!isDuplicateKey(err)) throw err;
    }
  }
}
