import {
  filterModes,
  memberSelections,
  ProfileDefinitionError,
  type ClassDefinition,
  type CollectionDefinition,
  type ContentTypeDefinition,
  type ItemFilterDefinition,
  type ProfileDefinition,
  type ResourceDefinition,
} from './model.js';

/**
 * Reads the JSON form ({"profiles":[…]}, see model.ts) strictly: an unknown key, a missing name or
 * a misspelt member selection is an error, because a typo that silently widened a profile would
 * hand a client data the host meant to withhold.
 */
export function readJsonForm(raw: unknown, where: string): ProfileDefinition[] {
  const root = object(raw, where, ['profiles']);
  return list(root.profiles, `${where}: "profiles"`).map((p, i) => readProfile(p, `${where}: profiles[${i}]`));
}

/** One profile of a file, read, or the problem that stops it being used. */
export interface ReadProfile {
  name?: string;
  definition?: ProfileDefinition;
  problem?: string;
}

/** Each profile of a JSON-form document on its own; a bad root throws (nothing in it can be told apart). */
export function readJsonProfiles(raw: unknown, where: string): ReadProfile[] {
  const root = object(raw, where, ['profiles']);
  return list(root.profiles, `${where}: "profiles"`).map((p, i) => {
    const name = p && typeof p === 'object' && typeof (p as { name?: unknown }).name === 'string' ? (p as { name: string }).name : undefined;
    try {
      return { name, definition: readProfile(p, `${where}: profiles[${i}]`) };
    } catch (err) {
      if (!(err instanceof ProfileDefinitionError)) throw err;
      return { name, problem: err.message };
    }
  });
}

/** Media types carry the name, so it must be a single token (no spaces, dots are fine). */
const profileName = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function readProfile(raw: unknown, where: string): ProfileDefinition {
  const p = object(raw, where, ['name', 'resources']);
  const name = text(p.name, `${where}: "name"`);
  if (!profileName.test(name)) fail(`${where}: profile name "${name}" must be letters, digits, '.', '-' or '_' (it becomes part of a media type)`);
  const at = `profile "${name}"`;
  const resources = list(p.resources, `${where} (${at}): "resources"`);
  if (!resources.length) fail(`${where} (${at}): a profile needs at least one resource`);
  return { name, resources: resources.map((r, i) => readResource(r, `${where} (${at}), resources[${i}]`)) };
}

function readResource(raw: unknown, where: string): ResourceDefinition {
  const r = object(raw, where, ['name', 'readContentType', 'writeContentType']);
  const name = text(r.name, `${where}: "name"`);
  const at = `${where} resource "${name}"`;
  const resource: ResourceDefinition = { name };
  if (r.readContentType !== undefined) resource.readContentType = readContentType(r.readContentType, `${at}, readContentType`);
  if (r.writeContentType !== undefined) resource.writeContentType = readContentType(r.writeContentType, `${at}, writeContentType`);
  if (!resource.readContentType && !resource.writeContentType) fail(`${at}: needs a readContentType, a writeContentType or both`);
  return resource;
}

function readContentType(raw: unknown, where: string, extraKeys: string[] = []): ContentTypeDefinition {
  const c = object(raw, where, ['memberSelection', 'properties', 'objects', 'collections', ...extraKeys]);
  const memberSelection = oneOf(c.memberSelection, memberSelections, `${where}: "memberSelection"`);
  const content: ContentTypeDefinition = { memberSelection };
  if (c.properties !== undefined) content.properties = list(c.properties, `${where}: "properties"`).map((n, i) => text(n, `${where}: properties[${i}]`));
  if (c.objects !== undefined) content.objects = list(c.objects, `${where}: "objects"`).map((o, i) => readClass(o, `${where}, objects[${i}]`));
  if (c.collections !== undefined) {
    content.collections = list(c.collections, `${where}: "collections"`).map((o, i) => readCollection(o, `${where}, collections[${i}]`));
  }
  return content;
}

function readClass(raw: unknown, where: string, extraKeys: string[] = []): ClassDefinition {
  const name = text(object(raw, where, ['name', 'memberSelection', 'properties', 'objects', 'collections', ...extraKeys]).name, `${where}: "name"`);
  return { name, ...readContentType(raw, `${where} "${name}"`, ['name', ...extraKeys]) };
}

function readCollection(raw: unknown, where: string): CollectionDefinition {
  const collection: CollectionDefinition = readClass(raw, where, ['filter']);
  const filter = (raw as Record<string, unknown>).filter;
  if (filter !== undefined) collection.filter = readFilter(filter, `${where} "${collection.name}", filter`);
  return collection;
}

function readFilter(raw: unknown, where: string): ItemFilterDefinition {
  const f = object(raw, where, ['propertyName', 'filterMode', 'values']);
  const values = list(f.values, `${where}: "values"`).map((v, i) => text(v, `${where}: values[${i}]`));
  if (!values.length) fail(`${where}: a filter needs at least one value`);
  return {
    propertyName: text(f.propertyName, `${where}: "propertyName"`),
    filterMode: oneOf(f.filterMode, filterModes, `${where}: "filterMode"`),
    values,
  };
}

function fail(message: string): never {
  throw new ProfileDefinitionError(message);
}

function object(raw: unknown, where: string, allowed: string[]): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(`${where}: expected an object`);
  const unknown = Object.keys(raw).filter((k) => !allowed.includes(k));
  if (unknown.length) fail(`${where}: unknown key ${unknown.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed.join(', ')})`);
  return raw as Record<string, unknown>;
}

function list(raw: unknown, where: string): unknown[] {
  if (!Array.isArray(raw)) fail(`${where}: expected an array`);
  return raw;
}

function text(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || !raw.trim()) fail(`${where}: expected a non-empty string`);
  return raw.trim();
}

function oneOf<T extends string>(raw: unknown, allowed: readonly T[], where: string): T {
  if (!allowed.includes(raw as T)) fail(`${where}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return raw as T;
}
