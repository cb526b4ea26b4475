import type { Knex } from 'knex';

import { dialectOf } from '../db/knex.js';
import { whereNamespaceUnder, whereOwned, type CollectionScope } from './authorization.js';
import { applyFilters, applyWindow, type Page } from './query.js';
import { subjectsInReach, whereInReach, type Reach } from './reach.js';
import type { ResourceDeclaration } from './resource-declaration.js';
import { documentColumns, toStored, type StoredDocument } from './store.js';

/** Collections of people are ordered by their unique id, everything else by resource id: stable either way. */
function orderColumnOf(resource: ResourceDeclaration): string {
  return resource.orderColumn ? `d.${resource.orderColumn}` : 'd.id';
}

/** The (resource, id, change_version) index of migrations/20261202020000_change_queries.ts. */
const cursorIndex = 'edfi_documents_resource_id_change_version_index';

/**
 * The documents table a query reads. A cursor page must walk the (resource, id) index and stop after a page;
 * MariaDB's planner, left alone, scans the clustered primary key (whole rows, every resource) or sorts the whole
 * resource off the change-version index, so on MySQL the walk names its index.
 */
function documents(db: Knex, page: Page): Knex.QueryBuilder {
  if (page.cursor && dialectOf(db) === 'mysql') return db.from(db.raw('?? as d force index (??)', ['edfi_documents', cursorIndex]));
  return db('edfi_documents as d');
}

function scoped(db: Knex, resource: ResourceDeclaration, scope: CollectionScope, page: Page): Knex.QueryBuilder {
  const query = documents(db, page).where('d.resource', resource.name);
  // Every filter of the scope applies (the strategies are combined with AND), in SQL: nothing is loaded to be dropped.
  for (const filter of scope.filters) {
    if (filter.kind === 'owned') whereOwned(query, 'd.created_by_ownership_token_id', filter.tokenIds);
    if (filter.kind === 'reach') whereInReach(db, query, resource.reach, filter.reach, 'current', filter.direction);
    if (filter.kind === 'namespace') whereNamespaceUnder(query, 'd.namespace', filter.prefixes);
  }
  applyFilters(db, query, page.filters);
  applyWindow(query, page);
  return query;
}

/**
 * A page of people reached through their associations, without filters: page the distinct subject
 * ids straight off the (subject_type, edorg_id, subject_id) index, then fetch only that page's
 * documents. The general plan would join and sort every subject in reach before cutting the page.
 */
function subjectPage(db: Knex, resource: ResourceDeclaration, reach: Reach, page: Page): Knex.QueryBuilder | undefined {
  const column = resource.orderColumn;
  const subjectType = resource.reach === 'student' && column === 'student_unique_id' ? 'student' : resource.reach === 'staff' && column === 'staff_unique_id' ? 'staff' : undefined;
  const narrowed = page.filters.length || page.cursor || page.minChangeVersion !== undefined || page.maxChangeVersion !== undefined;
  if (!subjectType || narrowed) return undefined;
  const edorgs = subjectType === 'student' ? reach.schools : reach.edorgs;
  const subjects = subjectsInReach(db, subjectType, edorgs).distinct().orderBy('se.subject_id').offset(page.offset).limit(page.limit);
  return db('edfi_documents as d')
    .join(subjects.as('page'), 'page.subject_id', `d.${column}`)
    .where('d.resource', resource.name)
    .select(...documentColumns)
    .orderBy(`d.${column}`);
}

/** One page of a collection, in a stable order; only the page's documents are read in full. */
export async function listPage(db: Knex, resource: ResourceDeclaration, scope: CollectionScope, page: Page): Promise<StoredDocument[]> {
  if (page.limit === 0) return [];
  // The subject index pages by reach alone: only a scope that is reach and nothing else may take it.
  const [only] = scope.filters;
  const fast = scope.filters.length === 1 && only.kind === 'reach' ? subjectPage(db, resource, only.reach, page) : undefined;
  if (fast) return (await fast).map(toStored);
  if (page.cursor) return cursorPage(db, resource, scope, page);
  const order = orderColumnOf(resource);
  // Deferred join: sort and cut the page on the index, then read bodies for the page only.
  const ids = scoped(db, resource, scope, page).select('d.id').orderBy(order).orderBy('d.id').offset(page.offset).limit(page.limit);
  const rows = await db('edfi_documents as d').join(ids.as('page'), 'page.id', 'd.id').select(...documentColumns).orderBy(order).orderBy('d.id');
  return rows.map(toStored);
}

export async function countItems(db: Knex, resource: ResourceDeclaration, scope: CollectionScope, page: Page): Promise<number> {
  const [{ total }] = (await scoped(db, resource, scope, page).count({ total: '*' })) as Array<{ total: number | string }>;
  return Number(total);
}

/**
 * A cursor page: the next `limit` ids after the cursor, read off the (resource, id) index, then their documents.
 * No offset, so its cost does not grow with depth.
 */
async function cursorPage(db: Knex, resource: ResourceDeclaration, scope: CollectionScope, page: Page): Promise<StoredDocument[]> {
  const ids = scoped(db, resource, scope, page).select('d.id').orderBy('d.id').limit(page.limit);
  const rows = await db('edfi_documents as d').join(ids.as('page'), 'page.id', 'd.id').select(...documentColumns).orderBy('d.id');
  return rows.map(toStored);
}

/**
 * Where each of `partitions` slices of a collection starts after the first, in id order, numbered by one
 * window-function pass over the (resource, id) index (SQLite ≥ 3.25, MariaDB ≥ 10.2).
 */
export async function partitionStarts(db: Knex, resource: ResourceDeclaration, scope: CollectionScope, page: Page, total: number, partitions: number): Promise<string[]> {
  const positions = slicePositions(total, partitions);
  if (!positions.length) return [];
  const numbered = scoped(db, resource, scope, { ...page, cursor: undefined }).select('d.id', db.raw('row_number() over (order by d.id) as position'));
  const rows = (await db.from(numbered.as('numbered')).select('id').whereIn('position', positions).orderBy('id')) as Array<{ id: string }>;
  return rows.map((row) => row.id);
}

/**
 * The 1-based positions where slices 2…n of `total` items start. Slices differ by one item at most, the larger ones
 * last (500 items in 200: 100 of 2, then 100 of 3), so readers in parallel finish together; the ODS/API's suite
 * checks that the last slice is at least the one before and less than twice it.
 */
export function slicePositions(total: number, partitions: number): number[] {
  const size = Math.floor(total / partitions);
  if (partitions < 2 || size < 1) return [];
  const smaller = partitions - (total % partitions);
  return Array.from({ length: partitions - 1 }, (_, i) => i + 1).map((slice) => slice * size + Math.max(0, slice - smaller) + 1);
}
