/**
 * The Ed-Fi model as edgate holds it: one shape for both ApiSchema formats (Meadowlark's
 * `projectSchemas` documents and the Data Management Service's `projectSchema` documents).
 * Paths are dotted and relative to the document, with `[*]` for every element of an array
 * (`studentReference.studentUniqueId`, `gradeLevels[*].gradeLevelDescriptor`).
 */

type Json = Record<string, unknown>;

/** One value of a document's identity: its name in the identity (how references name it) and where it sits. */
export interface IdentityPart {
  key: string;
  path: string;
}

/** A reference to another resource or to a descriptor, with the paths of the identity values it carries. */
export interface ReferenceModel {
  /** The documentPathsMapping entry name, e.g. `School`, `EntryGradeLevel`. */
  name: string;
  /** The referenced resource (PascalCase, e.g. `School`, `EducationOrganization`, `GradeLevelDescriptor`). */
  target: string;
  isDescriptor: boolean;
  /** The target's identity keys and the paths in this document that hold them. */
  parts: IdentityPart[];
}

export interface EqualityConstraint {
  source: string;
  target: string;
}

export interface ResourceModel {
  /** URL segment of the project, e.g. `ed-fi`. */
  project: string;
  /** URL segment of the resource, e.g. `students`. */
  endpoint: string;
  /** PascalCase singular, e.g. `Student`. */
  resourceName: string;
  isDescriptor: boolean;
  allowIdentityUpdates: boolean;
  insertSchema: Json;
  updateSchema?: Json;
  /** Identity values in hashing order; a descriptor's identity is its URI (namespace#codeValue). */
  identity: IdentityPart[];
  references: ReferenceModel[];
  equalityConstraints: EqualityConstraint[];
  /** A subclass (School of EducationOrganization): its abstract superclass and how its identity is renamed there. */
  superclass?: { resourceName: string; identityRename?: { from: string; to: string } };
}

export interface AbstractModel {
  resourceName: string;
  identityKeys: string[];
}

export interface ApiModel {
  resources: ResourceModel[];
  abstracts: AbstractModel[];
  /** Files the model was read from, for start-up logs. */
  sources: string[];
}
