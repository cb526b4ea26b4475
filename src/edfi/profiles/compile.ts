import { singular, upperFirst } from '../names.js';
import type { ResourceMeta } from '../resource-meta.js';
import { ProfileDefinitionError, type ClassDefinition, type CollectionDefinition, type ContentTypeDefinition, type ProfileSource } from './model.js';
import { includes, metadataMembers, type ClassRules, type CollectionRules, type CompiledProfile, type ResourceRules } from './rules.js';
import { SchemaView } from './schema-view.js';

/**
 * Resolves definitions against the declared resources. Every name must exist; anything doubtful
 * stops start-up with the file, profile, resource and member, so a profile never half-works.
 */
export function compileProfiles(sources: ProfileSource[], resources: ResourceMeta[]): CompiledProfile[] {
  const { compiled, invalid } = compileEach(sources, resources);
  if (invalid.length) fail(invalid[0].problem);
  return compiled;
}

/** A profile that names something the model lacks, or breaks a rule: requests that use it answer 406. */
export interface InvalidProfile {
  name: string;
  problem: string;
}

/** Compiles each profile on its own, so one bad definition leaves the others in service. */
export function compileEach(sources: ProfileSource[], resources: ResourceMeta[]): { compiled: CompiledProfile[]; invalid: InvalidProfile[] } {
  const byName = new Map(resources.map((r) => [r.edfiName.toLowerCase(), r]));
  const seen = new Map<string, string>();
  const compiled: CompiledProfile[] = [];
  const invalid: InvalidProfile[] = [];
  for (const { file, profiles } of sources) {
    for (const profile of profiles) {
      const key = profile.name.toLowerCase();
      const earlier = seen.get(key);
      if (earlier) {
        // The first definition stays in service; the second is reported, not served.
        invalid.push({ name: profile.name, problem: `${file}: profile "${profile.name}" is already defined in ${earlier} (names are case-insensitive)` });
        continue;
      }
      seen.set(key, file);
      try {
        compiled.push({ name: profile.name, file, resources: compileResources(file, profile, byName, resources) });
      } catch (err) {
        if (!(err instanceof ProfileDefinitionError)) throw err;
        invalid.push({ name: profile.name, problem: err.message });
      }
    }
  }
  return { compiled, invalid };
}

function compileResources(file: string, profile: ProfileSource['profiles'][number], byName: Map<string, ResourceMeta>, resources: ResourceMeta[]): Map<string, ResourceRules> {
  const compiledResources = new Map<string, ResourceRules>();
  for (const def of profile.resources) {
    const where = `${file}: profile "${profile.name}", resource "${def.name}"`;
    const meta = byName.get(def.name.toLowerCase());
    if (!meta) fail(`${where}: unknown resource (known: ${resources.map((r) => r.edfiName).join(', ')})`);
    if (compiledResources.has(meta.edfiName.toLowerCase())) fail(`${where}: the resource appears twice in the profile`);
    compiledResources.set(meta.edfiName.toLowerCase(), compileResource(meta, def.readContentType, def.writeContentType, where));
  }
  return compiledResources;
}

function compileResource(
  meta: ResourceMeta,
  read: ContentTypeDefinition | undefined,
  write: ContentTypeDefinition | undefined,
  where: string,
): ResourceRules {
  const view = new SchemaView(meta.schema);
  const top = (def: ContentTypeDefinition, label: string, always: string[]) =>
    compileClass(view, def, meta.schema, { where: `${where}, ${label}`, owner: meta.edfiName, entities: entitiesOf(meta), identity: meta.identity, always });
  const rules: ResourceRules = { resource: meta, requiredNotWritable: [] };
  if (read) rules.read = top(read, 'ReadContentType', [...meta.identity, ...metadataMembers]);
  if (write) {
    const writeRules = top(write, 'WriteContentType', [...meta.identity, ...metadataMembers]);
    rules.write = writeRules;
    rules.requiredNotWritable = view.required(meta.schema).filter((m) => !includes(writeRules, m));
  }
  return rules;
}

