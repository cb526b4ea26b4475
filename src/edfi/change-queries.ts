import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Knex } from 'knex';

import { ApiError, enforce } from '../errors.js';
import type { Authorizer, Caller } from './authorization.js';
import { newestChangeVersion } from './change-versions.js';
import { encodeCursor, maxPartitions, partitionCursors } from './cursor.js';
import { changeVersionParameter, maxLimit, reservedParameters } from './query.js';
import type { EdfiModel } from './model/index.js';
import type { ResourceDeclaration } from './resource-declaration.js';
import { materialiseEdorgDocuments } from './store.js';
import { deletesPage, keyChangesPage, type TrackedPage } from './tracked-changes.js';

/** What the change-query routes borrow from the resource routes: the same start (snapshot, resource, caller), the same authoriser. */
export interface ChangeQueryDeps {
  db: Knex;
  authorizer: Authorizer;
  begin(ctx: Context): Promise<{ resource: ResourceDeclaration; caller: Caller }>;
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
    } else if (lower === 'minchangeversion') page.minChangeVersion = changeVersionParameter('minChangeVersion', raw);
    else if (lower === 'maxchangeversion') page.maxChangeVersion = changeVersionParameter('maxChangeVersion', raw);
    else errors.push(`${given} is not a parameter of this endpoint: use minChangeVersion, maxChangeVersion, offset, limit and totalCount.`);
  }
  if (errors.length) throw parameterValidationFailed(errors);
  return page;
}

function parsePartitionCount(query: Record<string, string | string[] | undefined>): number {
  const raw = Object.entries(query).find(([name]) => name.toLowerCase() === 'number')?.[1];
  if (typeof raw !== 'string' || !/^\d{1,3}$/.test(raw) || Number(raw) < 1 || Number(raw) > maxPartitions) {
    throw parameterValidationFailed([`number must be an integer between 1 and ${maxPartitions}: how many parallel readers to give page tokens to.`]);
  }
  return Number(raw);
}

/**
 * /{resource}/deletes, /{resource}/keyChanges and /{resource}/partitions. Registered before the item route, which
 * would otherwise take `deletes` for an id.
 */
export function trackedChangeRoutes(router: Router, collection: string, deps: ChangeQueryDeps): void {
  const { db, authorizer } = deps;

  async function readScope(ctx: Context) {
    const { resource, caller } = await deps.begin(ctx);
    const scope = await authorizer.collectionScope(caller, resource);
    if ('ok' in scope) {
      enforce(scope);
      throw new ApiError('authorization_denied', 'Access to the requested data could not be authorized.');
    }
    return { resource, scope };
  }

  const listing = (read: typeof deletesPage | typeof keyChangesPage) => async (ctx: Context) => {
    const { resource, scope } = await readScope(ctx);
    const { items, total } = await read(db, resource, scope, parseTrackedPage(ctx.query));
    if (total !== undefined) ctx.set('Total-Count', String(total));
    ctx.body = items;
  };

  router.get(`${collection}/deletes`, listing(deletesPage));
  router.get(`${collection}/keyChanges`, listing(keyChangesPage));
  router.get(`${collection}/partitions`, async (ctx) => {
    await readScope(ctx);
    ctx.body = { pageTokens: partitionCursors(parsePartitionCount(ctx.query)).map(encodeCursor) };
  });
}
