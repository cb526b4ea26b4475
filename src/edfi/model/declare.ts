import { edorgTypes as allEdorgTypes, type EdorgType } from '../../db/tables.js';
import type { EdorgMirror, Projection, ReachKind, Reference, ResourceDeclaration, SecurableColumn, SubjectLink } from '../resource-declaration.js';
import { descriptorKey } from './load.js';
import type { ApiModel, IdentityPart, ResourceModel } from './types.js';

type Body = Record<string, unknown>;
type Schema = { type?: string; properties?: Record<string, Schema>; items?: Schema; required?: string[] };

/** The ed-org kinds that make up the tree reach is measured on (every concrete EducationOrganization), and the identity each carries. */
const treeTypes: Record<string, { type: EdorgType; idKey: string }> = {
  StateEducationAgency: { type: 'sea', idKey: 'stateEducationAgencyId' },
  EducationServiceCenter: { type: 'esc', idKey: 'educationServiceCenterId' },
  LocalEducationAgency: { type: 'lea', idKey: 'localEducationAgencyId' },
  School: { type: 'school', idKey: 'schoolId' },
  PostSecondaryInstitution: { type: 'postsecondary', idKey: 'postSecondaryInstitutionId' },
  EducationOrganizationNetwork: { type: 'network', idKey: 'educationOrganizationNetworkId' },
  CommunityOrganization: { type: 'community_org', idKey: 'communityOrganizationId' },
  CommunityProvider: { type: 'community_provider', idKey: 'communityProviderId' },
  OrganizationDepartment: { type: 'department', idKey: 'organizationDepartmentId' },
};

export const edorgIdKeyOfType = Object.fromEntries(Object.values(treeTypes).map(({ type, idKey }) => [type, idKey])) as Record<EdorgType, string>;

/**
 * The references that name an ed-org's parent, nearest kind first, by the resource they point at: a school's LEA; an
 * LEA's parent LEA, else its ESC, else its SEA; a provider's community organisation; a department's parent, which may
 * be any kind (the abstract EducationOrganization).
 */
const parentTargets: Record<EdorgType, string[]> = {
  sea: [],
  esc: ['StateEducationAgency'],
  lea: ['LocalEducationAgency', 'EducationServiceCenter', 'StateEducationAgency'],
  school: ['LocalEducationAgency'],
  postsecondary: [],
  network: [],
  community_org: [],
  community_provider: ['CommunityOrganization'],
  department: ['EducationOrganization'],
};

/**
 * Associations that make a person reachable through an education organisation, as the ODS/API's
 * relationship views and DMS's authorization pathways do (StudentSchoolAssociationAuthorization, …).
 */
const subjectPathways: Record<string, 'student' | 'staff'> = {
  StudentSchoolAssociation: 'student',
  StaffEducationOrganizationAssignmentAssociation: 'staff',
  StaffEducationOrganizationEmploymentAssociation: 'staff',
};

/** People resources: reached through their associations, listed in unique-id order. */
const people: Record<string, { column: SecurableColumn; reach: ReachKind; hint: string }> = {
  Student: { column: 'student_unique_id', reach: 'student', hint: "Hint: You may need to create a corresponding 'StudentSchoolAssociation' item." },
  Staff: { column: 'staff_unique_id', reach: 'staff', hint: "Hint: You may need to create a corresponding 'StaffEducationOrganizationAssignmentAssociation' item." },
  Contact: { column: 'contact_unique_id', reach: 'contact', hint: "Hint: You may need to create a corresponding 'StudentContactAssociation' item." },
};

const personKeys: Record<string, SecurableColumn> = { studentUniqueId: 'student_unique_id', staffUniqueId: 'staff_unique_id', contactUniqueId: 'contact_unique_id' };

const leaf = (key: string) => key.split('.').pop()!;
const lowerFirst = (name: string) => name[0].toLowerCase() + name.slice(1);

