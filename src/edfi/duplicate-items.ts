import { descriptorIdentityValue } from './documents.js';
import { singular, upperFirst } from './names.js';
import type { ResourceDeclaration } from './resource-declaration.js';

type Body = Record<string, unknown>;
type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; required?: string[] };

const isItem = (value: unknown): value is Body => Boolean(value) && typeof value === 'object' && !Array.isArray(value);

/** 1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st: the ODS/API's wording counts items so. */
function ordinal(n: number): string {
  const teens = n % 100 >= 11 && n % 100 <= 13;
  const suffix = teens ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}

/**
 * The ODS/API's class name for a collection: its owner's entity name and the member (School + gradeLevels →
 * SchoolGradeLevels), or the member alone where it already starts with one of the owner's names
 * (educationOrganizationCategories).
 */
function collectionName(member: string, owners: string[]): string {
  const starts = owners.some((owner) => member.toLowerCase().startsWith(owner.toLowerCase()));
  return starts ? upperFirst(member) : `${owners[0]}${upperFirst(member)}`;
}

/**
 * An item's identifying values. The model does not say which members identify a collection item; its required members
 * always include them, so items equal on those are duplicates (two items differing only in a required non-key member
 * are let through: the check never refuses what the ODS/API accepts). Descriptors compare as their URIs do, in any case.
 */
function itemKey(item: Body, required: string[]): string {
  return JSON.stringify(required.map((m) => (typeof item[m] === 'string' && m.endsWith('Descriptor') ? descriptorIdentityValue(item[m] as string) : item[m] ?? null)));
}

function collect(schema: Schema, body: Body, path: string, owners: string[], found: Record<string, string[]>): void {
  for (const [member, memberSchema] of Object.entries(schema.properties ?? {})) {
    const value = body[member];
    const items = memberSchema.items;
    if (memberSchema.type !== 'array' || !Array.isArray(value) || !items?.properties) continue;
    const name = collectionName(member, owners);
    const required = items.required ?? [];
    const seen = new Set<string>();
    value.forEach((item, i) => {
      if (!isItem(item)) return;
      const key = itemKey(item, required);
      if (required.length && seen.has(key)) {
        (found[`${path}.${member}`] ??= []).push(`The ${ordinal(i + 1)} item of the ${name} has the same identifying values as another item earlier in the list.`);
      }
      seen.add(key);
      // A nested collection's owner is the item's class: StudentEducationOrganizationAssociationAddress → …AddressPeriods.
      collect(items, item, `${path}.${member}[${i}]`, [singular(name)], found);
    });
  }
}

/**
 * Collection items with the same identifying values as an earlier one, as the ODS/API refuses them
 * ("The 3rd item of the AssessmentAssessedGradeLevels has the same identifying values as another item earlier in the
 * list."), keyed by the collection's JSON path.
 */
export function duplicateItems(resource: ResourceDeclaration, body: unknown): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  if (!isItem(body)) return found;
  const owners = resource.superclass ? [resource.edfiName, resource.superclass.resourceName] : [resource.edfiName];
  collect(resource.schema as Schema, body, '$', owners, found);
  return found;
}
