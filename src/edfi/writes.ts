import type { Knex } from 'knex';

import type { Action } from '../config/claim-sets.js';
import { putEdorg } from '../db/edorgs.js';
import { isForeignKeyViolation } from '../db/driver-errors.js';
import { retriedTransaction } from '../db/transaction.js';
import { ApiError, notFound } from '../errors.js';
import { cascadeKeyChange } from './cascade.js';
import { reserveChangeVersions } from './change-versions.js';
import { descriptorProblems } from './descriptor-values.js';
import { documentInfoOf, type DocumentInfo } from './document-info.js';
import { documentEtag } from './documents.js';
import { valueAt, type ResourceDeclaration } from './resource-declaration.js';
import {
  deleteDocument,
  dependantsOf,
  documentById,
  documentByKey,
  insertDocument,
  resolveReferences,
  updateDocument,
  type Creator,
  type ResolvedReference,
  type StoredDocument,
  type Written,
} from './store.js';
import { recordDelete, recordKeyChange } from './tracked-changes.js';
import { validationFailed } from './validation.js';

type Body = Record<string, unknown>;

/** What a write needs from its caller: who writes (stamped on what it creates), how to authorise, the If-Match header. */
export interface WriteContext {
  creator: Creator;
  /** Throws when the action on this item is not permitted (incoming is absent for a delete); queries run on trx. */
  authorize(trx: Knex, action: Action, incoming: { body: Body; info: DocumentInfo } | undefined, stored: StoredDocument | undefined): Promise<void>;
  ifMatch?: string;
}

export type UpsertOutcome = Written & { outcome: 'created' | 'updated' | 'unchanged' };

export function normaliseEtag(value: string): string {
  return value.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
}

export function checkIfMatch(ifMatch: string | undefined, stored: StoredDocument | undefined): void {
  if (!ifMatch) return;
  const wanted = ifMatch.split(',').map(normaliseEtag);
  if (stored && (wanted.includes('*') || wanted.includes(stored.etag))) return;
  throw new ApiError('optimistic_lock_failed', 'The item has been modified by another user.', { errors: ["If-Match does not match the item's ETag: read it again and retry."] });
}

/**
 * Every reference must point at an existing item: a descriptor value that does not exist is a 400 with the body's
 * other problems (the route looks them up before the write; this catches one deleted since), a missing item a 409.
 */
async function checkedReferences(trx: Knex, info: DocumentInfo): Promise<ResolvedReference[]> {
  const { resolved, missing } = await resolveReferences(trx, info.references);
  const descriptors = missing.filter((m) => m.reference.isDescriptor);
  if (descriptors.length) throw validationFailed(descriptorProblems(descriptors));
  if (missing.length) {
    // The ODS/API names the first missing item by its resource ("The referenced 'Student' item does not exist.").
    throw new ApiError('unresolved_reference', `The referenced '${missing[0].reference.target}' item does not exist.`, {
      unresolved: missing.map((m) => m.reference.name),
      errors: missing.map((m) => `The referenced item does not exist: ${m.label}.`),
    });
  }
  return resolved;
}

/** Every concrete ed-org kind lives in the ed-org tree too: keep it in step, in the same transaction. */
async function mirrorEdorg(trx: Knex, resource: ResourceDeclaration, body: Body, info: DocumentInfo): Promise<void> {
  const mirror = resource.edorg;
  if (!mirror) return;
  await putEdorg(trx, { id: Number(valueAt(body, mirror.idPath)), type: mirror.type, name: String(body.nameOfInstitution), parentId: info.parentEdorgId }, { upsert: true });
}

async function removeEdorg(trx: Knex, resource: ResourceDeclaration, stored: StoredDocument): Promise<void> {
  if (!resource.edorg || stored.securables.edorg_id == null) return;
  await trx('education_organizations').where({ id: stored.securables.edorg_id }).del();
}

/** POST: insert or update by natural key. */
export async function upsertDocument(db: Knex, resource: ResourceDeclaration, body: Body, context: WriteContext): Promise<UpsertOutcome> {
  const info = documentInfoOf(resource, body);
  return retriedTransaction(db, async (trx) => {
    const found = await documentByKey(trx, resource.name, info.keyHash);
    const stored = found && (await documentById(trx, resource.name, found.id, { lock: true }));
    await context.authorize(trx, stored ? 'update' : 'create', { body, info }, stored);
    checkIfMatch(context.ifMatch, stored);
    const resolved = await checkedReferences(trx, info);
    if (stored) {
      await mirrorEdorg(trx, resource, body, info);
      // An unchanged re-send writes nothing, so _lastModifiedDate keeps meaning "last changed".
      if (documentEtag(body) === stored.etag) return { id: stored.id, etag: stored.etag, lastModified: stored.lastModified, outcome: 'unchanged' };
      return { ...(await updateDocument(trx, stored.id, body, info, resolved)), outcome: 'updated' };
    }
    const written = await insertDocument(trx, resource, body, info, context.creator, resolved);
    await mirrorEdorg(trx, resource, body, info);
    return { ...written, outcome: 'created' };
  });
}

