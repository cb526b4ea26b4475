import type { EdorgType } from '../db/tables.js';
import type { IdentityPart } from './model/types.js';
import type { ResourceMeta } from './resource-meta.js';

type Body = Record<string, unknown>;

/** The securable columns of edfi_documents, extracted from the body at write time. */
export type SecurableColumn = 'edorg_id' | 'student_unique_id' | 'staff_unique_id' | 'contact_unique_id' | 'namespace';

/**
 * How a document is within a client's reach under the `relationships` strategy. Each kind is one
 * indexed predicate on edfi_documents (src/edfi/reach.ts), never a rule run per item.
 * - school: the document's school (edorg_id) is in X-Claim-Schools;
 * - edorg: the document's ed-org (any type) is beneath one of the client's ed-orgs;
 * - student / staff: the subject has an association row in edfi_subject_edorgs within reach;
 * - contact: a StudentContactAssociation links the contact to a student within reach;
 * - edorgSelf: education organisations themselves (the ed-org, or for a write its parent, is in reach);
 * - none: the resource carries no securable element (descriptors, programs' own data): nothing to narrow by.
 */
export type ReachKind = 'school' | 'edorg' | 'student' | 'staff' | 'contact' | 'edorgSelf' | 'none';

/** A reference to another document or a descriptor, as the model declares it. */
export interface Reference {
  /** The model's name for it (`School`, `EntryGradeLevel`), for messages. */
  name: string;
  /** The referenced resource as named in the model (`School`, `EducationOrganization`, `GradeLevelDescriptor`). */
  target: string;
  isDescriptor: boolean;
  /** The target's identity keys and the paths that hold them here (`[*]` inside collections). */
  parts: IdentityPart[];
  /** Endpoints of the concrete resources it may resolve to (the target, or every subclass of an abstract one). */
  candidates: Array<{ endpoint: string; identityKeys: string[]; rename?: { from: string; to: string } }>;
  /** Education organisations also resolve against the ed-org tree (ed-orgs added by the CLI or the seed). */
  edorgTypes?: EdorgType[];
  /** The resource each tree type is served as, for the dependants of a tree-only ed-org. */
  edorgEndpoints?: Partial<Record<EdorgType, string>>;
}

/** An association that makes a subject reachable (kept in edfi_subject_edorgs). */
export interface SubjectLink {
  subjectType: 'student' | 'staff';
  subjectPath: string;
  edorgPath: string;
}

/** Every concrete EducationOrganization (SEA, LEA, school, department, community provider, …) is also a row of the ed-org tree, kept in step in the same transaction. */
export interface EdorgMirror {
  type: EdorgType;
  idPath: string;
  /** Paths tried in order for the parent ed-org id (nearest kind first). */
  parentPaths: string[];
  /** The body of a document for an ed-org that exists only in education_organizations (CLI, seed). */
  bodyFor(row: { id: number; name: string; parentId: number | null; parentType: EdorgType | null }): Body;
}

/** A typed table kept in step with a resource's documents (e.g. attendance_events for the stats API). */
export interface Projection {
  table: string;
  /** Column → dotted body path. */
  columns: Record<string, string>;
}

/** One resource of the model: everything the generic machinery needs to serve every verb. */
export interface ResourceDeclaration extends ResourceMeta {
  /** URL segment of the project, e.g. `ed-fi`. */
  project: string;
  isDescriptor: boolean;
  allowIdentityUpdates: boolean;
  /** Identity values, hashed sorted by key (documents.ts). */
  identityParts: IdentityPart[];
  /** The abstract resource this one is a subclass of, and how its identity is named there. */
  superclass?: { resourceName: string; identityRename?: { from: string; to: string } };
  /** Securable columns and the dotted body path each is taken from. */
  columns: Partial<Record<SecurableColumn, string>>;
  references: Reference[];
  equalityConstraints: Array<{ source: string; target: string }>;
  reach: ReachKind;
  /** Appended to the 403 detail when a read is refused (Ed-Fi's hint about a missing association). */
  denialHint?: string;
  subjectLink?: SubjectLink;
  edorg?: EdorgMirror;
  /** Collections are ordered by this column (people: their unique id); by resource id otherwise. */
  orderColumn?: SecurableColumn;
  projections: Projection[];
}

/** The value at a dotted path (`studentReference.studentUniqueId`), or undefined. */
export function valueAt(body: Body, path: string): unknown {
  let value: unknown = body;
  for (const part of path.split('.')) {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Body)[part];
  }
  return value;
}

/**
 * Every value at a path that may cross arrays, with the JSON path it sits at, in document order:
 * `addresses[*].stateAbbreviationDescriptor` → `$.addresses[0].stateAbbreviationDescriptor`, … (the ODS/API keys its
 * validation errors so).
 */
export function entriesAt(body: unknown, path: string): Array<{ path: string; value: unknown }> {
  let current = [{ path: '$', value: body }];
  for (const segment of path.split('.')) {
    const many = segment.endsWith('[*]');
    const name = many ? segment.slice(0, -3) : segment;
    const next: typeof current = [];
    for (const { path: at, value } of current) {
      if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
      const member = (value as Body)[name];
      if (member === undefined || member === null) continue;
      if (!many) next.push({ path: `${at}.${name}`, value: member });
      else if (Array.isArray(member)) member.forEach((item: unknown, i) => next.push({ path: `${at}.${name}[${i}]`, value: item }));
    }
    current = next;
  }
  return current;
}

/** Every value at a path that may cross arrays (`gradeLevels[*].gradeLevelDescriptor`), in document order. */
export function valuesAt(body: unknown, path: string): unknown[] {
  let current: unknown[] = [body];
  for (const segment of path.split('.')) {
    const many = segment.endsWith('[*]');
    const name = many ? segment.slice(0, -3) : segment;
    const next: unknown[] = [];
    for (const value of current) {
      if (!value || typeof value !== 'object' || Array.isArray(value)) continue;
      const member = (value as Body)[name];
      if (member === undefined || member === null) continue;
      if (many) {
        if (Array.isArray(member)) next.push(...member);
      } else next.push(member);
    }
    current = next;
  }
  return current;
}
