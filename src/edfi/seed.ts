import type { Knex } from 'knex';

import { ApiError } from '../errors.js';
import type { EdfiModel } from './model/index.js';
import { ResourceValidator } from './validation.js';
import { noCreator } from './store.js';
import { upsertDocument, type WriteContext } from './writes.js';

type Body = Record<string, unknown>;

export type SeedCounts = Record<string, { created: number; updated: number; unchanged: number }>;

/** An administrator's load: validated like API writes, no client and no authorisation to pass. */
const adminWrite: WriteContext = { creator: noCreator, authorize: async () => undefined };

/**
 * Loads Ed-Fi items (resource name → bodies, in dependency order) through the same write path as
 * the API, so derived rows (reach, attendance, ed-org tree) are kept the same way. Idempotent.
 */
export async function loadDocuments(db: Knex, model: EdfiModel, documents: Record<string, Body[]>): Promise<SeedCounts> {
  const validator: ResourceValidator = new ResourceValidator();
  const counts: SeedCounts = {};
  for (const [name, bodies] of Object.entries(documents)) {
    const resource = model.named(name);
    if (!resource) throw new ApiError('unknown_resource', `seed names an unknown resource "${name}"`);
    counts[name] = { created: 0, updated: 0, unchanged: 0 };
    for (const body of bodies) {
      validator.check(resource, body);
      const { outcome } = await upsertDocument(db, resource, body, adminWrite);
      counts[name][outcome] += 1;
    }
  }
  return counts;
}
