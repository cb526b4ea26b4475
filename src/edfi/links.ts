import type { Knex } from 'knex';

import { occurrencesOf, type ReferenceValue } from './document-info.js';
import { valuesAt, type Reference, type ResourceDeclaration } from './resource-declaration.js';
import { materialiseEdorgDocuments } from './store.js';

type Body = Record<string, unknown>;

/** The ODS/API's reference link: the concrete resource referenced (`School` for an EducationOrganization) and its item. */
export interface ReferenceLink {
  rel: string;
  href: string;
}

/** The object a reference's values sit in (`classPeriods[*].classPeriodReference`), when it is a `…Reference` member. */
function referenceObjectPath(reference: Reference): string | undefined {
  const path = reference.parts[0]?.path;
  const parent = path?.slice(0, path.lastIndexOf('.'));
  return parent && /Reference$/.test(parent) ? parent : undefined;
}

interface Occurrence {
  holder: Body;
  value: ReferenceValue;
}

/** Every reference object of a body that can carry a link, with the value it refers by. */
function linkable(resource: ResourceDeclaration, body: Body): Occurrence[] {
  const found: Occurrence[] = [];
  for (const reference of resource.references) {
    const path = reference.isDescriptor ? undefined : referenceObjectPath(reference);
    if (!path) continue;
    const holders = valuesAt(body, path);
    occurrencesOf(reference, body).forEach((value, i) => {
      const holder = holders[i];
      if (holder && typeof holder === 'object' && !Array.isArray(holder)) found.push({ holder: holder as Body, value });
    });
  }
  return found;
}

/** The documents the occurrences refer to, by resource and identity hash. */
async function documentIds(db: Knex, occurrences: Occurrence[]): Promise<Map<string, string>> {
  const hashes = [...new Set(occurrences.flatMap((o) => o.value.targets.map((t) => t.keyHash)))];
  if (!hashes.length) return new Map();
  const rows = (await db('edfi_documents').whereIn('key_hash', hashes).select('id', 'resource', 'key_hash')) as Array<{ id: string; resource: string; key_hash: string }>;
  return new Map(rows.map((row) => [`${row.resource}\u0000${row.key_hash}`, row.id]));
}

/**
 * Adds `link: {rel, href}` to each reference of the items read, as the ODS/API's GET answers carry them: the item
 * referenced, found by its identity in one query for the whole page.
 */
export async function addReferenceLinks(db: Knex, resource: ResourceDeclaration, items: Body[], declarations: Map<string, ResourceDeclaration>): Promise<void> {
  const occurrences = items.flatMap((item) => linkable(resource, item));
  if (!occurrences.length) return;
  let ids = await documentIds(db, occurrences);
  // An ed-org added by the CLI or the seed has no document until it is first read: give it one, then link it.
  const unlinkedEdorgs = occurrences.filter((o) => o.value.edorgId !== undefined && !o.value.targets.some((t) => ids.has(`${t.resource}\u0000${t.keyHash}`)));
  if (unlinkedEdorgs.length) {
    const endpoints = new Set(unlinkedEdorgs.flatMap((o) => o.value.targets.map((t) => t.resource)));
    for (const endpoint of endpoints) {
      const declaration = declarations.get(endpoint);
      if (declaration?.edorg) await materialiseEdorgDocuments(db, declaration);
    }
    ids = await documentIds(db, occurrences);
  }
  for (const { holder, value } of occurrences) {
    for (const target of value.targets) {
      const id = ids.get(`${target.resource}\u0000${target.keyHash}`);
      const declaration = id && declarations.get(target.resource);
      if (!declaration) continue;
      holder.link = { rel: declaration.edfiName, href: `/${declaration.project}/${declaration.name}/${id}` } satisfies ReferenceLink;
      break;
    }
  }
}
