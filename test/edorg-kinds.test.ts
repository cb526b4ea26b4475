/**
 * Every concrete EducationOrganization of the Data Standard is a first-class ed-org, as in the ODS/API: written
 * through the API or the CLI it joins the tree, references to the abstract EducationOrganization resolve to it, and
 * reach flows through it (an OrganizationDepartment under an LEA, a CommunityProvider under its CommunityOrganization).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { startTestApp, texasGrandBend, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, json, staffMember, type ApiClient } from './edfi-helpers.js';

type Item = Record<string, unknown>;

const fullStandard = resolve(fromRoot('..', 'shared', 'edfi', 'api-schema', 'DataStandard-5.0.0-pre.1.json'));
const haveFullStandard = existsSync(fullStandard);
if (!haveFullStandard) console.warn(`edorg-kinds.test.ts: ${fullStandard} is absent, so its cases are skipped`);

const categories = (name: string) => [{ educationOrganizationCategoryDescriptor: `uri://ed-fi.org/EducationOrganizationCategoryDescriptor#${name}` }];

/** One of each new kind, as a SIS or the ODS suites post them. */
const kinds = {
  communityOrganizations: { communityOrganizationId: 5000, nameOfInstitution: 'Grand Bend Community Trust', categories: categories('Community Organization') },
  communityProviders: {
    communityProviderId: 5001,
    nameOfInstitution: 'Grand Bend After School',
    providerCategoryDescriptor: 'uri://ed-fi.org/ProviderCategoryDescriptor#Center-EC',
    providerStatusDescriptor: 'uri://ed-fi.org/ProviderStatusDescriptor#Active',
    communityOrganizationReference: { communityOrganizationId: 5000 },
    categories: categories('Community Provider'),
  },
  postSecondaryInstitutions: {
    postSecondaryInstitutionId: 51,
    nameOfInstitution: 'Grand Bend Community College',
    postSecondaryInstitutionLevelDescriptor: 'uri://ed-fi.org/PostSecondaryInstitutionLevelDescriptor#Four or more years',
    categories: categories('Post Secondary Institution'),
  },
  educationOrganizationNetworks: {
    educationOrganizationNetworkId: 6000,
    nameOfInstitution: 'Lakeshore Purchasing Network',
    networkPurposeDescriptor: 'uri://ed-fi.org/NetworkPurposeDescriptor#Shared Services',
    categories: categories('Education Organization Network'),
  },
  organizationDepartments: {
    organizationDepartmentId: 7001,
    nameOfInstitution: 'Grand Bend ISD Special Education',
    parentEducationOrganizationReference: { educationOrganizationId: 255901 },
    categories: categories('Organization Department'),
  },
};

const program = (edorgId: number, programName = 'After School Tutoring') => ({
  educationOrganizationReference: { educationOrganizationId: edorgId },
  programName,
  programTypeDescriptor: 'uri://ed-fi.org/ProgramTypeDescriptor#Other',
});

const employment = (staffId: string, edorgId: number) => ({
  staffReference: { staffUniqueId: staffId },
  educationOrganizationReference: { educationOrganizationId: edorgId },
  employmentStatusDescriptor: 'uri://ed-fi.org/EmploymentStatusDescriptor#Tenured or permanent',
  hireDate: '2025-08-01',
});

