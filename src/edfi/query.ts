import type { Knex } from 'knex';

import { dialectOf } from '../db/knex.js';
import { ApiError } from '../errors.js';
import { decodeCursor, type Cursor } from './cursor.js';
import { isDocumentId } from './documents.js';
import type { ResourceDeclaration, SecurableColumn } from './resource-declaration.js';

type Schema = { type?: string; properties?: Record<string, Schema> };

/** A query-string filter: the body member's JSON path, its scalar type, and an indexed column if one holds it. */
interface Filterable {
  path: string;
  type: 'string' | 'integer' | 'number' | 'boolean';
  column?: SecurableColumn | 'id';
}

const scalarTypes = new Set(['string', 'integer', 'number', 'boolean']);

/** A scalar member a query may name: its name, where it is, and the object (a reference) it sits in, if any. */
interface Member {
  name: string;
  path: string;
  schema: Schema;
  within?: string;
}

function scalarMembers(resource: ResourceDeclaration): Member[] {
  const members: Member[] = [];
  for (const [name, schema] of Object.entries((resource.schema.properties ?? {}) as Record<string, Schema>)) {
    members.push({ name, path: name, schema });
    if (schema.type === 'object') for (const [inner, schemaOf] of Object.entries(schema.properties ?? {})) members.push({ name: inner, path: `${name}.${inner}`, schema: schemaOf, within: name });
  }
  return members.filter((m) => m.schema.type && scalarTypes.has(m.schema.type));
}

/** Where a shared member name is the reference's own: `educationOrganizationId` in an educationOrganizationReference. */
const ownsName = (member: Member) => member.within !== undefined && member.name.toLowerCase().startsWith(member.within.replace(/Reference$/, '').toLowerCase());

/** `programReference.educationOrganizationId` → `programEducationOrganizationId`, the ODS/API's role-named parameter. */
const roleName = (member: Member) => `${member.within!.replace(/Reference$/, '')}${member.name.charAt(0).toUpperCase()}${member.name.slice(1)}`;

/**
 * Filterable members as the ODS/API offers them: top-level scalars, and the scalars inside references under their own
 * names (`?studentUniqueId=` on an association). Where references share a name, it is the member of the one that owns
 * it (a StudentProgramAssociation's `educationOrganizationId` is its own ed-org, not its program's), else the first's;
 * the others go by their role names too (`programEducationOrganizationId`).
 */
export function filterablesOf(resource: ResourceDeclaration): Map<string, Filterable> {
  const columnOfPath = new Map(Object.entries(resource.columns).map(([column, path]) => [path, column as SecurableColumn]));
  const members = scalarMembers(resource);
  const owners = new Map<string, Member>();
  for (const member of members) if (!owners.has(member.name) || (ownsName(member) && !ownsName(owners.get(member.name)!) && owners.get(member.name)!.within)) owners.set(member.name, member);
  const filterables = new Map<string, Filterable>();
  const add = (name: string, member: Member) => {
    if (!filterables.has(name)) filterables.set(name, { path: member.path, type: member.schema.type as Filterable['type'], column: columnOfPath.get(member.path) });
  };
  for (const [name, owner] of owners) add(name, owner);
  for (const member of members) if (owners.get(member.name) !== member && member.within) add(roleName(member), member);
  return filterables;
}

export interface Page {
  offset: number;
  limit: number;
  totalCount: boolean;
  filters: Array<{ filterable: Filterable; value: string | number | boolean }>;
  /** minChangeVersion / maxChangeVersion, both inclusive. */
  minChangeVersion?: number;
  maxChangeVersion?: number;
  /** Cursor paging (pageToken / pageSize): the page is read by id from here, `limit` items. */
  cursor?: Cursor;
}

export const defaultLimit = 25;
export const maxLimit = 500;

function badQuery(detail: string): ApiError {
  return new ApiError('invalid_query', detail);
}

function offsetParameter(raw: string): number {
  if (!/^\d{1,16}$/.test(raw) || Number(raw) > Number.MAX_SAFE_INTEGER) throw badQuery(`Offset must be a whole number of 0 or more, got "${raw}".`);
  return Number(raw);
}

function limitParameter(raw: string): number {
  if (!/^\d{1,3}$/.test(raw) || Number(raw) > maxLimit) throw badQuery(`Limit must be a value between 0 and ${maxLimit}.`);
  return Number(raw);
}

/** An `id` filter: the ODS/API reports a malformed one as a validation error of `$.id`, not a query problem. */
function idFilterValue(raw: string): string {
  if (!isDocumentId(raw)) {
    throw new ApiError('data_validation_failed', `The value '${raw}' is not valid for Id.`, { validationErrors: { '$.id': [`The value '${raw}' is not valid for Id.`] } });
  }
  return raw.toLowerCase();
}

const idFilterable: Filterable = { path: 'id', type: 'string', column: 'id' };

/** What is wrong with a change version bound (a non-negative integer, as the ODS/API's are), or undefined. */
export function changeVersionProblem(name: string, raw: string): string | undefined {
  return /^\d{1,15}$/.test(raw) ? undefined : `${name} must be a non-negative integer (a change version), got "${raw}".`;
}

function changeVersionParameter(name: string, raw: string): number {
  const problem = changeVersionProblem(name, raw);
  if (problem) throw badQuery(problem);
  return Number(raw);
}

