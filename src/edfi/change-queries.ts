import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Knex } from 'knex';

import { ApiError, enforce } from '../errors.js';
import type { Authorizer, Caller } from './authorization.js';
import { newestChangeVersion } from './change-versions.js';
import { countItems, partitionStarts } from './collection.js';
import { encodeCursor, maxPartitions, partitionCursors } from './cursor.js';
import { changeVersionProblem, maxLimit, reservedParameters, type Page } from './query.js';
import type { EdfiModel } from './model/index.js';
import type { ResourceDeclaration } from './resource-declaration.js';
import { materialiseEdorgDocuments } from './store.js';
import { deletesPage, keyChangesPage, type TrackedPage } from './tracked-changes.js';

/** What the change-query routes borrow from the resource routes: the same start (snapshot, resource, caller), the same authoriser. */
export interface ChangeQueryDeps {
  db: Knex;
  authorizer: Authorizer;
  begin(ctx: Context): Promise<{ resource: ResourceDeclaration; caller: Caller }>;
  /** The collection query's filters and change window, read as the collection GET reads them. */
  page(query: Record<string, string | string[] | undefined>, ctx: Context, resource: ResourceDeclaration, caller: Caller): Page;
}

/** GET /changeQueries/v1/availableChangeVersions, behind the gateway like /data/. */
export function changeVersionRoutes(router: Router, db: Knex, model: EdfiModel): void {
  const edorgResources = model.resources.filter((r) => r.edorg);
  router.get('/changeQueries/v1/:endpoint', async (ctx, next) => {
    // The ODS/API matches the endpoint in any case (the suites call AvailableChangeVersions).
    if (String(ctx.params.endpoint).toLowerCase() !== 'availablechangeversions') return next();
    // Ed-orgs added by the CLI become documents when first read; make them so now, so the version reported covers
    // them and a copy up to it holds them.
    for (const resource of edorgResources) await materialiseEdorgDocuments(db, resource);
    // Every version up to the newest is committed (src/edfi/change-versions.ts); nothing is ever purged, so 0 is oldest.
    ctx.body = { oldestChangeVersion: 0, newestChangeVersion: await newestChangeVersion(db) };
  });
}

function parameterValidationFailed(errors: string[]): ApiError {
  return new ApiError('bad_request', errors[0], { errors });
}

/**
 * The parameters of /deletes and /keyChanges: a change-version window and offset paging. Limit and offset problems
 * are reported together, in the ODS/API's words.
 */
export function parseTrackedPage(query: Record<string, string | string[] | undefined>): TrackedPage {
  const page: TrackedPage = { offset: 0, limit: 25, totalCount: false };
  const errors: string[] = [];
  for (const [given, raw] of Object.entries(query)) {
    const lower = given.toLowerCase();
    if (raw === undefined || reservedParameters.has(lower)) continue;
    if (Array.isArray(raw)) throw parameterValidationFailed([`The query parameter ${given} may appear once.`]);
    if (lower === 'limit') {
      if (/^\d{1,3}$/.test(raw) && Number(raw) >= 1 && Number(raw) <= maxLimit) page.limit = Number(raw);
      else errors.push(`Limit must be omitted or set to a value between 1 and ${maxLimit}.`);
    } else if (lower === 'offset') {
      if (/^\d{1,15}$/.test(raw)) page.offset = Number(raw);
      else errors.push('Offset must be greater than or equal to 0.');
    } else if (lower === 'totalcount') {
      if (!/^(true|false)$/i.test(raw)) errors.push('totalCount must be true or false.');
      page.totalCount = raw.toLowerCase() === 'true';
    } else if (lower === 'minchangeversion' || lower === 'maxchangeversion') {
      const name = lower === 'minchangeversion' ? 'minChangeVersion' : 'maxChangeVersion';
      const problem = changeVersionProblem(name, raw);
      if (problem) errors.push(problem);
      else page[name] = Number(raw);
    } else errors.push(`${given} is not a parameter of this endpoint: use minChangeVersion, maxChangeVersion, offset, limit and totalCount.`);
  }
  if (errors.length) throw parameterValidationFailed(errors);
  return page;
}

/** The ODS/API's default and its smallest partition unless small ones are allowed: five pages of the largest size. */
const defaultPartitions = 10;
const smallestPartition = 5 * maxLimit;

/** `number` and `allowSmallPartitions`, taken out of the query; the rest is the collection's own query. */
function partitionRequest(query: Record<string, string | string[] | undefined>) {
  const rest: typeof query = {};
  let number = defaultPartitions;
  let allowSmall = false;
  for (const [given, raw] of Object.entries(query)) {
    const lower = given.toLowerCase();
    if (lower === 'number') {
      if (typeof raw !== 'string' || !/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > maxPartitions) {
        throw new ApiError('invalid_query', `Number of partitions must be between 1 and ${maxPartitions}.`);
      }
      number = Number(raw);
    } else if (lower === 'allowsmallpartitions') {
      if (typeof raw !== 'string' || !/^(true|false)$/i.test(raw)) throw new ApiError('invalid_query', 'allowSmallPartitions must be true or false.');
      allowSmall = raw.toLowerCase() === 'true';
    } else rest[given] = raw;
  }
  return { number, allowSmall, rest };
}

/** As many partitions as asked, but none smaller than the smallest size (one item when small ones are allowed). */
export function partitionCount(asked: number, total: number, allowSmall: boolean): number {
  return Math.min(asked, Math.max(1, Math.ceil(total / (allowSmall ? 1 : smallestPartition))));
}

/**
 * /{resource}/deletes, /{resource}/keyChanges and /{resource}/partitions. Registered before the item route, which
 * would otherwise take `deletes` for an id.
 */
export function trackedChangeRoutes(router: Router, collection: string, deps: ChangeQueryDeps): void {
  const { db, authorizer } = deps;

  async function readScope(resource: ResourceDeclaration, caller: Caller) {
    const scope = await authorizer.collectionScope(caller, resource);
    if ('ok' in scope) {
      enforce(scope);
      throw new ApiError('authorization_denied', 'Access to the requested data could not be authorized.');
    }
    return scope;
  }

  const listing = (read: typeof deletesPage | typeof keyChangesPage) => async (ctx: Context) => {
    const { resource, caller } = await deps.begin(ctx);
    const scope = await readScope(resource, caller);
    const { items, total } = await read(db, resource, scope, parseTrackedPage(ctx.query));
    if (total !== undefined) ctx.set('Total-Count', String(total));
    ctx.body = items;
  };

  router.get(`${collection}/deletes`, listing(deletesPage));
  router.get(`${collection}/keyChanges`, listing(keyChangesPage));
  router.get(`${collection}/partitions`, async (ctx) => {
    const { resource, caller } = await deps.begin(ctx);
    const { number, allowSmall, rest } = partitionRequest(ctx.query);
    const page = deps.page(rest, ctx, resource, caller);
    const scope = await readScope(resource, caller);
    const total = await countItems(db, resource, scope, page);
    // Nothing to read, no reader to start: the ODS/API answers no tokens.
    const starts = total ? await partitionStarts(db, resource, scope, page, total, partitionCount(number, total, allowSmall)) : undefined;
    ctx.body = { pageTokens: starts ? partitionCursors(starts).map(encodeCursor) : [] };
  });
}
