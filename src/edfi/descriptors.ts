import { readFileSync } from 'node:fs';

import type { Knex } from 'knex';

import { fromRoot } from '../config/paths.js';
import { documentInfoOf } from './document-info.js';
import type { EdfiModel } from './model/index.js';
import { insertDocument, noCreator } from './store.js';
import { isDuplicateKey } from '../db/driver-errors.js';

/** Descriptor values every deployment starts with (config/edfi/descriptors.json): descriptor → code values. */
const defaultsFile = fromRoot('config', 'edfi', 'descriptors.json');

interface DescriptorDefaults {
  namespace: string;
  values: Record<string, string[]>;
}

/**
 * Writes the default descriptor values of every descriptor the model serves, once: documents must
 * name descriptors that exist, as in the ODS/API, whose databases ship with Ed-Fi's values. One
 * query finds those already there; only missing ones are written.
 */
export async function ensureDescriptors(db: Knex, model: EdfiModel, defaults: DescriptorDefaults = readDefaults()): Promise<number> {
  const wanted = Object.entries(defaults.values).flatMap(([resourceName, codes]) => {
    const resource = model.resources.find((r) => r.isDescriptor && r.edfiName === resourceName && r.project === 'ed-fi');
    return resource ? codes.map((codeValue) => ({ resource, body: { namespace: `${defaults.namespace}/${resourceName}`, codeValue, shortDescription: codeValue } })) : [];
  });
  if (!wanted.length) return 0;
  const withInfo = wanted.map((w) => ({ ...w, info: documentInfoOf(w.resource, w.body) }));
  const existing = new Set<string>();
  const hashes = withInfo.map((w) => w.info.keyHash);
  for (let i = 0; i < hashes.length; i += 500) {
    for (const row of (await db('edfi_documents').whereIn('key_hash', hashes.slice(i, i + 500)).select('resource', 'key_hash')) as Array<{ resource: string; key_hash: string }>) {
      existing.add(`${row.resource}\u0000${row.key_hash}`);
    }
  }
  const missing = withInfo.filter((w) => !existing.has(`${w.resource.name}\u0000${w.info.keyHash}`));
  if (!missing.length) return 0;
  try {
    await db.transaction(async (trx) => {
      for (const { resource, body, info } of missing) await insertDocument(trx, resource, body, info, noCreator, []);
    });
  } catch (err) {
    // Another instance starting at the same moment wrote them first.
    if (!isDuplicateKey(err)) throw err;
  }
  return missing.length;
}

function readDefaults(): DescriptorDefaults {
  const raw = JSON.parse(readFileSync(defaultsFile, 'utf8')) as DescriptorDefaults & { $comment?: string };
  return { namespace: raw.namespace, values: raw.values };
}
