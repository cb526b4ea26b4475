import { readFileSync } from 'node:fs';

import type { ApiModel, EqualityConstraint, IdentityPart, ReferenceModel, ResourceModel } from './types.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- ApiSchema documents are read as they come

/** The identity key of every descriptor: its URI, `namespace#codeValue`. */
export const descriptorKey = 'descriptor';

export class ModelError extends Error {
  override name = 'ModelError';
}

/** `$.studentReference.studentUniqueId` → `studentReference.studentUniqueId`. */
export function relativePath(jsonPath: string): string {
  return jsonPath.replace(/^\$\.?/, '');
}

function descriptorIdentity(): IdentityPart[] {
  return [{ key: descriptorKey, path: '' }];
}

/** Unique by key, first wins: Meadowlark's identities are maps keyed by the value's name. */
function uniqueParts(parts: IdentityPart[]): IdentityPart[] {
  const seen = new Set<string>();
  return parts.filter((p) => !seen.has(p.key) && seen.add(p.key));
}

// ---- Meadowlark's format: {"projectSchemas": {"ed-fi": {"resourceSchemas": {…}, "abstractResources": {…}}}}

/**
 * Meadowlark's generator leaves the members inherited from the abstract AttendanceEvent out of
 * `identityFullnames` (the Data Standard's StudentSchoolAttendanceEvent is identified by its
 * event date and category too); without them every event of a session would be one document.
 */
const inheritedIdentity: Record<string, string[]> = { AttendanceEvent: ['EventDate', 'AttendanceEventCategory'] };

function meadowlarkIdentity(schema: Json): IdentityPart[] {
  const mapping = (schema.documentPathsMapping ?? {}) as Record<string, Json>;
  const names: string[] = [...(schema.identityFullnames ?? [])];
  for (const [abstract, members] of Object.entries(inheritedIdentity)) {
    for (const member of members) {
      const name = `${abstract}.${member}`;
      if (mapping[name] && !names.includes(name)) names.push(name);
    }
  }
  const parts: IdentityPart[] = [];
  for (const name of names) {
    const entry = mapping[name];
    if (!entry) throw new ModelError(`${schema.resourceName}: identity ${name} is not in documentPathsMapping`);
    for (const key of entry.pathOrder as string[]) parts.push({ key, path: relativePath(entry.paths[key]) });
  }
  return uniqueParts(parts);
}

/** Both formats list references in documentPathsMapping; only where a reference's parts live differs. */
function referencesOf(schema: Json, partsOf: (entry: Json) => ReferenceModel['parts']): ReferenceModel[] {
  return Object.entries((schema.documentPathsMapping ?? {}) as Record<string, Json>)
    .filter(([, entry]) => entry.isReference)
    .map(([name, entry]) => ({ name, target: String(entry.resourceName), isDescriptor: Boolean(entry.isDescriptor), parts: partsOf(entry) }));
}

function meadowlarkReferences(schema: Json): ReferenceModel[] {
  return referencesOf(schema, (entry) =>
    entry.isDescriptor
      ? [{ key: descriptorKey, path: relativePath(Object.values(entry.paths as Record<string, string>)[0]) }]
      : (entry.pathOrder as string[]).map((key) => ({ key, path: relativePath(entry.paths[key]) })),
  );
}

function equalityConstraints(schema: Json): EqualityConstraint[] {
  return ((schema.equalityConstraints ?? []) as Json[]).map((c) => ({ source: relativePath(c.sourceJsonPath), target: relativePath(c.targetJsonPath) }));
}

/** The members both ApiSchema formats name alike. */
function sharedMembers(project: string, endpoint: string, schema: Json) {
  return {
    project,
    endpoint,
    resourceName: String(schema.resourceName),
    isDescriptor: Boolean(schema.isDescriptor),
    allowIdentityUpdates: Boolean(schema.allowIdentityUpdates),
    insertSchema: schema.jsonSchemaForInsert,
    updateSchema: schema.jsonSchemaForUpdate,
  };
}