interface Place {
  where: string;
  /** What the members belong to, for messages: Student, "electronicMails". */
  owner: string;
  /** The ODS/API's entity names here, which prefix its names for members (below). */
  entities: string[];
  /** Identity members here: listed members may not exclude them. */
  identity: string[];
  always: string[];
}

function compileClass(view: SchemaView, def: ContentTypeDefinition, schema: unknown, place: Place): ClassRules {
  const { where } = place;
  const members = view.members(schema);
  const rules: ClassRules = { selection: def.memberSelection, named: new Set(), objects: new Map(), collections: new Map(), always: new Set(place.always) };
  // IncludeAll may still refine an embedded object or collection (its items, a filter), as the ODS/API allows;
  // naming a plain property there, or anything under ExcludeAll, would mean nothing and is refused.
  const listed =
    def.memberSelection === 'IncludeAll'
      ? [...(def.properties ?? [])]
      : [...(def.properties ?? []), ...(def.objects ?? []).map((o) => o.name), ...(def.collections ?? []).map((c) => c.name)];
  if ((def.memberSelection === 'IncludeAll' || def.memberSelection === 'ExcludeAll') && listed.length) {
    fail(`${where}: memberSelection ${def.memberSelection} lists no members, but "${listed[0]}" is listed`);
  }
  // A property goes by its own name only; entity names are for embedded objects and collections.
  for (const name of def.properties ?? []) rules.named.add(memberName(name, members, where, { ...place, entities: [] }));
  for (const object of def.objects ?? []) {
    const { member, at } = shapeableMember(view, members, object.name, 'Object', place);
    rules.named.add(member);
    rules.objects.set(member, withCreation(view, members.get(member), compileNested(view, object, members.get(member), at, def), object, 'Object'));
  }
  for (const collection of def.collections ?? []) {
    const { member, at } = shapeableMember(view, members, collection.name, 'Collection', place);
    rules.named.add(member);
    rules.collections.set(member, compileCollection(view, collection, members.get(member), at, def));
  }
  const excludedIdentity = def.memberSelection === 'ExcludeOnly' && place.identity.find((m) => rules.named.has(m));
  if (excludedIdentity) fail(`${where}: cannot exclude identity member "${excludedIdentity}"; identity members are always included`);
  return rules;
}

/** The member an <Object> or <Collection> names: it must have that shape and not be identity. */
function shapeableMember(view: SchemaView, members: Map<string, unknown>, name: string, element: Element, place: Place) {
  const at = `${place.where}, ${element} "${name}"`;
  const member = memberName(name, members, place.where, place);
  // Identity members are kept whole so the item stays identifiable; shaping inside them would break that.
  if (place.identity.includes(member)) fail(`${at}: "${member}" is an identity member, always included whole; it cannot be shaped`);
  const kind = view.kindOf(members.get(member));
  if (element === 'Object' && kind !== 'object') fail(`${at}: "${member}" is not an object member; name it with a Property instead`);
  if (element === 'Collection' && kind !== 'collection') fail(`${at}: "${member}" is not a collection member`);
  return { member, at };
}

type Element = 'Object' | 'Collection';

function compileNested(view: SchemaView, def: ClassDefinition, schema: unknown, where: string, parent: ContentTypeDefinition): ClassRules {
  // The ODS/API drops a member named under ExcludeOnly whole; nested rules there would be silently ignored.
  if (parent.memberSelection === 'ExcludeOnly' && (def.properties?.length || def.objects?.length || def.collections?.length || (def as CollectionDefinition).filter)) {
    fail(`${where}: under ExcludeOnly a named member is excluded whole, so its own members or filter would be ignored; use IncludeOnly on the parent`);
  }
  return compileClass(view, def, schema, { where, owner: `"${def.name}"`, entities: [def.name], identity: [], always: [] });
}