describe.skipIf(!haveFullStandard).each(engines)('every kind of education organisation on $name', (engine) => {
  let app: TestApp;
  let sandbox: ApiClient;
  let district: ApiClient;
  let outsider: ApiClient;
  let community: ApiClient;
  let college: ApiClient;

  const ancestorsOf = async (id: number) =>
    ((await app.services.db('edorg_closure').where({ descendant_id: id }).orderBy('depth').select('ancestor_id')) as Array<{ ancestor_id: number | string }>).map((r) =>
      Number(r.ancestor_id),
    );

  beforeAll(async () => {
    app = await startTestApp(engine, { EDFI_API_SCHEMA: fullStandard });
    await app.edorgs(...texasGrandBend);
    await app.edorgs({ id: 999, type: 'lea', name: 'Other ISD', parentId: 48 });
    sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    district = await apiClient(app, { edorgIds: [255901], namespacePrefixes: ['uri://ed-fi.org'] });
    outsider = await apiClient(app, { edorgIds: [999] });
    // Assigned ahead, as the ODS/API's admin tools allow: reach starts when the ed-org is written.
    community = await apiClient(app, { edorgIds: [5000], edorgsLater: true });
    college = await apiClient(app, { edorgIds: [51], edorgsLater: true });
    for (const [descriptor, codeValue] of [
      ['programTypeDescriptors', 'Other'],
      ['employmentStatusDescriptors', 'Tenured or permanent'],
    ]) {
      const namespace = `uri://ed-fi.org/${descriptor[0].toUpperCase()}${descriptor.slice(1, -1)}`;
      await sandbox.create(descriptor, { namespace, codeValue, shortDescription: codeValue });
    }
  }, 60_000);
  afterAll(() => app.stop());

  it('creates each kind through the API, reads it back, and puts it in the tree under its parent', async () => {
    for (const [resource, body] of Object.entries(kinds)) {
      const id = await sandbox.create(resource, body);
      expect(await json(await sandbox.get(`${resource}/${id}`)), resource).toMatchObject(body);
    }
    const rows = (await app.services.db('education_organizations').whereIn('id', [5000, 5001, 51, 6000, 7001]).orderBy('id').select('id', 'type', 'parent_id')) as Item[];
    expect(rows.map((r) => ({ id: Number(r.id), type: r.type, parent: r.parent_id === null ? null : Number(r.parent_id) }))).toEqual([
      { id: 51, type: 'postsecondary', parent: null },
      { id: 5000, type: 'community_org', parent: null },
      { id: 5001, type: 'community_provider', parent: 5000 },
      { id: 6000, type: 'network', parent: null },
      { id: 7001, type: 'department', parent: 255901 },
    ]);
    expect(await ancestorsOf(7001)).toEqual([7001, 255901, 48]);
    expect(await ancestorsOf(5001)).toEqual([5001, 5000]);
  });

  it('reaches a Program on an OrganizationDepartment through the LEA it hangs from, and refuses a client outside', async () => {
    const id = await district.create('programs', program(7001));
    expect((await district.get(`programs/${id}`)).status).toBe(200);
    expect((await json<Item[]>(await district.get('programs?educationOrganizationId=7001'))).map((p) => p.id)).toEqual([id]);
    expect((await outsider.get(`programs/${id}`)).status).toBe(403);
    expect(await json(await outsider.get('programs'))).toEqual([]);
    const refused = await outsider.post('programs', program(7001, 'Outsider Program'));
    expect(refused.status).toBe(403);
  });

  it('reaches a CommunityProvider through its CommunityOrganization', async () => {
    const id = await community.create('programs', program(5001));
    expect((await community.get(`programs/${id}`)).status).toBe(200);
    expect((await district.get(`programs/${id}`)).status).toBe(403);
    expect((await json<Item[]>(await community.get('programs'))).map((p) => p.id)).toEqual([id]);
  });

  it('employs staff at a PostSecondaryInstitution, and the staff member is in the institution\'s reach only', async () => {
    await college.create('staffs', staffMember('PSI-1'));
    const id = await college.create('staffEducationOrganizationEmploymentAssociations', employment('PSI-1', 51));
    expect((await college.get(`staffEducationOrganizationEmploymentAssociations/${id}`)).status).toBe(200);
    expect((await json<Item[]>(await college.get('staffs?staffUniqueId=PSI-1'))).map((s) => s.staffUniqueId)).toEqual(['PSI-1']);
    expect(await json(await district.get('staffs?staffUniqueId=PSI-1'))).toEqual([]);
    expect((await college.create('programs', program(51))).length).toBeGreaterThan(0);
  });

  it('refuses a Program on a PostSecondaryInstitution outside the client\'s reach with 403', async () => {
    const res = await district.post('programs', program(51, 'Dual Credit'));
    expect(res.status).toBe(403);
    expect(await json(res)).toMatchObject({ error: 'authorization_denied' });
  });

  it('refuses a reference to an education organisation that does not exist with 409 unresolved_reference', async () => {
    const missing = await sandbox.post('programs', program(424242));
    expect(missing.status).toBe(409);
    expect(await json(missing)).toMatchObject({ error: 'unresolved_reference', detail: "The referenced 'EducationOrganization' item does not exist." });
    const orphan = await sandbox.post('organizationDepartments', { ...kinds.organizationDepartments, organizationDepartmentId: 7099, parentEducationOrganizationReference: { educationOrganizationId: 424242 } });
    expect(orphan.status).toBe(409);
    expect(await json(orphan)).toMatchObject({ error: 'unresolved_reference' });
    const noOrganisation = await sandbox.post('communityProviders', { ...kinds.communityProviders, communityProviderId: 5099, communityOrganizationReference: { communityOrganizationId: 424242 } });
    expect(noOrganisation.status).toBe(409);
  });

  it('adds every kind with `edgate edorg add`, reads each through the API, and refuses a parent of the wrong kind', async () => {
    const add = (...args: string[]) => app.cli('edorg', 'add', '--json', ...args);
    expect((await add('--id', '52', '--type', 'postsecondary', '--name', 'Lakeshore University')).code).toBe(0);
    expect((await add('--id', '5100', '--type', 'CommunityOrganization', '--name', 'Lakeshore Trust')).code).toBe(0);
    expect((await add('--id', '5101', '--type', 'community_provider', '--name', 'Lakeshore Camps', '--parent', '5100')).code).toBe(0);
    expect((await add('--id', '6100', '--type', 'network', '--name', 'Lakeshore Network')).code).toBe(0);
    expect((await add('--id', '7101', '--type', 'department', '--name', 'Grand Bend High Athletics', '--parent', '255901001')).code).toBe(0);
    const wrong = await add('--id', '5102', '--type', 'community_provider', '--name', 'Misplaced', '--parent', '255901');
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr + wrong.stdout).toContain('invalid_parent');
    expect(await ancestorsOf(7101)).toEqual([7101, 255901001, 255901, 48]);

    const [department] = await json<Item[]>(await sandbox.get('organizationDepartments?organizationDepartmentId=7101'));
    expect(department).toMatchObject({ nameOfInstitution: 'Grand Bend High Athletics', parentEducationOrganizationReference: { educationOrganizationId: 255901001 } });
    const [provider] = await json<Item[]>(await sandbox.get('communityProviders?communityProviderId=5101'));
    expect(provider).toMatchObject({ communityOrganizationReference: { communityOrganizationId: 5100 } });
    for (const [resource, key, id] of [
      ['postSecondaryInstitutions', 'postSecondaryInstitutionId', 52],
      ['educationOrganizationNetworks', 'educationOrganizationNetworkId', 6100],
      ['communityOrganizations', 'communityOrganizationId', 5100],
    ] as const) {
      expect(await json(await sandbox.get(`${resource}?${key}=${id}`)), resource).toHaveLength(1);
    }
    // A CLI-added department takes a program as any other, within its school's district. The CLI writes from another
    // process, so a client's reach cached in the last 2 s may not hold it yet: a client loaded now does.
    const freshDistrict = await apiClient(app, { edorgIds: [255901] });
    expect((await freshDistrict.post('programs', program(7101))).status).toBe(201);
    const listed = JSON.parse((await app.cli('edorg', 'list', '--json')).stdout) as { education_organizations: Item[] };
    expect(listed.education_organizations).toContainEqual({ id: 7101, type: 'department', name: 'Grand Bend High Athletics', parent: 255901001 });
  });

  it('lists a department beneath an assigned LEA in token_info, with its ancestors\' ids', async () => {
    const credentials = await app.client({ edorgIds: [255901] });
    const token = await app.token(credentials);
    const res = await app.fetch('/oauth/token_info', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ token }) });
    const info = await json<{ education_organizations: Item[] }>(res);
    expect(info.education_organizations).toContainEqual(
      expect.objectContaining({ education_organization_id: 7001, type: 'edfi.OrganizationDepartment', organization_department_id: 7001, local_education_agency_id: 255901 }),
    );
  });

  it('deletes a kind through the API and takes it out of the tree; one with a child or a dependant stays', async () => {
    const [network] = await json<Item[]>(await sandbox.get('educationOrganizationNetworks?educationOrganizationNetworkId=6000'));
    expect((await sandbox.del(`educationOrganizationNetworks/${network.id}`)).status).toBe(204);
    expect(await app.services.db('education_organizations').where({ id: 6000 }).first()).toBeUndefined();
    expect(await ancestorsOf(6000)).toEqual([]);
    const [organisation] = await json<Item[]>(await sandbox.get('communityOrganizations?communityOrganizationId=5000'));
    const refused = await sandbox.del(`communityOrganizations/${organisation.id}`);
    expect(refused.status).toBe(409);
    expect(await json(refused)).toMatchObject({ error: 'dependent_item_exists' });
    const [department] = await json<Item[]>(await sandbox.get('organizationDepartments?organizationDepartmentId=7001'));
    expect((await sandbox.del(`organizationDepartments/${department.id}`)).status).toBe(409);
  });

  it("names a department's parent as the ODS/API does when it refuses one outside the client's reach", async () => {
    const elsewhere = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [999] });
    const refused = await elsewhere.post('organizationDepartments', { ...kinds.organizationDepartments, organizationDepartmentId: 7301, parentEducationOrganizationReference: { educationOrganizationId: 255901001 } });
    expect(refused.status).toBe(403);
    expect((await json<{ errors: string[] }>(refused)).errors).toEqual([
      "No relationships have been established between the caller's education organization id claim (999) and the resource item's 'ParentEducationOrganizationId' value.",
    ]);
  });

  it('lets ODS Sandbox read every department but write only those under its reach, as the ODS/API secures them by their parent', async () => {
    const school = await apiClient(app, { claimSet: 'ODS Sandbox', edorgIds: [255901001] });
    const department = (id: number, parent: number) => ({ ...kinds.organizationDepartments, organizationDepartmentId: id, parentEducationOrganizationReference: { educationOrganizationId: parent } });
    const own = await school.create('organizationDepartments', department(7401, 255901001));
    expect((await school.post('organizationDepartments', department(7402, 255901044))).status).toBe(403);
    const [district] = await json<Item[]>(await school.get('organizationDepartments?organizationDepartmentId=7001'));
    expect(district).toMatchObject({ organizationDepartmentId: 7001 });
    expect((await school.put(`organizationDepartments/${district.id}`, { ...kinds.organizationDepartments, nameOfInstitution: 'Renamed' })).status).toBe(403);
    expect((await school.del(`organizationDepartments/${own}`)).status).toBe(204);
  });
});
