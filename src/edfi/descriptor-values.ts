import type { Knex } from 'knex';

import { occurrencesOf, type ReferenceValue } from './document-info.js';
import type { ResourceDeclaration } from './resource-declaration.js';
import { resolveReferences } from './store.js';
import type { Problems } from './validation.js';

type Body = Record<string, unknown>;

/**
 * Why a descriptor value cannot be used, in the ODS/API's words: it names the descriptor resource
 * (`CountryDescriptor` for `birthCountryDescriptor`), and tells a value with no `#` from one not stored.
 */
function unusable(value: ReferenceValue): string {
  const uri = value.descriptor?.uri ?? '';
  const named = `${value.reference.target} value '${uri}'`;
  if (!uri.includes('#')) return `${named} is not a valid value for use as a descriptor (a '#' is expected to delineate the namespace and code value portions).`;
  return `${named} does not exist.`;
}

/** Unusable descriptor values keyed by the JSON path each sits at, every one of them, as `validationErrors` carries them. */
export function descriptorProblems(values: ReferenceValue[]): Problems {
  const problems: Problems = {};
  for (const value of values) (problems[value.descriptor?.path ?? '$'] ??= []).push(unusable(value));
  return problems;
}

/**
 * The descriptor values a body names that cannot be used: the ODS/API reports them with the schema's problems (a
 * 400, not the 409 of a missing item), so they are looked up before the write, in one query. Comparison is
 * case-insensitive, as the identity hash of a descriptor is taken of its lower-cased URI.
 */
export async function unusableDescriptors(db: Knex, resource: ResourceDeclaration, body: Body): Promise<Problems> {
  const values = resource.references.filter((reference) => reference.isDescriptor).flatMap((reference) => occurrencesOf(reference, body));
  const malformed = values.filter((value) => !value.descriptor?.uri.includes('#'));
  const missing = new Set((await resolveReferences(db, values.filter((value) => !malformed.includes(value)))).missing);
  return descriptorProblems(values.filter((value) => malformed.includes(value) || missing.has(value)));
}