/** Marks nested rules that withhold a required member of `schema`: such an object or item cannot be created. */
function withCreation<R extends ClassRules>(view: SchemaView, schema: unknown, rules: R, def: ClassDefinition, element: Element): R {
  const missing = view.required(schema).filter((m) => !includes(rules, m));
  return missing.length ? { ...rules, uncreatable: { entity: entityOf(def, element), missing } } : rules;
}

/** The ODS/API's type name for an object or a collection's items: the name, a collection's singular (Addresses → Address). */
function entityOf(def: ClassDefinition, element: Element): string {
  const name = upperFirst(def.name);
  return element === 'Object' ? name : singular(name);
}

function compileCollection(view: SchemaView, def: CollectionDefinition, schema: unknown, where: string, parent: ContentTypeDefinition): CollectionRules {
  const itemSchema = view.itemsOf(schema);
  if (view.kindOf(itemSchema) !== 'object') fail(`${where}: the collection's items are not objects`);
  const rules = compileNested(view, def, itemSchema, where, parent);
  let filter: CollectionRules['filter'];
  if (def.filter) {
    const itemMembers = view.members(itemSchema);
    const propertyName = memberName(def.filter.propertyName, itemMembers, `${where}, Filter`, { owner: `Collection "${def.name}"`, entities: [] });
    if (view.kindOf(itemMembers.get(propertyName)) !== 'value') fail(`${where}, Filter: "${propertyName}" is not a value (descriptor or text) member`);
    filter = { propertyName, mode: def.filter.filterMode, values: def.filter.values };
    // The value items are chosen by stays in them, as the ODS/API keeps it (it is part of the item's key there).
    rules.always.add(propertyName);
  }
  const collection: CollectionRules = { ...rules, itemKey: view.required(itemSchema).filter((m) => includes(rules, m)), ...(filter && { filter }) };
  return withCreation(view, itemSchema, collection, def, 'Collection');
}

/** A resource's entity names: its own and, for a subclass, its superclass's (School's addresses are EducationOrganization's). */
function entitiesOf(meta: ResourceMeta): string[] {
  return meta.superclass ? [meta.edfiName, meta.superclass.resourceName] : [meta.edfiName];
}

/**
 * Whether `name` is the ODS/API's name for `member`: the entity name, which starts with the entity that holds it
 * (EducationOrganizationAddresses for a school's `addresses`, StudentAssessmentStudentObjectiveAssessments for
 * `studentObjectiveAssessments`, and under it StudentAssessmentStudentObjectiveAssessmentScoreResults for
 * `scoreResults`), where the JSON name drops that prefix.
 */
function isEntityName(name: string, member: string, entities: string[]): boolean {
  const lower = name.toLowerCase();
  if (lower.length <= member.length || !lower.endsWith(member.toLowerCase())) return false;
  const prefix = lower.slice(0, -member.length);
  return entities.some((entity) => entity.toLowerCase().startsWith(prefix));
}

/**
 * XML names are PascalCase (FirstName, SchoolReference) and JSON names camelCase; both match the
 * API member case-insensitively. `…USI` names the `…UniqueId` member, as the ODS/API expands it; an
 * embedded object or collection may also go by its entity name (isEntityName).
 */
function memberName(name: string, members: Map<string, unknown>, where: string, place: Pick<Place, 'owner' | 'entities'>): string {
  const wanted = [name.toLowerCase(), ...(name.endsWith('USI') ? [name.slice(0, -3).toLowerCase() + 'uniqueid'] : [])];
  const exact = [...members.keys()].filter((m) => wanted.includes(m.toLowerCase()));
  const found = exact.length ? exact : [...members.keys()].filter((m) => isEntityName(name, m, place.entities));
  if (found.length === 1) return found[0];
  if (found.length > 1) fail(`${where}: member "${name}" is ambiguous (${found.join(', ')})`);
  return fail(`${where}: unknown member "${name}" (${place.owner} has: ${[...members.keys()].join(', ')})`);
}

function fail(message: string): never {
  throw new ProfileDefinitionError(message);
}