/**
 * PUT: replace an item found by id. Its identity may change only where the model allows it; the items that reference
 * it follow (cascade.ts).
 */
export async function replaceDocument(db: Knex, resource: ResourceDeclaration, id: string, body: Body, context: WriteContext, declarations: Map<string, ResourceDeclaration>): Promise<Written> {
  const info = documentInfoOf(resource, body);
  return retriedTransaction(db, async (trx) => {
    const stored = await documentById(trx, resource.name, id, { lock: true });
    if (!stored) throw notFound(`No ${resource.edfiName} with id ${id}.`, 'update');
    const keyChange = stored.keyHash !== info.keyHash;
    if (keyChange && !resource.allowIdentityUpdates) {
      throw new ApiError('key_change_not_supported', `Identifying values for the ${resource.edfiName} data cannot be changed. Delete and recreate the item instead.`, {
        errors: [`The natural key of a ${resource.edfiName} (${resource.identity.join(', ')}) cannot be changed.`],
      });
    }
    await context.authorize(trx, 'update', { body, info }, stored);
    checkIfMatch(context.ifMatch, stored);
    const resolved = await checkedReferences(trx, info);
    if (keyChange && (await documentByKey(trx, resource.name, info.keyHash))) {
      throw new ApiError('identity_conflict', `Another ${resource.edfiName} already has the identity (${resource.identity.join(', ')}) this update gives the item.`);
    }
    // A PUT of what is stored writes nothing: a GET-then-PUT round trip keeps _lastModifiedDate.
    if (!keyChange && documentEtag(body) === stored.etag) return { id, etag: stored.etag, lastModified: stored.lastModified };
    const written = await updateDocument(trx, id, body, info, resolved);
    if (keyChange) {
      await recordKeyChange(trx, resource, stored, body, written.changeVersion);
      await cascadeKeyChange(trx, { resource, oldKeyHash: stored.keyHash, newBody: body }, declarations);
    }
    await mirrorEdorg(trx, resource, body, info);
    return written;
  });
}

/** DELETE: refused while other items reference this one. */
export async function removeDocument(db: Knex, resource: ResourceDeclaration, id: string, context: WriteContext, declarations: Map<string, ResourceDeclaration>): Promise<void> {
  await retriedTransaction(db, async (trx) => {
    const stored = await documentById(trx, resource.name, id, { lock: true });
    if (!stored) throw notFound(`No ${resource.edfiName} with id ${id}.`, 'delete');
    await context.authorize(trx, 'delete', undefined, stored);
    checkIfMatch(context.ifMatch, stored);
    const dependants = await dependantsOf(trx, resource, stored);
    if (dependants.length) throw dependentItemExists(resource, dependants.join(', '), referencedFromTopLevel(resource, dependants, declarations));
    await deleteDocument(trx, id);
    await recordDelete(trx, resource, stored, await reserveChangeVersions(trx));
    try {
      await removeEdorg(trx, resource, stored);
    } catch (err) {
      // Child ed-orgs or clients assigned to it: the tree's foreign keys say no.
      if (isForeignKeyViolation(err)) throw dependentItemExists(resource, 'education organizations or API clients');
      throw err;
    }
  });
}

/**
 * The one kind of dependant that references the item from its top level, as the ODS/API names it in its detail; none
 * when several kinds do, or the reference sits inside a collection (the ODS/API names the collection's item class
 * there, which the model does not carry).
 */
function referencedFromTopLevel(resource: ResourceDeclaration, dependants: string[], declarations: Map<string, ResourceDeclaration>): string | undefined {
  if (dependants.length !== 1) return undefined;
  const dependant = declarations.get(dependants[0]);
  const references = dependant?.references.filter((ref) => ref.candidates.some((c) => c.endpoint === resource.name)) ?? [];
  const topLevel = references.length > 0 && references.every((ref) => ref.parts.every((part) => !part.path.includes('[*]')));
  return topLevel ? dependant!.edfiName : undefined;
}

function dependentItemExists(resource: ResourceDeclaration, what: string, dependant?: string): ApiError {
  const by = dependant ? `an existing '${dependant}' item` : 'other items';
  return new ApiError('dependent_item_exists', `The requested action cannot be performed because this item is referenced by ${by}.`, {
    errors: [`The ${resource.edfiName} is referenced by existing items (${what}) and cannot be deleted.`],
  });
}
