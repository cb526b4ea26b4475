import type { ResourceMeta } from '../resource-meta.js';
import type { FilterMode, MemberSelection } from './model.js';

/** A content type (or a nested Object/Collection) resolved against the body schema: API member names. */
export interface ClassRules {
  selection: MemberSelection;
  /** Members the definition names (camelCase API names). */
  named: Set<string>;
  objects: Map<string, ClassRules>;
  collections: Map<string, CollectionRules>;
  /** Kept whatever the selection says: identity members (and metadata on the top level). */
  always: Set<string>;
  /**
   * A nested object or collection item whose required members the rules withhold: the client may update one that is
   * stored, but not create one. `entity` is the ODS/API's name for it (EducationOrganizationInternationalAddress).
   */
  uncreatable?: { entity: string; missing: string[] };
}

export interface CollectionRules extends ClassRules {
  filter?: ItemFilter;
  /** Required item members the client may write; they pair incoming items with stored ones on update. */
  itemKey: string[];
}

export interface ItemFilter {
  propertyName: string;
  mode: FilterMode;
  values: string[];
}

export interface ResourceRules {
  resource: ResourceMeta;
  read?: ClassRules;
  write?: ClassRules;
  /** Required top-level members the write content type withholds: such a profile can update but not create. */
  requiredNotWritable: string[];
}

export interface CompiledProfile {
  name: string;
  file: string;
  /** By resource edfiName, lower-cased. */
  resources: Map<string, ResourceRules>;
}

/** Members every body carries that no profile governs. */
export const metadataMembers = ['id', '_etag', '_lastModifiedDate'];

/** Whether the rules let a member through (ODS/API semantics: a member named under ExcludeOnly goes whole). */
export function includes(rules: ClassRules, member: string): boolean {
  if (rules.always.has(member)) return true;
  switch (rules.selection) {
    case 'IncludeAll':
      return true;
    case 'ExcludeAll':
      return false;
    case 'ExcludeOnly':
      return !rules.named.has(member);
    case 'IncludeOnly': {
      const nested = rules.objects.get(member) ?? rules.collections.get(member);
      return rules.named.has(member) && nested?.selection !== 'ExcludeAll';
    }
  }
}

/** Whether a member path is let through: each step included, nested objects by their own rules. */
export function includesPath(rules: ClassRules, path: string[]): boolean {
  let current: ClassRules | undefined = rules;
  for (const member of path) {
    if (!current) return true; // inside a member included whole
    if (!includes(current, member)) return false;
    current = current.objects.get(member) ?? current.collections.get(member);
  }
  return true;
}

/**
 * Whether a collection item is visible through the filter. A value matches a descriptor URI in
 * full or by its code value after '#' (`Physical` matches `uri://ed-fi.org/AddressTypeDescriptor#Physical`),
 * case-insensitively as Ed-Fi descriptors are.
 */
export function passes(filter: ItemFilter | undefined, item: unknown): boolean {
  if (!filter) return true;
  const value = item && typeof item === 'object' ? (item as Record<string, unknown>)[filter.propertyName] : undefined;
  const matched = typeof value === 'string' && filter.values.some((v) => sameDescriptor(v, value));
  return filter.mode === 'IncludeOnly' ? matched : !matched;
}

function sameDescriptor(filterValue: string, value: string): boolean {
  const a = filterValue.toLowerCase();
  const b = value.toLowerCase();
  if (a === b) return true;
  return !a.includes('#') && b.includes('#') && b.slice(b.lastIndexOf('#') + 1) === a;
}