function meadowlarkResource(project: string, endpoint: string, schema: Json): ResourceModel {
  const isDescriptor = Boolean(schema.isDescriptor);
  const rename =
    schema.subclassIdentityDocumentKey && schema.superclassIdentityDocumentKey && schema.subclassIdentityDocumentKey !== schema.superclassIdentityDocumentKey
      ? { from: String(schema.subclassIdentityDocumentKey), to: String(schema.superclassIdentityDocumentKey) }
      : undefined;
  return {
    ...sharedMembers(project, endpoint, schema),
    identity: isDescriptor ? descriptorIdentity() : meadowlarkIdentity(schema),
    references: isDescriptor ? [] : meadowlarkReferences(schema),
    equalityConstraints: equalityConstraints(schema),
    ...(schema.isSubclass ? { superclass: { resourceName: String(schema.superclassResourceName), identityRename: rename } } : {}),
  };
}

function readMeadowlark(document: Json, into: ApiModel): void {
  for (const [project, projectSchema] of Object.entries(document.projectSchemas as Record<string, Json>)) {
    for (const [endpoint, schema] of Object.entries((projectSchema.resourceSchemas ?? {}) as Record<string, Json>)) {
      into.resources.push(meadowlarkResource(project, endpoint, schema));
    }
    for (const [resourceName, abstract] of Object.entries((projectSchema.abstractResources ?? {}) as Record<string, Json>)) {
      into.abstracts.push({ resourceName, identityKeys: [...(abstract.identityPathOrder ?? [])] });
    }
  }
}

// ---- The Data Management Service's format: {"apiSchemaVersion", "projectSchema": {"projectEndpointName", "resourceSchemas": {…}}}

function dmsReferences(schema: Json): ReferenceModel[] {
  return referencesOf(schema, (entry) =>
    entry.isDescriptor
      ? [{ key: descriptorKey, path: relativePath(entry.path) }]
      : ((entry.referenceJsonPaths ?? []) as Json[]).map((p) => ({ key: relativePath(p.identityJsonPath), path: relativePath(p.referenceJsonPath) })),
  );
}

function dmsResource(project: string, endpoint: string, schema: Json): ResourceModel {
  const isDescriptor = Boolean(schema.isDescriptor);
  const identity: IdentityPart[] = isDescriptor ? descriptorIdentity() : ((schema.identityJsonPaths ?? []) as string[]).map((p) => ({ key: relativePath(p), path: relativePath(p) }));
  const superKey = schema.superclassIdentityJsonPath ? relativePath(schema.superclassIdentityJsonPath) : undefined;
  const rename = superKey && identity.length === 1 && identity[0].key !== superKey ? { from: identity[0].key, to: superKey } : undefined;
  return {
    ...sharedMembers(project, endpoint, schema),
    identity,
    references: isDescriptor ? [] : dmsReferences(schema),
    equalityConstraints: equalityConstraints(schema),
    ...(schema.isSubclass ? { superclass: { resourceName: String(schema.superclassResourceName), identityRename: rename } } : {}),
  };
}

function readDms(document: Json, into: ApiModel): void {
  const projectSchema = document.projectSchema as Json;
  const project = String(projectSchema.projectEndpointName);
  for (const [endpoint, schema] of Object.entries((projectSchema.resourceSchemas ?? {}) as Record<string, Json>)) {
    into.resources.push(dmsResource(project, endpoint, schema));
  }
  for (const [resourceName, abstract] of Object.entries((projectSchema.abstractResources ?? {}) as Record<string, Json>)) {
    into.abstracts.push({ resourceName, identityKeys: ((abstract.identityJsonPaths ?? []) as string[]).map(relativePath) });
  }
}

/** Adds one ApiSchema document, in either format, to the model. */
export function addApiSchema(model: ApiModel, document: unknown, source: string): void {
  const json = document as Json;
  if (json && typeof json === 'object' && json.projectSchemas) readMeadowlark(json, model);
  else if (json && typeof json === 'object' && json.projectSchema) readDms(json, model);
  else throw new ModelError(`${source}: not an ApiSchema document (no projectSchemas or projectSchema member)`);
  model.sources.push(source);
}

/** Reads the core model and any extensions, in order; a later file's resource replaces an earlier one of the same name. */
export function loadApiModel(files: string[]): ApiModel {
  const model: ApiModel = { resources: [], abstracts: [], sources: [] };
  for (const file of files) {
    let document: unknown;
    try {
      document = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ModelError(`${file}: ${(err as Error).message}`);
    }
    addApiSchema(model, document, file);
  }
  const byKey = new Map(model.resources.map((r) => [`${r.project}/${r.endpoint}`, r]));
  model.resources = [...byKey.values()];
  if (!model.resources.length) throw new ModelError(`${files.join(', ')}: the model has no resources`);
  return model;
}
