import type { Knex } from 'knex';

import type { Action } from '../config/claim-sets.js';
import { putEdorg } from '../db/edorgs.js';
import { isDuplicateKey, isForeignKeyViolation, isRetryableConflict } from '../db/errors.js';
import { ApiError } from '../errors.js';
import { documentEtag } from './documents.js';
import { valueAt, type ResourceDeclaration } from './resource.js';
import {
  deleteDocument,
  dependantsOf,
  documentById,
  documentByKey,
  insertDocument,
  naturalKeyOf,
  securablesOf,
  unresolvedReferences,
  updateDocument,
  type StoredDocument,
  type Written,
} from './store.js';

type Body = Record<string, unknown>;

/** What a write needs from its caller: who writes, how to authorise, the If-Match header. */
export interface WriteContext {
  clientId: string | null;
  /** Throws when the action on this item is not permitted (incoming is absent for a delete); queries run on trx. */
  authorize(trx: Knex, action: Action, incoming: Body | undefined, stored: StoredDocument | undefined): Promise<void>;
  ifMatch?: string;
  /** Every declared resource, to find dependants on delete. */
  resources: ResourceDeclaration[];
}

export type UpsertOutcome = Written & { outcome: 'created' | 'updated' | 'unchanged' };

const maxAttempts = 4;

/**
 * Runs a write in one transaction, retried when the database reports a deadlock or lock timeout,
 * or when a concurrent writer inserted the same natural key first (the retry then sees it).
 */
export async function inTransaction<T>(db: Knex, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction(work);
    } catch (err) {
      const retryable = isRetryableConflict(err) || isDuplicateKey(err);
      if (!retryable) throw err;
      if (attempt >= maxAttempts) throw new ApiError(409, 'write_conflict', 'The item was changed concurrently by another request; retry the request.');
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    }
  }
}

