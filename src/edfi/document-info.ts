import { descriptorIdentityValue, naturalKeyHash } from './documents.js';
import type { Securables } from './reach.js';
import { entriesAt, valueAt, valuesAt, type Reference, type ResourceDeclaration, type SecurableColumn } from './resource-declaration.js';

type Body = Record<string, unknown>;

/** One reference a document makes, ready to resolve: the hash its target would have, per candidate resource. */
export interface ReferenceValue {
  reference: Reference;
  /** `School {"schoolId":255901001}`, for the 409 message. */
  label: string;
  targets: Array<{ resource: string; keyHash: string }>;
  /** An education organisation id, also looked up in the ed-org tree. */
  edorgId?: number;
  /** A descriptor value's URI as sent, and the JSON path it sits at (`$.addresses[0].stateAbbreviationDescriptor`). */
  descriptor?: { uri: string; path: string };
}

export interface DocumentColumns {
  edorg_id: number | null;
  student_unique_id: string | null;
  staff_unique_id: string | null;
  contact_unique_id: string | null;
  namespace: string | null;
}

/** What a write stores beside the body, computed once per write from the model. */
export interface DocumentInfo {
  keyHash: string;
  columns: DocumentColumns;
  /** For ed-orgs of the tree: the parent the body names. */
  parentEdorgId: number | null;
  references: ReferenceValue[];
  /** The edfi_subject_edorgs row an association makes (without the document id). */
  subject?: { subject_type: 'student' | 'staff'; subject_id: string; edorg_id: number };
  projections: Array<{ table: string; row: Record<string, unknown> }>;
}

/** The identity values in the model's order; a descriptor's is its URI. */
export function identityValues(resource: ResourceDeclaration, body: Body): Array<string | number> {
  if (resource.isDescriptor) return [descriptorIdentityValue(`${String(body.namespace ?? '')}#${String(body.codeValue ?? '')}`)];
  return resource.identityParts.map((part) => valueAt(body, part.path) as string | number);
}

export function naturalKeyOf(resource: ResourceDeclaration, body: Body): string {
  return naturalKeyHash(identityValues(resource, body));
}

/** True when every identity value is present (a POST can look its item up before validation). */
export function hasIdentity(resource: ResourceDeclaration, body: Body): boolean {
  return identityValues(resource, body).every((v) => v !== undefined && v !== null && typeof v !== 'object');
}

/** The tuples of one reference: one per occurrence (a reference inside a collection occurs once per item). */
function tuplesOf(reference: Reference, body: Body): Array<Record<string, unknown>> {
  const columns = reference.parts.map((part) => valuesAt(body, part.path));
  const count = Math.max(0, ...columns.map((c) => c.length));
  const tuples: Array<Record<string, unknown>> = [];
  for (let i = 0; i < count; i++) tuples.push(Object.fromEntries(reference.parts.map((part, k) => [part.key, columns[k][i]])));
  return tuples;
}

function descriptorValue(reference: Reference, uri: string, path: string): ReferenceValue {
  const targets = reference.candidates.map((c) => ({ resource: c.endpoint, keyHash: naturalKeyHash([descriptorIdentityValue(uri)]) }));
  return { reference, label: `${reference.target} '${uri}'`, targets, descriptor: { uri, path } };
}

function referenceValue(reference: Reference, tuple: Record<string, unknown>): ReferenceValue {
  const targets = reference.candidates.flatMap((candidate) => {
    const values = candidate.identityKeys.map((key) => tuple[candidate.rename && key === candidate.rename.from ? candidate.rename.to : key]);
    return values.some((v) => v === undefined || v === null) ? [] : [{ resource: candidate.endpoint, keyHash: naturalKeyHash(values as Array<string | number>) }];
  });
  const single = reference.parts.length === 1 ? Number(tuple[reference.parts[0].key]) : NaN;
  return { reference, label: `${reference.target} ${JSON.stringify(tuple)}`, targets, ...(reference.edorgTypes && Number.isSafeInteger(single) && { edorgId: single }) };
}

function columnsOf(resource: ResourceDeclaration, body: Body): DocumentColumns {
  const columns: DocumentColumns = { edorg_id: null, student_unique_id: null, staff_unique_id: null, contact_unique_id: null, namespace: null };
  for (const [column, path] of Object.entries(resource.columns) as Array<[SecurableColumn, string]>) {
    const value = valueAt(body, path);
    if (value === undefined || value === null) continue;
    if (column === 'edorg_id') columns.edorg_id = Number(value);
    else columns[column] = String(value);
  }
  return columns;
}

function parentOf(resource: ResourceDeclaration, body: Body): number | null {
  for (const path of resource.edorg?.parentPaths ?? []) {
    const value = valueAt(body, path);
    if (value !== undefined && value !== null) return Number(value);
  }
  return null;
}

/** Each occurrence of one reference in a body, in document order (one per item of a collection that holds it). */
export function occurrencesOf(reference: Reference, body: Body): ReferenceValue[] {
  if (reference.isDescriptor) {
    // A descriptor that is no string is the schema's to refuse; it names no value to look up.
    const uris = entriesAt(body, reference.parts[0].path).filter((entry) => typeof entry.value === 'string');
    return uris.map(({ path, value }) => descriptorValue(reference, value as string, path));
  }
  return tuplesOf(reference, body).map((tuple) => referenceValue(reference, tuple));
}

/** Declare once, extract once: everything a write stores beside the body, from the resource's declaration. */
export function documentInfoOf(resource: ResourceDeclaration, body: Body): DocumentInfo {
  const columns = columnsOf(resource, body);
  const references = resource.references.flatMap((reference) => occurrencesOf(reference, body));
  const link = resource.subjectLink;
  const subjectId = link && valueAt(body, link.subjectPath);
  const subjectEdorg = link && valueAt(body, link.edorgPath);
  return {
    keyHash: naturalKeyOf(resource, body),
    columns,
    parentEdorgId: parentOf(resource, body),
    references,
    ...(link && subjectId != null && subjectEdorg != null && { subject: { subject_type: link.subjectType, subject_id: String(subjectId), edorg_id: Number(subjectEdorg) } }),
    projections: resource.projections.map(({ table, columns: paths }) => ({
      table,
      row: Object.fromEntries(Object.entries(paths).map(([column, path]) => [column, valueAt(body, path) ?? null])),
    })),
  };
}

/** The values authorisation checks a document by (a create, or the new state of an update). */
export function securablesOf(info: DocumentInfo): Securables {
  return { ...info.columns, parent_edorg_id: info.parentEdorgId };
}

/** Equality constraints of the model (`calendarReference.schoolId` = `schoolReference.schoolId`): the paths that disagree. */
export function equalityViolations(resource: ResourceDeclaration, body: Body): Record<string, string[]> {
  const problems: Record<string, string[]> = {};
  for (const { source, target } of resource.equalityConstraints) {
    const values = new Set([...valuesAt(body, source), ...valuesAt(body, target)].map(String));
    if (values.size > 1) problems[`$.${source}`] = [`Must have the same value as $.${target}.`];
  }
  return problems;
}
