import type { Knex } from 'knex';

import type { TrackedChangeRow } from '../db/tables.js';
import { whereNamespaceUnder, whereOwned, type CollectionScope } from './authorization.js';
import { documentInfoOf } from './document-info.js';
import { contactsEverInReach, subjectsEverInReach, whereEdorgInReach, whereInReach, type Reach, type ReachDirection } from './reach.js';
import { valueAt, type ResourceDeclaration } from './resource-declaration.js';
import type { StoredDocument } from './store.js';

type Body = Record<string, unknown>;

/**
 * Tracked changes (edfi_tracked_changes): the deletes and identity changes of the document store, kept so that a
 * consumer copying data incrementally learns what disappeared. Each row carries the securable values and subject link
 * the item had at that moment, and reads are scoped by those, never by the item's present state (it has none).
 */
export type ChangeKind = 'delete' | 'keyChange';

/** An item's identity as the ODS/API reports it in keyValues: each identity value under its own name. */
export function keyValuesOf(resource: ResourceDeclaration, body: Body): Record<string, unknown> {
  if (resource.isDescriptor) return { namespace: body.namespace, codeValue: body.codeValue };
  return Object.fromEntries(resource.identityParts.map((part) => [part.key, valueAt(body, part.path)]));
}

function trackedRow(resource: ResourceDeclaration, stored: StoredDocument, kind: ChangeKind, changeVersion: number): TrackedChangeRow {
  const subject = documentInfoOf(resource, stored.body).subject;
  const { edorg_id, student_unique_id, staff_unique_id, contact_unique_id, namespace } = stored.securables;
  return {
    change_version: changeVersion,
    document_id: stored.id,
    kind,
    resource: resource.name,
    key_hash: stored.keyHash,
    old_key: JSON.stringify(keyValuesOf(resource, stored.body)),
    new_key: null as string | null,
    created_by: stored.createdBy,
    created_by_ownership_token_id: stored.ownershipTokenId,
    edorg_id: edorg_id ?? null,
    student_unique_id: student_unique_id ?? null,
    staff_unique_id: staff_unique_id ?? null,
    contact_unique_id: contact_unique_id ?? null,
    namespace: namespace ?? null,
    subject_type: subject?.subject_type ?? null,
    subject_id: subject?.subject_id ?? null,
    subject_edorg_id: subject?.edorg_id ?? null,
  };
}

/** Records a delete in the deleting transaction, with the reach the item had. */
export async function recordDelete(trx: Knex, resource: ResourceDeclaration, stored: StoredDocument, changeVersion: number): Promise<void> {
  await trx('edfi_tracked_changes').insert(trackedRow(resource, stored, 'delete', changeVersion));
}

/** Records an identity change (allowIdentityUpdates) in the updating transaction: the identity before and after. */
export async function recordKeyChange(trx: Knex, resource: ResourceDeclaration, stored: StoredDocument, newBody: Body, changeVersion: number): Promise<void> {
  await trx('edfi_tracked_changes').insert({ ...trackedRow(resource, stored, 'keyChange', changeVersion), new_key: JSON.stringify(keyValuesOf(resource, newBody)) });
}

/** The tracked changes (aliased `t`) within reach, by the values recorded with each. */
function whereTrackedInReach(db: Knex, query: Knex.QueryBuilder, resource: ResourceDeclaration, reach: Reach, direction: ReachDirection): void {
  switch (resource.reach) {
    case 'none':
      return;
    case 'school':
      whereEdorgInReach(db, query, 't.edorg_id', reach.schools, reach, direction);
      return;
    case 'edorg':
    case 'edorgSelf':
      whereEdorgInReach(db, query, 't.edorg_id', reach.edorgs, reach, direction);
      return;
    case 'student':
      query.whereIn('t.student_unique_id', subjectsEverInReach(db, 'student', reach.schools));
      return;
    case 'staff':
      query.whereIn('t.staff_unique_id', subjectsEverInReach(db, 'staff', reach.edorgs));
      return;
    case 'contact':
      query.whereIn('t.contact_unique_id', contactsEverInReach(db, reach));
  }
}

export interface ChangeWindow {
  minChangeVersion?: number;
  maxChangeVersion?: number;
}

export interface TrackedPage extends ChangeWindow {
  offset: number;
  limit: number;
  totalCount: boolean;
}

