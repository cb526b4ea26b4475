import type { Knex } from 'knex';

import { ApiError } from '../errors.js';
import { documentInfoOf, identityValues, occurrencesOf } from './document-info.js';
import type { ResourceDeclaration } from './resource-declaration.js';
import { documentById, documentByKey, resolveReferences, updateDocument, type StoredDocument } from './store.js';
import { recordKeyChange } from './tracked-changes.js';

type Body = Record<string, unknown>;

/** An item whose identity changed: what referenced it by the old identity must now name the new one. */
interface KeyChange {
  resource: ResourceDeclaration;
  oldKeyHash: string;
  newBody: Body;
}

/** Replaces the n-th value (document order, across arrays) at a path such as `classPeriods[*].classPeriodReference.classPeriodName`. */
function replaceNthAt(body: Body, path: string, n: number, value: unknown): void {
  let seen = 0;
  const visit = (node: unknown, segments: string[]): void => {
    if (!node || typeof node !== 'object' || Array.isArray(node)) return;
    const [segment, ...rest] = segments;
    const many = segment.endsWith('[*]');
    const name = many ? segment.slice(0, -3) : segment;
    const member = (node as Body)[name];
    if (member === undefined || member === null) return;
    if (!rest.length) {
      if (seen++ === n) (node as Body)[name] = value;
      return;
    }
    for (const child of many && Array.isArray(member) ? member : many ? [] : [member]) visit(child, rest);
  };
  visit(body, path.split('.'));
}

/**
 * The body with every reference to the changed item rewritten to its new identity (a copy; the stored one is not
 * touched), or undefined when it holds none.
 */
function rewritten(referrer: ResourceDeclaration, body: Body, change: KeyChange): Body | undefined {
  const copy = structuredClone(body);
  const target = change.resource.name;
  const newIdentity = identityValues(change.resource, change.newBody);
  let changed = false;
  for (const reference of referrer.references) {
    const candidate = reference.candidates.find((c) => c.endpoint === target);
    if (!candidate) continue;
    const newValues = Object.fromEntries(candidate.identityKeys.map((key, j) => [candidate.rename && key === candidate.rename.from ? candidate.rename.to : key, newIdentity[j]]));
    occurrencesOf(reference, body).forEach((occurrence, n) => {
      if (!occurrence.targets.some((t) => t.resource === target && t.keyHash === change.oldKeyHash)) return;
      for (const part of reference.parts) replaceNthAt(copy, part.path, n, newValues[part.key]);
      changed = true;
    });
  }
  return changed ? copy : undefined;
}

/** Ids and resources of the items that reference an identity. */
async function referrersOf(trx: Knex, resource: string, keyHash: string): Promise<Array<{ id: string; resource: string }>> {
  return (await trx('edfi_references as r')
    .join('edfi_documents as d', 'd.id', 'r.document_id')
    .where({ 'r.referenced_resource': resource, 'r.referenced_key_hash': keyHash })
    .distinct('d.id', 'd.resource')) as Array<{ id: string; resource: string }>;
}

/**
 * Cascades an identity change into every item that references the old identity, as the ODS/API's `ON UPDATE CASCADE`
 * keys do: each referrer is rewritten (new change version and last-modified date), and a referrer whose own identity
 * holds the reference changes identity too, is reported under its /keyChanges, and cascades on. All in the writing
 * transaction; a referrer whose new identity is taken refuses the whole change.
 */
export async function cascadeKeyChange(trx: Knex, change: KeyChange, declarations: Map<string, ResourceDeclaration>, visited = new Set<string>()): Promise<void> {
  for (const { id, resource } of await referrersOf(trx, change.resource.name, change.oldKeyHash)) {
    const referrer = declarations.get(resource);
    if (!referrer || visited.has(id)) continue;
    visited.add(id);
    const stored = (await documentById(trx, resource, id, { lock: true })) as StoredDocument;
    const body = rewritten(referrer, stored.body, change);
    if (!body) continue;
    const info = documentInfoOf(referrer, body);
    const keyChanged = info.keyHash !== stored.keyHash;
    if (keyChanged && (await documentByKey(trx, resource, info.keyHash))) {
      throw new ApiError('identity_conflict', `The change would give a referencing ${referrer.edfiName} the identity of another; nothing was changed.`);
    }
    const written = await updateDocument(trx, id, body, info, (await resolveReferences(trx, info.references)).resolved);
    if (!keyChanged) continue;
    await recordKeyChange(trx, referrer, stored, body, written.changeVersion);
    await cascadeKeyChange(trx, { resource: referrer, oldKeyHash: stored.keyHash, newBody: body }, declarations, visited);
  }
}