export function normaliseEtag(value: string): string {
  return value.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

export function checkIfMatch(ifMatch: string | undefined, stored: StoredDocument | undefined): void {
  if (!ifMatch) return;
  const wanted = ifMatch.split(',').map(normaliseEtag);
  if (stored && (wanted.includes('*') || wanted.includes(stored.etag))) return;
  throw new ApiError(412, 'optimistic_lock_failed', 'The item has been modified by another user.', { errors: ['If-Match does not match the item\'s ETag: read it again and retry.'] });
}

async function checkReferences(trx: Knex, resource: ResourceDeclaration, body: Body): Promise<void> {
  const problems = await unresolvedReferences(trx, resource, body);
  if (!problems.length) return;
  // The ODS/API names the first missing item by its resource ("The referenced 'Student' item does not exist.").
  throw new ApiError(409, 'unresolved_reference', `The referenced '${referencedName(problems[0].member)}' item does not exist.`, {
    errors: problems.map((p) => `${p.problem}.`),
  });
}

const edfiNameOf = (resources: ResourceDeclaration[], name: string) => resources.find((r) => r.name === name)?.edfiName ?? name;

/** `studentReference` → `Student`, `educationOrganizationReference` → `EducationOrganization`. */
function referencedName(member: string): string {
  const base = member.replace(/Reference$/, '');
  return base.charAt(0).toUpperCase() + base.slice(1);
}

/** LEAs and schools live in the ed-org tree too: keep it in step, in the same transaction. */
async function mirrorEdorg(trx: Knex, resource: ResourceDeclaration, body: Body): Promise<void> {
  const mirror = resource.edorg;
  if (!mirror) return;
  const parentId = securablesOf(resource, body).parent_edorg_id ?? null;
  await putEdorg(trx, { id: Number(valueAt(body, mirror.idPath)), type: mirror.type, name: String(body.nameOfInstitution), parentId }, { upsert: true });
}

async function removeEdorg(trx: Knex, resource: ResourceDeclaration, stored: StoredDocument): Promise<void> {
  if (!resource.edorg || stored.securables.edorg_id == null) return;
  await trx('education_organizations').where({ id: stored.securables.edorg_id }).del();
}

/** POST: insert or update by natural key. */
export async function upsertDocument(db: Knex, resource: ResourceDeclaration, body: Body, context: WriteContext): Promise<UpsertOutcome> {
  const keyHash = naturalKeyOf(resource, body);
  return inTransaction(db, async (trx) => {
    const found = await documentByKey(trx, resource.name, keyHash);
    const stored = found && (await documentById(trx, resource.name, found.id, { lock: true }));
    await context.authorize(trx, stored ? 'update' : 'create', body, stored);
    checkIfMatch(context.ifMatch, stored);
    await checkReferences(trx, resource, body);
    if (stored) {
      await mirrorEdorg(trx, resource, body);
      // An unchanged re-send writes nothing, so _lastModifiedDate keeps meaning "last changed".
      if (documentEtag(body) === stored.etag) return { id: stored.id, etag: stored.etag, lastModified: stored.lastModified, outcome: 'unchanged' };
      return { ...(await updateDocument(trx, resource, stored.id, body)), outcome: 'updated' };
    }
    const written = await insertDocument(trx, resource, body, context.clientId);
    await mirrorEdorg(trx, resource, body);
    return { ...written, outcome: 'created' };
  });
}

/** PUT: replace an item found by id; its natural key may not change. */
export async function replaceDocument(db: Knex, resource: ResourceDeclaration, id: string, body: Body, context: WriteContext): Promise<Written> {
  return inTransaction(db, async (trx) => {
    const stored = await documentById(trx, resource.name, id, { lock: true });
    if (!stored) throw notFound(resource, id);
    if (naturalKeyOf(resource, stored.body) !== naturalKeyOf(resource, body)) {
      throw new ApiError(400, 'key_change_not_supported', `Identifying values for the ${resource.edfiName} data cannot be changed. Delete and recreate the item instead.`, {
        errors: [`The natural key of a ${resource.edfiName} (${resource.identity.join(', ')}) cannot be changed.`],
      });
    }
    await context.authorize(trx, 'update', body, stored);
    checkIfMatch(context.ifMatch, stored);
    await checkReferences(trx, resource, body);
    const written = await updateDocument(trx, resource, id, body);
    await mirrorEdorg(trx, resource, body);
    return written;
  });
}

/** DELETE: refused while other items reference this one. */
export async function removeDocument(db: Knex, resource: ResourceDeclaration, id: string, context: WriteContext): Promise<void> {
  await inTransaction(db, async (trx) => {
    const stored = await documentById(trx, resource.name, id, { lock: true });
    if (!stored) throw notFound(resource, id);
    await context.authorize(trx, 'delete', undefined, stored);
    checkIfMatch(context.ifMatch, stored);
    const dependants = await dependantsOf(trx, resource, stored, context.resources);
    if (dependants.length) throw dependentItemExists(resource, dependants.join(', '), edfiNameOf(context.resources, dependants[0]));
    await deleteDocument(trx, id);
    try {
      await removeEdorg(trx, resource, stored);
    } catch (err) {
      // Child ed-orgs or clients assigned to it: the tree's foreign keys say no.
      if (isForeignKeyViolation(err)) throw dependentItemExists(resource, 'education organizations or API clients');
      throw err;
    }
  });
}

/** The ODS/API's 404 for an id that names nothing; the resource and id go into `errors`. */
export function notFound(resource: ResourceDeclaration, id: string): ApiError {
  return new ApiError(404, 'not_found', `No ${resource.edfiName} with id ${id}.`);
}

function dependentItemExists(resource: ResourceDeclaration, what: string, dependant?: string): ApiError {
  const detail = dependant
    ? `The requested action cannot be performed because this item is referenced by an existing '${dependant}' item.`
    : 'The requested action cannot be performed because this item is referenced by other items.';
  return new ApiError(409, 'dependent_item_exists', detail, { errors: [`The ${resource.edfiName} is referenced by existing items (${what}) and cannot be deleted.`] });
}