function trackedScope(db: Knex, resource: ResourceDeclaration, kind: ChangeKind, scope: CollectionScope, window: ChangeWindow): Knex.QueryBuilder {
  const query = db('edfi_tracked_changes as t').where({ 't.resource': resource.name, 't.kind': kind });
  if (window.minChangeVersion !== undefined) query.where('t.change_version', '>=', window.minChangeVersion);
  if (window.maxChangeVersion !== undefined) query.where('t.change_version', '<=', window.maxChangeVersion);
  for (const filter of scope.filters) {
    if (filter.kind === 'owned') whereOwned(query, 't.created_by_ownership_token_id', filter.tokenIds);
    if (filter.kind === 'namespace') whereNamespaceUnder(query, 't.namespace', filter.prefixes);
    if (filter.kind === 'reach' && resource.reach !== 'none') {
      const { reach, direction } = filter;
      if (kind === 'delete') whereTrackedInReach(db, query, resource, reach, direction);
      // An identity change may move the item (an enrolment to another school): its old reach, or the reach it has now.
      else
        query.where((either) =>
          either.where((q) => whereTrackedInReach(db, q, resource, reach, direction)).orWhereIn('t.document_id', liveInReach(db, resource, reach, direction)),
        );
    }
  }
  return query;
}

function liveInReach(db: Knex, resource: ResourceDeclaration, reach: Reach, direction: ReachDirection): Knex.QueryBuilder {
  return whereInReach(db, db('edfi_documents as d').select('d.id').where('d.resource', resource.name), resource.reach, reach, 'current', direction);
}

/** A delete whose identity has been created again since is no delete for a consumer: the item is there. */
function stillGone(db: Knex, query: Knex.QueryBuilder): Knex.QueryBuilder {
  return query.whereNotExists(db('edfi_documents as live').select('live.id').whereRaw('live.resource = t.resource and live.key_hash = t.key_hash'));
}

export interface DeletedItem {
  id: string;
  changeVersion: number;
  keyValues: Record<string, unknown>;
}

export interface KeyChange {
  id: string;
  changeVersion: number;
  oldKeyValues: Record<string, unknown>;
  newKeyValues: Record<string, unknown>;
}

/** A page of deletes, oldest first, and their number when asked. */
export async function deletesPage(db: Knex, resource: ResourceDeclaration, scope: CollectionScope, page: TrackedPage): Promise<{ items: DeletedItem[]; total?: number }> {
  const base = () => stillGone(db, trackedScope(db, resource, 'delete', scope, page));
  const rows = (await base()
    .select('t.document_id', 't.change_version', 't.old_key')
    .orderBy('t.change_version')
    .orderBy('t.document_id')
    .offset(page.offset)
    .limit(page.limit)) as Array<Pick<TrackedChangeRow, 'document_id' | 'change_version' | 'old_key'>>;
  const items = rows.map((r) => ({ id: r.document_id, changeVersion: Number(r.change_version), keyValues: JSON.parse(r.old_key) as Record<string, unknown> }));
  if (!page.totalCount) return { items };
  const [{ total }] = (await base().count({ total: '*' })) as Array<{ total: number | string }>;
  return { items, total: Number(total) };
}

/**
 * A page of key changes, one per item however often its identity changed in the window (as the ODS/API reports
 * them): the identity before the first change, the identity after the last, and the last change's version.
 */
export async function keyChangesPage(db: Knex, resource: ResourceDeclaration, scope: CollectionScope, page: TrackedPage): Promise<{ items: KeyChange[]; total?: number }> {
  const grouped = () => trackedScope(db, resource, 'keyChange', scope, page).groupBy('t.document_id');
  const groups = (await grouped()
    .select('t.document_id')
    .min({ first: 't.change_version' })
    .max({ last: 't.change_version' })
    .orderBy('last')
    .orderBy('t.document_id')
    .offset(page.offset)
    .limit(page.limit)) as Array<{ document_id: string; first: number | string; last: number | string }>;
  const versions = groups.flatMap((g) => [Number(g.first), Number(g.last)]);
  const rows = versions.length
    ? ((await db('edfi_tracked_changes').where({ resource: resource.name, kind: 'keyChange' }).whereIn('change_version', versions).select('document_id', 'change_version', 'old_key', 'new_key')) as Array<
        Pick<TrackedChangeRow, 'document_id' | 'change_version' | 'old_key' | 'new_key'>
      >)
    : [];
  const at = new Map(rows.map((r) => [`${r.document_id}@${Number(r.change_version)}`, r]));
  const items = groups.map((g) => ({
    id: g.document_id,
    changeVersion: Number(g.last),
    oldKeyValues: JSON.parse(at.get(`${g.document_id}@${Number(g.first)}`)!.old_key) as Record<string, unknown>,
    newKeyValues: JSON.parse(at.get(`${g.document_id}@${Number(g.last)}`)!.new_key ?? '{}') as Record<string, unknown>,
  }));
  if (!page.totalCount) return { items };
  const [{ total }] = (await trackedScope(db, resource, 'keyChange', scope, page).countDistinct({ total: 't.document_id' })) as Array<{ total: number | string }>;
  return { items, total: Number(total) };
}
