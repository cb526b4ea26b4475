import type { EdorgType } from '../db/tables.js';
import type { ResourceMeta } from './resource-meta.js';

type Body = Record<string, unknown>;

/** The securable columns of edfi_documents, extracted from the body at write time. */
export type SecurableColumn = 'edorg_id' | 'student_unique_id' | 'staff_unique_id' | 'contact_unique_id';

/**
 * How a document is within a client's reach under the `relationships` strategy. Each kind is one
 * indexed predicate on edfi_documents (src/edfi/reach.ts), never a rule run per item.
 * - school: the document's school (edorg_id) is in X-Claim-Schools;
 * - edorg: the document's ed-org (any type) is beneath one of the client's ed-orgs;
 * - student / staff: the subject has an association row in edfi_subject_edorgs within reach;
 * - contact: a StudentContactAssociation links the contact to a student within reach;
 * - edorgSelf: LEAs and schools themselves (the ed-org, or for a write its parent, is in reach).
 */
export type ReachKind = 'school' | 'edorg' | 'student' | 'staff' | 'contact' | 'edorgSelf';

/** A reference member (`studentReference`) and what it must resolve to. */
export interface Reference {
  /** Top-level member holding the reference object. */
  member: string;
  /** The field inside the reference object, e.g. studentUniqueId. */
  field: string;
  /** A document resource, or an ed-org type looked up in education_organizations. */
  target: { resource: string } | { edorgTypes: EdorgType[] };
  /** The securable column that holds the referenced value; dependants are found through it. */
  column?: SecurableColumn;
  /** Absent references are allowed (optional member). */
  optional?: boolean;
}

/** An association that makes a subject reachable (kept in edfi_subject_edorgs). */
export interface SubjectLink {
  subjectType: 'student' | 'staff';
  subjectPath: string;
  edorgPath: string;
}

/** LEAs and schools are also rows of the ed-org tree, kept in step in the same transaction. */
export interface EdorgMirror {
  type: EdorgType;
  idPath: string;
  /** Paths tried in order for the parent ed-org id. */
  parentPaths: string[];
  /** The body of a document for an ed-org that exists only in education_organizations (CLI, seed). */
  bodyFor(row: { id: number; name: string; parentId: number | null; parentType: EdorgType | null }): Body;
}

/** One declared resource: everything the generic machinery needs to serve every verb. */
export interface ResourceDeclaration extends ResourceMeta {
  /** Dotted paths of the natural key values, in the order they are hashed (documents.ts). */
  key: string[];
  /** Securable columns and the dotted body path each is taken from. */
  columns: Partial<Record<SecurableColumn, string>>;
  references: Reference[];
  reach: ReachKind;
  /** Appended to the 403 detail when a read is refused (Ed-Fi's hint about a missing association). */
  denialHint?: string;
  /** Ownership resources: the member that must start with one of the client's namespace prefixes. */
  namespacePath?: string;
  subjectLink?: SubjectLink;
  edorg?: EdorgMirror;
  /** Collections are ordered by this column (people: their unique id); by resource id otherwise. */
  orderColumn?: SecurableColumn;
  /** Keeps the attendance_events projection for the stats API. */
  attendanceProjection?: boolean;
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