/** Defaults for the members a synthesised ed-org document needs (ed-orgs added by the CLI exist only in the tree). */
const category = (name: string) => ({ educationOrganizationCategoryDescriptor: `uri://ed-fi.org/EducationOrganizationCategoryDescriptor#${name}` });
const edorgDefaults: Record<EdorgType, Record<string, string>> = {
  sea: category('State Education Agency'),
  esc: category('Education Service Center'),
  lea: { ...category('Local Education Agency'), localEducationAgencyCategoryDescriptor: 'uri://ed-fi.org/LocalEducationAgencyCategoryDescriptor#Independent' },
  school: { ...category('School'), gradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade' },
  postsecondary: category('Post Secondary Institution'),
  network: { ...category('Education Organization Network'), networkPurposeDescriptor: 'uri://ed-fi.org/NetworkPurposeDescriptor#Shared Services' },
  community_org: category('Community Organization'),
  community_provider: {
    ...category('Community Provider'),
    providerCategoryDescriptor: 'uri://ed-fi.org/ProviderCategoryDescriptor#Center-EC',
    providerStatusDescriptor: 'uri://ed-fi.org/ProviderStatusDescriptor#Active',
  },
  department: category('Organization Department'),
};

export interface ProjectionSpec {
  resource: string;
  columns: Record<string, string>;
}

/** Everything the generic machinery serves, derived from the model: one declaration per resource. */
export function declareResources(model: ApiModel, projections: Record<string, ProjectionSpec> = {}): ResourceDeclaration[] {
  const byName = new Map(model.resources.map((r) => [r.resourceName, r]));
  const edorgFamily = new Set(['EducationOrganization', ...model.resources.filter((r) => r.superclass?.resourceName === 'EducationOrganization').map((r) => r.resourceName)]);
  const treeEndpoints = Object.fromEntries(
    Object.entries(treeTypes).map(([name, { type }]) => [type, byName.get(name)?.endpoint ?? `${lowerFirst(name)}${name.endsWith('y') ? '' : 's'}`.replace(/y$/, 'ies')]),
  ) as Record<EdorgType, string>;
  const edorgIdKeys = new Set(['educationOrganizationId', ...Object.values(treeTypes).map((t) => t.idKey)]);
  for (const r of model.resources) if (r.superclass?.identityRename && edorgFamily.has(r.resourceName)) edorgIdKeys.add(r.superclass.identityRename.from);

  function referenceOf(resource: ResourceModel, ref: ResourceModel['references'][number]): Reference {
    const subclasses = model.resources.filter((r) => r.superclass?.resourceName === ref.target);
    const concrete = byName.get(ref.target);
    const keysOf = (r: ResourceModel) => r.identity.map((p) => p.key);
    const candidates = [
      ...(concrete ? [{ endpoint: concrete.endpoint, identityKeys: keysOf(concrete) }] : []),
      ...subclasses.map((r) => ({ endpoint: r.endpoint, identityKeys: keysOf(r), rename: r.superclass?.identityRename })),
    ];
    const edorgTypes = ref.target === 'EducationOrganization' ? [...allEdorgTypes] : treeTypes[ref.target] ? [treeTypes[ref.target].type] : undefined;
    void resource;
    return {
      name: ref.name,
      target: ref.target,
      isDescriptor: ref.isDescriptor,
      parts: ref.parts,
      candidates,
      ...(edorgTypes && { edorgTypes, edorgEndpoints: Object.fromEntries(edorgTypes.map((type) => [type, treeEndpoints[type]])) }),
    };
  }

  function columnsOf(resource: ResourceModel): Partial<Record<SecurableColumn, string>> {
    const columns: Partial<Record<SecurableColumn, string>> = {};
    const scalar = (part: IdentityPart) => !part.path.includes('[*]');
    for (const part of resource.identity.filter(scalar)) {
      const name = leaf(part.key);
      if (!columns.edorg_id && edorgIdKeys.has(name)) columns.edorg_id = part.path;
      const person = personKeys[name];
      if (person && !columns[person]) columns[person] = part.path;
      if (name === 'namespace' && !columns.namespace) columns.namespace = part.path;
    }
    if (resource.isDescriptor) columns.namespace = 'namespace';
    // A namespace outside the identity secures the item too (EducationContent), as DMS's namespaceSecurableElements.
    const properties = (resource.insertSchema as { properties?: Record<string, { type?: string }> }).properties;
    if (!columns.namespace && properties?.namespace?.type === 'string') columns.namespace = 'namespace';
    return columns;
  }

  function reachOf(resource: ResourceModel, columns: Partial<Record<SecurableColumn, string>>): ReachKind {
    if (edorgFamily.has(resource.resourceName)) return treeTypes[resource.resourceName] ? 'edorgSelf' : 'edorg';
    const person = people[resource.resourceName];
    if (person) return person.reach;
    if (columns.edorg_id) return leaf(columns.edorg_id) === 'schoolId' ? 'school' : 'edorg';
    if (columns.student_unique_id) return 'student';
    if (columns.staff_unique_id) return 'staff';
    if (columns.contact_unique_id) return 'contact';
    return 'none';
  }

  function subjectLinkOf(resource: ResourceModel, columns: Partial<Record<SecurableColumn, string>>): SubjectLink | undefined {
    const subjectType = subjectPathways[resource.resourceName];
    if (!subjectType || !columns.edorg_id) return undefined;
    const subjectPath = columns[subjectType === 'student' ? 'student_unique_id' : 'staff_unique_id'];
    return subjectPath ? { subjectType, subjectPath, edorgPath: columns.edorg_id } : undefined;
  }

  function edorgMirrorOf(resource: ResourceModel, references: Reference[]): EdorgMirror | undefined {
    const tree = treeTypes[resource.resourceName];
    if (!tree) return undefined;
    const idPath = resource.identity[0].path;
    const parents = parentTargets[tree.type].flatMap((target) =>
      references.filter((ref) => ref.target === target && ref.edorgTypes && ref.parts.length === 1).map((ref) => ({ types: ref.edorgTypes!, path: ref.parts[0].path })),
    );
    const schema = resource.insertSchema as Schema;
    return {
      type: tree.type,
      idPath,
      parentPaths: parents.map((p) => p.path),
      bodyFor: ({ id, name, parentId, parentType }) => {
        const body: Body = { [idPath]: id, nameOfInstitution: name };
        const parent = parentType ? parents.find((p) => p.types.includes(parentType)) : undefined;
        if (parent && parentId !== null) setPath(body, parent.path, parentId);
        fillRequired(body, schema, edorgDefaults[tree.type]);
        return body;
      },
    };
  }

  return model.resources.map((resource) => {
    const references = resource.references.map((ref) => referenceOf(resource, ref));
    const columns = columnsOf(resource);
    const person = people[resource.resourceName];
    const subjectLink = subjectLinkOf(resource, columns);
    const edorg = edorgMirrorOf(resource, references);
    const resourceProjections: Projection[] = Object.entries(projections)
      .filter(([, spec]) => spec.resource === resource.resourceName)
      .map(([table, spec]) => ({ table, columns: spec.columns }));
    const identity = resource.isDescriptor ? ['namespace', 'codeValue'] : [...new Set(resource.identity.map((p) => p.path.split('.')[0].replace('[*]', '')))];
    return {
      name: resource.endpoint,
      project: resource.project,
      edfiName: resource.resourceName,
      mediaName: lowerFirst(resource.resourceName),
      schema: resource.insertSchema,
      identity,
      isDescriptor: resource.isDescriptor,
      allowIdentityUpdates: resource.allowIdentityUpdates,
      identityParts: resource.identity,
      ...(resource.superclass && { superclass: resource.superclass }),
      columns,
      references,
      equalityConstraints: resource.equalityConstraints,
      reach: reachOf(resource, columns),
      ...(person && { denialHint: person.hint, orderColumn: person.column }),
      ...(subjectLink && { subjectLink }),
      ...(edorg && { edorg }),
      projections: resourceProjections,
    } satisfies ResourceDeclaration;
  });
}

function setPath(body: Body, path: string, value: unknown): void {
  const parts = path.split('.');
  let target = body;
  for (const part of parts.slice(0, -1)) target = (target[part] ??= {}) as Body;
  target[parts[parts.length - 1]] = value;
}

/** Required members of a synthesised ed-org document: descriptors from the defaults, collections of one such item. */
function fillRequired(body: Body, schema: Schema, defaults: Record<string, string>): void {
  for (const member of schema.required ?? []) {
    if (body[member] !== undefined) continue;
    const property = schema.properties?.[member];
    if (defaults[member]) body[member] = defaults[member];
    else if (property?.type === 'array' && property.items) {
      const item: Body = {};
      fillRequired(item, property.items, defaults);
      if (Object.keys(item).length) body[member] = [item];
    }
  }
}

export { descriptorKey };