function typedValue(name: string, filterable: Filterable, raw: string): string | number | boolean {
  if (filterable.type === 'string') return raw;
  if (filterable.type === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw badQuery(`${name} must be true or false.`);
    return raw === 'true';
  }
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || (filterable.type === 'integer' && !Number.isSafeInteger(value))) {
    throw badQuery(`${name} must be a${filterable.type === 'integer' ? 'n integer' : ' number'}, got "${raw}".`);
  }
  return value;
}

/**
 * Parameters every Ed-Fi request may carry that are not filters: the ODS/API's Postman suites add `correlationId` to
 * every request, and it is echoed in error bodies rather than filtered on.
 */
export const reservedParameters = new Set(['correlationid']);

/**
 * offset/limit/totalCount and property filters; anything else in the query string is a 400. Names match
 * case-insensitively (`Offset`, `LastSurname`), as the ODS/API binds them. Only members `readable` under the
 * caller's profile may filter, and a hidden one is refused exactly as an unknown one is, so the refusal says
 * nothing about the member either.
 */
export function parsePage(
  query: Record<string, string | string[] | undefined>,
  filterables: Map<string, Filterable>,
  readable: (path: string[]) => boolean = () => true,
): Page {
  const page: Page = { offset: 0, limit: defaultLimit, totalCount: false, filters: [] };
  const byLowerName = new Map([...filterables].map(([name, filterable]) => [name.toLowerCase(), { name, filterable }]));
  const seen = new Set<string>();
  let pageSize: number | undefined;
  for (const [given, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    const lower = given.toLowerCase();
    if (reservedParameters.has(lower)) continue;
    if (Array.isArray(raw) || seen.has(lower)) throw badQuery(`The query parameter ${given} may appear once.`);
    seen.add(lower);
    if (lower === 'offset') page.offset = offsetParameter(raw);
    else if (lower === 'limit') page.limit = limitParameter(raw);
    else if (lower === 'id') page.filters.push({ filterable: idFilterable, value: idFilterValue(raw) });
    else if (lower === 'totalcount') {
      if (!/^(true|false)$/i.test(raw)) throw badQuery('totalCount must be true or false.');
      page.totalCount = raw.toLowerCase() === 'true';
    } else if (lower === 'minchangeversion') page.minChangeVersion = changeVersionParameter('minChangeVersion', raw);
    else if (lower === 'maxchangeversion') page.maxChangeVersion = changeVersionParameter('maxChangeVersion', raw);
    else if (lower === 'pagetoken') page.cursor = decodeCursor(raw);
    else if (lower === 'pagesize') {
      if (!/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > maxLimit) throw badQuery(`PageSize must be a value between 1 and ${maxLimit}.`);
      pageSize = Number(raw);
    } else {
      const { name, filterable } = byLowerName.get(lower) ?? { name: given, filterable: undefined };
      if (!filterable || !readable(filterable.path.split('.'))) throw badQuery(`${name} is not a property of this resource that can be used as a filter.`);
      page.filters.push({ filterable, value: typedValue(name, filterable, raw) });
    }
  }
  return withCursor(page, seen, pageSize);
}

/**
 * Cursor paging, as ODS/API 7.3 checks it: a reader starts from a token of /partitions and follows Next-Page-Token,
 * so pageSize needs a pageToken; it replaces offset paging, and cannot count. `limit` beside a token is tolerated (the
 * suites send it) and stands in for a missing pageSize.
 */
function withCursor(page: Page, seen: Set<string>, pageSize: number | undefined): Page {
  if (!page.cursor) {
    if (pageSize !== undefined) throw badQuery('PageToken is required when pageSize is specified.');
    return page;
  }
  if (seen.has('offset')) throw badQuery('Both offset and pageToken parameters were provided, but they support alternative paging approaches and cannot be used together.');
  if (page.totalCount) throw badQuery('Total count cannot be determined while using cursor paging (when pageToken is specified).');
  return { ...page, limit: pageSize ?? page.limit };
}

/** Adds minChangeVersion / maxChangeVersion and the cursor's id range. */
export function applyWindow(query: Knex.QueryBuilder, page: Page): void {
  if (page.minChangeVersion !== undefined) query.where('d.change_version', '>=', page.minChangeVersion);
  if (page.maxChangeVersion !== undefined) query.where('d.change_version', '<=', page.maxChangeVersion);
  const { from, after, until } = page.cursor ?? {};
  if (from) query.where('d.id', '>=', from);
  if (after) query.where('d.id', '>', after);
  if (until) query.where('d.id', '<', until);
}

/** Adds the property filters: indexed columns where one holds the member, else the JSON body. */
export function applyFilters(db: Knex, query: Knex.QueryBuilder, filters: Page['filters']): void {
  const mysql = dialectOf(db) === 'mysql';
  for (const { filterable, value } of filters) {
    if (filterable.column) {
      query.where(`d.${filterable.column}`, value as string | number);
      continue;
    }
    // The path comes from the schema (never from the request); only the value is bound.
    const jsonPath = `$.${filterable.path}`;
    const expression = mysql ? 'json_value(d.body, ?)' : 'json_extract(d.body, ?)';
    // SQLite hands JSON booleans back as 1/0; MariaDB's JSON_VALUE as 'true'/'false'.
    const bound = typeof value === 'boolean' ? (mysql ? String(value) : Number(value)) : value;
    query.whereRaw(`${expression} = ?`, [jsonPath, bound]);
  }
}
