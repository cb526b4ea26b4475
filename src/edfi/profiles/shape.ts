import { ApiError } from '../../errors.js';
import { includes, passes, type ClassRules, type CollectionRules } from './rules.js';

type Item = Record<string, unknown>;

const isItem = (value: unknown): value is Item => Boolean(value) && typeof value === 'object' && !Array.isArray(value);

/** What a readable content type lets through: members, nested members, and filtered collection items. */
export function shapeForRead(rules: ClassRules, item: Item): Item {
  const shaped: Item = {};
  for (const [member, value] of Object.entries(item)) {
    if (!includes(rules, member)) continue;
    const object = rules.objects.get(member);
    const collection = rules.collections.get(member);
    if (object && isItem(value)) shaped[member] = shapeForRead(object, value);
    else if (collection && Array.isArray(value)) {
      shaped[member] = value.filter((entry) => passes(collection.filter, entry)).map((entry) => (isItem(entry) ? shapeForRead(collection, entry) : entry));
    } else shaped[member] = value;
  }
  return shaped;
}

/**
 * The body to store from a writable content type: members outside it are discarded from the
 * request and, on an update, taken from the stored item instead, so a profiled client never
 * erases what it cannot see. Collection items hidden by a filter are kept the same way; sending
 * one is refused, as the ODS/API refuses it (`data_policy_enforced`).
 */
export function mergeForWrite(rules: ClassRules, incoming: Item, stored: Item | undefined, profile: string, path = '$'): Item {
  const merged: Item = {};
  for (const member of new Set([...Object.keys(incoming), ...Object.keys(stored ?? {})])) {
    if (!includes(rules, member)) {
      if (stored && member in stored) merged[member] = stored[member];
      continue;
    }
    // A writable member the request leaves out is left out: PUT replaces what the client may write.
    if (!(member in incoming)) continue;
    const value = incoming[member];
    const before = stored?.[member];
    const object = rules.objects.get(member);
    const collection = rules.collections.get(member);
    if (object && isItem(value)) merged[member] = mergeNested(object, value, isItem(before) ? before : undefined, profile, `${path}.${member}`);
    else if (collection && Array.isArray(value)) merged[member] = mergeCollection(collection, value, Array.isArray(before) ? before : [], profile, `${path}.${member}`);
    else merged[member] = value;
  }
  return merged;
}

function mergeCollection(rules: CollectionRules, incoming: unknown[], stored: unknown[], profile: string, path: string): unknown[] {
  const visible = stored.filter((entry) => passes(rules.filter, entry)).filter(isItem);
  const hidden = stored.filter((entry) => !passes(rules.filter, entry));
  const written = incoming.map((entry, i) => {
    if (!isItem(entry)) return entry; // schema validation reports the shape
    if (!passes(rules.filter, entry)) throw filterRefusal(rules, entry, `${path}[${i}]`);
    return mergeNested(rules, entry, visible.find((old) => sameItem(rules.itemKey, entry, old)), profile, `${path}[${i}]`);
  });
  return [...written, ...hidden];
}

/** A nested object or collection item: one the request creates needs every required member writable. */
function mergeNested(rules: ClassRules, incoming: Item, stored: Item | undefined, profile: string, path: string): Item {
  if (!stored && rules.uncreatable) throw cannotCreateChild(profile, rules.uncreatable, path);
  return mergeForWrite(rules, incoming, stored, profile, path);
}

function cannotCreateChild(profile: string, { entity, missing }: { entity: string; missing: string[] }, path: string): ApiError {
  const ours = `profile "${profile}" cannot create ${path}: it does not let you write the required ${missing.join(', ')}; it can only update a stored one`;
  return new ApiError('data_policy_enforced', ours, {
    errors: [
      `The Profile definition for '${profile.toLowerCase()}' excludes (or does not include) one or more required data elements needed to create a child item of type '${entity}' in the resource.`,
      ours,
    ],
  });
}

/** Items pair up on the key members the client may write; with no such key nothing is carried over. */
function sameItem(key: string[], a: Item, b: Item): boolean {
  return key.length > 0 && key.every((m) => JSON.stringify(a[m]) === JSON.stringify(b[m]));
}

function filterRefusal(rules: CollectionRules, entry: Item, path: string): ApiError {
  const filter = rules.filter!;
  const verb = filter.mode === 'IncludeOnly' ? 'only allows' : 'does not allow';
  return new ApiError(
    'data_policy_enforced',
    `${path}.${filter.propertyName} is ${JSON.stringify(entry[filter.propertyName] ?? null)}, but the profile ${verb} ${filter.values.join(', ')}`,
  );
}
