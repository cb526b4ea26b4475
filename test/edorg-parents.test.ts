/**
 * The parents an ed-org may have through the API, as the Data Standard gives them: a school's LEA is optional, an LEA
 * may hang from a parent LEA. Reach follows only what the tree links: a school with no LEA is reached by a client
 * assigned that school, and a parent LEA reaches its child LEAs and their schools. The Bootstrap claim set writes
 * every ed-org kind of the tree within reach.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { startTestApp, texasGrandBend, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, enrolment, json, student, type ApiClient } from './edfi-helpers.js';

type Item = Record<string, unknown>;

const fullStandard = resolve(fromRoot('..', 'shared', 'edfi', 'api-schema', 'DataStandard-5.0.0-pre.1.json'));
const haveFullStandard = existsSync(fullStandard);
if (!haveFullStandard) console.warn(`edorg-parents.test.ts: ${fullStandard} is absent, so its cases are skipped`);

const categories = (name: string) => [{ educationOrganizationCategoryDescriptor: `uri://ed-fi.org/EducationOrganizationCategoryDescriptor#${name}` }];

/** A school as the Record Ownership suite writes it: the LEA reference only when given. */
const school = (schoolId: number, leaId?: number, name = `School ${schoolId}`) => ({
  schoolId,
  nameOfInstitution: name,
  ...(leaId !== undefined && { localEducationAgencyReference: { localEducationAgencyId: leaId } }),
  educationOrganizationCategories: categories('School'),
  gradeLevels: [{ gradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade' }],
});

const lea = (localEducationAgencyId: number, parents: { parentLea?: number; sea?: number } = {}) => ({
  localEducationAgencyId,
  nameOfInstitution: `LEA ${localEducationAgencyId}`,
  localEducationAgencyCategoryDescriptor: 'uri://ed-fi.org/LocalEducationAgencyCategoryDescriptor#Independent',
  categories: categories('Local Education Agency'),
  ...(parents.parentLea !== undefined && { parentLocalEducationAgencyReference: { localEducationAgencyId: parents.parentLea } }),
  ...(parents.sea !== undefined && { stateEducationAgencyReference: { stateEducationAgencyId: parents.sea } }),
});

const program = (edorgId: number, programName = 'Robotics') => ({
  educationOrganizationReference: { educationOrganizationId: edorgId },
  programName,
  programTypeDescriptor: 'uri://ed-fi.org/ProgramTypeDescriptor#Other',
});

describe.skipIf(!haveFullStandard).each(engines)('ed-org parents on $name', (engine) => {
  let app: TestApp;
  let sandbox: ApiClient;

  const parentOf = async (id: number) => {
    const row = (await app.services.db('education_organizations').where({ id }).first('parent_id')) as { parent_id: number | string | null } | undefined;
    return row && (row.parent_id === null ? null : Number(row.parent_id));
  };
  const ancestorsOf = async (id: number) =>
    ((await app.services.db('edorg_closure').where({ descendant_id: id }).orderBy('depth').select('ancestor_id')) as Array<{ ancestor_id: number | string }>).map((r) =>
      Number(r.ancestor_id),
    );
  /** The schools a freshly issued token for a client assigned these ed-orgs carries. */
  const tokenSchools = async (edorgIds: number[]) => decodeJwt(await app.token(await app.client({ edorgIds }))).schools as string[];

  beforeAll(async () => {
    app = await startTestApp(engine, { EDFI_API_SCHEMA: fullStandard });
    await app.edorgs(...texasGrandBend);
    sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    await sandbox.create('programTypeDescriptors', { namespace: 'uri://ed-fi.org/ProgramTypeDescriptor', codeValue: 'Other', shortDescription: 'Other' });
  }, 60_000);
  afterAll(() => app.stop());

  describe('a school with no LEA', () => {
    it('is written and read through the API, and stands alone in the tree', async () => {
      const own = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [9021], edorgsLater: true });
      const id = await own.create('schools', school(9021));
      const read = await json(await own.get(`schools/${id}`));
      expect(read).toMatchObject({ schoolId: 9021, nameOfInstitution: 'School 9021' });
      expect(read).not.toHaveProperty('localEducationAgencyReference');
      expect(await parentOf(9021)).toBeNull();
      expect(await ancestorsOf(9021)).toEqual([9021]);
      expect((await own.put(`schools/${id}`, school(9021, undefined, 'Renamed 9021'))).status).toBe(204);
      expect(await json(await own.get(`schools/${id}`))).toMatchObject({ nameOfInstitution: 'Renamed 9021' });
    });

    it('is reached only by a client assigned that school', async () => {
      expect(await tokenSchools([9021])).toEqual(['9021']);
      expect(await tokenSchools([255901])).not.toContain('9021');
      expect(await tokenSchools([48])).not.toContain('9021');
      const own = await apiClient(app, { edorgIds: [9021] });
      const district = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [255901] });
      const state = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [48] });
      expect((await own.post('programs', program(9021))).status).toBe(201);
      for (const outsider of [district, state]) {
        expect((await outsider.post('programs', program(9021, 'Outsider'))).status).toBe(403);
        expect(await json(await outsider.get('programs?educationOrganizationId=9021'))).toEqual([]);
      }
      const [stored] = await json<Item[]>(await sandbox.get('schools?schoolId=9021'));
      expect((await district.put(`schools/${stored.id}`, school(9021, undefined, 'Taken'))).status).toBe(403);
      // Hanging it under the district is a write to a school the district does not reach.
      expect((await district.put(`schools/${stored.id}`, school(9021, 255901))).status).toBe(403);
      expect(await parentOf(9021)).toBeNull();
    });

    it('is created by a client only when the school itself is assigned to it', async () => {
      const district = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [255901] });
      const refused = await district.post('schools', school(9022));
      expect(refused.status).toBe(403);
      expect(await json(refused)).toMatchObject({ error: 'authorization_denied' });
      expect(await parentOf(9022)).toBeUndefined();
    });

    it('leaves its district when the district writes it without an LEA; a client assigned the school alone may not detach it', async () => {
      const district = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [255901] });
      const schoolOnly = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [9031], edorgsLater: true });
      const id = await district.create('schools', school(9031, 255901));
      expect(await tokenSchools([255901])).toContain('9031');

      const detach = await schoolOnly.put(`schools/${id}`, school(9031));
      expect(detach.status).toBe(403);
      expect(await parentOf(9031)).toBe(255901);

      expect((await district.put(`schools/${id}`, school(9031))).status).toBe(204);
      expect(await parentOf(9031)).toBeNull();
      expect(await ancestorsOf(9031)).toEqual([9031]);
      expect(await tokenSchools([255901])).not.toContain('9031');
      expect((await district.post('programs', program(9031))).status).toBe(403);
      expect((await schoolOnly.post('programs', program(9031))).status).toBe(201);
    });

    it('answers an API write that would make a cycle with 400 invalid_parent, in words that name no CLI flag', async () => {
      await sandbox.create('localEducationAgencies', lea(3000, { sea: 48 }));
      await sandbox.create('localEducationAgencies', lea(3100, { parentLea: 3000 }));
      const [top] = await json<Item[]>(await sandbox.get('localEducationAgencies?localEducationAgencyId=3000'));
      for (const parentLea of [3100, 3000]) {
        const res = await sandbox.put(`localEducationAgencies/${top.id}`, lea(3000, { parentLea }));
        expect(res.status).toBe(400);
        const problem = await json(res);
        expect(problem).toMatchObject({ error: 'invalid_parent', type: 'urn:ed-fi:api:invalid-parent' });
        expect(JSON.stringify(problem)).not.toContain('--');
      }
      expect(await ancestorsOf(3000)).toEqual([3000, 48]);
    });
  });

  describe('an LEA under a parent LEA', () => {
    it('hangs from its parent LEA (the nearest parent reference), and a Bootstrap client of the parent may write it', async () => {
      const parent = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [4000], edorgsLater: true });
      const state = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [48] });
      await state.create('localEducationAgencies', lea(4000, { sea: 48 }));
      const id = await parent.create('localEducationAgencies', lea(4100, { parentLea: 4000, sea: 48 }));
      await parent.create('schools', school(4100001, 4100));
      expect(await parentOf(4100)).toBe(4000);
      expect(await ancestorsOf(4100001)).toEqual([4100001, 4100, 4000, 48]);
      expect(await json(await parent.get(`localEducationAgencies/${id}`))).toMatchObject({
        parentLocalEducationAgencyReference: { localEducationAgencyId: 4000 },
        stateEducationAgencyReference: { stateEducationAgencyId: 48 },
      });
      // A child LEA under an LEA the client does not reach is refused.
      const outsider = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [255901] });
      expect((await outsider.post('localEducationAgencies', lea(4200, { parentLea: 4000 }))).status).toBe(403);
    });

    it('gives the parent LEA reach over the child LEA\'s schools, their students and programs; the child reaches only its own, and reads its parent\'s programs', async () => {
      expect(await tokenSchools([4000])).toEqual(['4100001']);
      expect(await tokenSchools([4100])).toEqual(['4100001']);
      const parent = await apiClient(app, { edorgIds: [4000] });
      const child = await apiClient(app, { edorgIds: [4100] });
      const other = await apiClient(app, { edorgIds: [255901] });

      await parent.create('students', student('LEA-KID'));
      const enrolled = await parent.create('studentSchoolAssociations', enrolment('LEA-KID', 4100001));
      expect((await parent.get(`studentSchoolAssociations/${enrolled}`)).status).toBe(200);
      expect((await json<Item[]>(await parent.get('students?studentUniqueId=LEA-KID'))).map((s) => s.studentUniqueId)).toEqual(['LEA-KID']);
      expect((await json<Item[]>(await child.get('students?studentUniqueId=LEA-KID'))).map((s) => s.studentUniqueId)).toEqual(['LEA-KID']);
      expect(await json(await other.get('students?studentUniqueId=LEA-KID'))).toEqual([]);

      const childProgram = await parent.create('programs', program(4100));
      expect((await child.get(`programs/${childProgram}`)).status).toBe(200);
      const parentProgram = await parent.create('programs', program(4000));
      // Programs are reference data, read up the tree (relationshipsInverted) and written only down it.
      expect((await child.get(`programs/${parentProgram}`)).status).toBe(200);
      expect((await child.del(`programs/${parentProgram}`)).status).toBe(403);
      expect((await other.get(`programs/${childProgram}`)).status).toBe(403);
    });

    it('adds a child LEA with `edgate edorg add --parent`, read through the API with its parent LEA reference', async () => {
      const added = await app.cli('edorg', 'add', '--json', '--id', '4300', '--type', 'lea', '--name', 'Lakeshore Charter District', '--parent', '4000');
      expect(added.code).toBe(0);
      expect(await ancestorsOf(4300)).toEqual([4300, 4000, 48]);
      const [child] = await json<Item[]>(await sandbox.get('localEducationAgencies?localEducationAgencyId=4300'));
      expect(child).toMatchObject({ parentLocalEducationAgencyReference: { localEducationAgencyId: 4000 } });
      expect(child).not.toHaveProperty('stateEducationAgencyReference');
      const underSchool = await app.cli('edorg', 'add', '--json', '--id', '4301', '--type', 'lea', '--name', 'Misplaced', '--parent', '4100001');
      expect(underSchool.code).toBe(1);
      expect(JSON.parse(underSchool.stdout)).toMatchObject({ error: 'invalid_parent' });
    });

    it('lists the nearest LEA in token_info for a school under a child LEA', async () => {
      const credentials = await app.client({ edorgIds: [4000] });
      const token = await app.token(credentials);
      const res = await app.fetch('/oauth/token_info', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ token }) });
      const info = await json<{ education_organizations: Item[] }>(res);
      expect(info.education_organizations).toContainEqual(expect.objectContaining({ education_organization_id: 4100001, school_id: 4100001, local_education_agency_id: 4100, state_education_agency_id: 48 }));
    });

    it('moves a child LEA with its schools when its parent LEA changes, and takes it out of the old parent\'s reach', async () => {
      await sandbox.create('localEducationAgencies', lea(4500, { sea: 48 }));
      const [child] = await json<Item[]>(await sandbox.get('localEducationAgencies?localEducationAgencyId=4100'));
      expect((await sandbox.put(`localEducationAgencies/${child.id}`, lea(4100, { parentLea: 4500, sea: 48 }))).status).toBe(204);
      expect(await ancestorsOf(4100001)).toEqual([4100001, 4100, 4500, 48]);
      expect(await tokenSchools([4000])).toEqual([]);
      expect(await tokenSchools([4500])).toEqual(['4100001']);
    });
  });

  describe('the Bootstrap claim set', () => {
    const edorgResources = [
      'stateEducationAgencies',
      'educationServiceCenters',
      'localEducationAgencies',
      'schools',
      'postSecondaryInstitutions',
      'educationOrganizationNetworks',
      'communityOrganizations',
      'communityProviders',
      'organizationDepartments',
    ];

    it('grants every action on every ed-org kind of the tree, as ODS Sandbox does', async () => {
      for (const claimSet of ['Bootstrap', 'ODS Sandbox'] as const) {
        const credentials = await app.client({ claimSet, edorgIds: [255901] });
        const token = await app.token(credentials);
        const res = await app.fetch('/oauth/token_info', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ token }) });
        const { resources } = await json<{ resources: Array<{ resource: string; operations: string[] }> }>(res);
        for (const name of edorgResources) {
          expect(resources.find((r) => r.resource === `/ed-fi/${name}`)?.operations, `${claimSet} ${name}`).toEqual(['Create', 'Read', 'Update', 'Delete']);
        }
      }
    });

    it('writes a department, a community organisation and provider and a post-secondary institution within reach, and nothing outside', async () => {
      const district = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [255901] });
      const department = { organizationDepartmentId: 7201, nameOfInstitution: 'Grand Bend Transport', parentEducationOrganizationReference: { educationOrganizationId: 255901 }, categories: categories('Organization Department') };
      const departmentId = await district.create('organizationDepartments', department);
      expect((await district.put(`organizationDepartments/${departmentId}`, { ...department, nameOfInstitution: 'Grand Bend Transportation' })).status).toBe(204);
      expect(await parentOf(7201)).toBe(255901);

      const community = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [5200, 53], edorgsLater: true });
      await community.create('communityOrganizations', { communityOrganizationId: 5200, nameOfInstitution: 'Lakeshore Trust', categories: categories('Community Organization') });
      const provider = {
        communityProviderId: 5201,
        nameOfInstitution: 'Lakeshore Camps',
        providerCategoryDescriptor: 'uri://ed-fi.org/ProviderCategoryDescriptor#Center-EC',
        providerStatusDescriptor: 'uri://ed-fi.org/ProviderStatusDescriptor#Active',
        communityOrganizationReference: { communityOrganizationId: 5200 },
        categories: categories('Community Provider'),
      };
      await community.create('communityProviders', provider);
      expect(await ancestorsOf(5201)).toEqual([5201, 5200]);
      await community.create('postSecondaryInstitutions', { postSecondaryInstitutionId: 53, nameOfInstitution: 'Lakeshore College', categories: categories('Post Secondary Institution') });
      expect(await parentOf(53)).toBeNull();

      expect((await district.post('communityProviders', { ...provider, communityProviderId: 5202 })).status).toBe(403);
      expect((await district.post('postSecondaryInstitutions', { postSecondaryInstitutionId: 54, nameOfInstitution: 'Elsewhere', categories: categories('Post Secondary Institution') })).status).toBe(403);
      expect((await community.post('organizationDepartments', { ...department, organizationDepartmentId: 7202 })).status).toBe(403);
      expect((await district.del(`organizationDepartments/${departmentId}`)).status).toBe(204);
    });
  });
});
