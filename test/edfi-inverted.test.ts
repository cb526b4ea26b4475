/**
 * The `relationshipsInverted` strategy (the ODS/API's RelationshipsWithEdOrgsAndPeopleInverted, ORed with the plain
 * relationships as its sandbox claim set grants them): reference data an ancestor ed-org owns — a district's courses,
 * programs and charts of accounts — is read by the schools beneath it, and by no sibling; writes stay relationships.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadClaimSets, strategiesFor } from '../src/config/claim-sets.js';
import { fromRoot } from '../src/config/paths.js';
import { claimSetsFile, startTestApp, texasGrandBend, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, json, type ApiClient } from './edfi-helpers.js';

type Item = Record<string, unknown>;

/** The whole Data Standard (courses, programs, chartOfAccounts) as Meadowlark publishes it; kept beside the project. */
const fullStandard = resolve(fromRoot('..', 'shared', 'edfi', 'api-schema', 'DataStandard-5.0.0-pre.1.json'));
const haveFullStandard = existsSync(fullStandard);
if (!haveFullStandard) console.warn(`edfi-inverted.test.ts: ${fullStandard} is absent, so its HTTP cases are skipped`);

const district = 255901;
const school = 255901001;
const sibling = 255901044;

const course = (edorgId: number, courseCode: string) => ({
  courseCode,
  identificationCodes: [
    {
      courseIdentificationSystemDescriptor: 'uri://ed-fi.org/CourseIdentificationSystemDescriptor#CSSC course code',
      assigningOrganizationIdentificationCode: 'CSSC course code',
      identificationCode: courseCode,
    },
  ],
  educationOrganizationReference: { educationOrganizationId: edorgId },
  courseTitle: 'Algebra I',
  numberOfParts: 1,
});

const program = (edorgId: number, programName: string) => ({
  educationOrganizationReference: { educationOrganizationId: edorgId },
  programName,
  programTypeDescriptor: 'uri://ed-fi.org/ProgramTypeDescriptor#Athletics',
});

const chartOfAccount = (edorgId: number, accountIdentifier: string) => ({
  accountIdentifier,
  fiscalYear: 2022,
  educationOrganizationReference: { educationOrganizationId: edorgId },
  accountTypeDescriptor: 'uri://ed-fi.org/AccountTypeDescriptor#Expenditure',
});

const descriptors: Array<[string, string]> = [
  ['courseIdentificationSystemDescriptors', 'CSSC course code'],
  ['programTypeDescriptors', 'Athletics'],
  ['accountTypeDescriptors', 'Expenditure'],
];

const ids = (items: Item[]) => items.map((i) => i.id).sort();

describe('the relationshipsInverted strategy in claim sets', () => {
  it('reads courses, programs and charts of accounts inverted in the sandbox-like claim sets, and writes them by relationship', () => {
    const claimSets = loadClaimSets();
    for (const claimSet of ['ODS Sandbox', 'SIS Vendor', 'Bootstrap']) {
      for (const name of ['courses', 'programs', 'chartOfAccounts']) {
        expect(strategiesFor(claimSets, claimSet, { name }, 'read'), `${claimSet} ${name}`).toEqual(['relationshipsInverted']);
        for (const action of ['create', 'update', 'delete'] as const) expect(strategiesFor(claimSets, claimSet, { name }, action)).toEqual(['relationships']);
      }
    }
  });

  it('refuses, at load, relationshipsInverted on any action but read', () => {
    expect(() => loadClaimSets(claimSetsFile({ X: { courses: { update: 'relationshipsInverted' } } }))).toThrow(/courses\.update: "relationshipsInverted" is for reads only/);
    expect(() => loadClaimSets(claimSetsFile({ X: { courses: { delete: ['namespace', 'relationshipsInverted'] } } }))).toThrow(/for reads only/);
    expect(() => loadClaimSets(claimSetsFile({ X: { courses: { read: 'relationshipsInverted' } } }))).not.toThrow();
  });
});

describe.skipIf(!haveFullStandard).each(engines)('reference data read up the ed-org tree on $name', (engine) => {
  let app: TestApp;
  let districtClient: ApiClient;
  let schoolClient: ApiClient;
  let siblingClient: ApiClient;
  let stateClient: ApiClient;
  let unassigned: ApiClient;

  beforeAll(async () => {
    app = await startTestApp(engine, { EDFI_API_SCHEMA: fullStandard });
    await app.edorgs(...texasGrandBend);
    await app.edorgs({ id: 999, type: 'lea', name: 'Other ISD', parentId: 48 });
    const sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    for (const [descriptor, codeValue] of descriptors) {
      const namespace = `uri://ed-fi.org/${descriptor[0].toUpperCase()}${descriptor.slice(1, -1)}`;
      await sandbox.create(descriptor, { namespace, codeValue, shortDescription: codeValue });
    }
    const sandboxOf = (edorgIds: number[]) => apiClient(app, { claimSet: 'ODS Sandbox', edorgIds, namespacePrefixes: ['uri://ed-fi.org'] });
    districtClient = await sandboxOf([district]);
    schoolClient = await sandboxOf([school]);
    siblingClient = await sandboxOf([sibling]);
    stateClient = await sandboxOf([48]);
    unassigned = await sandboxOf([]);
  }, 60_000);
  afterAll(() => app.stop());

  it("lets a school read its district's course, program and chart of accounts, one by one and in lists with their count", async () => {
    const courseId = await districtClient.create('courses', course(district, 'D-ALG1'));
    const programId = await districtClient.create('programs', program(district, 'District Athletics'));
    const accountId = await districtClient.create('chartOfAccounts', chartOfAccount(district, 'D-1000'));
    for (const [resource, id] of [
      ['courses', courseId],
      ['programs', programId],
      ['chartOfAccounts', accountId],
    ]) {
      const res = await schoolClient.get(`${resource}/${id}`);
      expect(res.status, resource).toBe(200);
      expect((await json(res)).id).toBe(id);
      const list = await schoolClient.get(`${resource}?totalCount=true`);
      expect(ids(await json<Item[]>(list)), resource).toContain(id);
    }
    const listed = await schoolClient.get('courses?totalCount=true&courseCode=D-ALG1');
    expect(ids(await json<Item[]>(listed))).toEqual([courseId]);
    expect(listed.headers.get('total-count')).toBe('1');
  });

  it("refuses a school that updates or deletes its district's course or program with 403, and the item stays", async () => {
    const courseId = await districtClient.create('courses', course(district, 'D-GEO'));
    const programId = await districtClient.create('programs', program(district, 'District Band'));
    const update = await schoolClient.put(`courses/${courseId}`, { ...course(district, 'D-GEO'), courseTitle: 'Geometry' });
    expect(update.status).toBe(403);
    expect(await json(update)).toMatchObject({ error: 'authorization_denied' });
    expect((await schoolClient.del(`courses/${courseId}`)).status).toBe(403);
    expect((await schoolClient.del(`programs/${programId}`)).status).toBe(403);
    expect(await json(await districtClient.get(`courses/${courseId}`))).toMatchObject({ courseTitle: 'Algebra I' });
    expect((await districtClient.get(`programs/${programId}`)).status).toBe(200);
    // Nor may it create one at its district: creates stay relationships.
    expect((await schoolClient.post('courses', course(district, 'S-AT-D'))).status).toBe(403);
  });

  it("refuses a school reading a sibling school's course or program, singly or in a list", async () => {
    const courseId = await schoolClient.create('courses', course(school, 'S-BIO'));
    const programId = await schoolClient.create('programs', program(school, 'School Robotics'));
    expect((await siblingClient.get(`courses/${courseId}`)).status).toBe(403);
    expect((await siblingClient.get(`programs/${programId}`)).status).toBe(403);
    expect(ids(await json<Item[]>(await siblingClient.get('courses')))).not.toContain(courseId);
    const counted = await siblingClient.get('programs?totalCount=true&programName=School%20Robotics');
    expect(await json(counted)).toEqual([]);
    expect(counted.headers.get('total-count')).toBe('0');
    // Another district's course is no ancestor's either.
    const elsewhere = await stateClient.create('courses', course(999, 'O-ALG1'));
    expect((await schoolClient.get(`courses/${elsewhere}`)).status).toBe(403);
  });

  it("lets a district read, update and delete a school's course and program", async () => {
    const courseId = await schoolClient.create('courses', course(school, 'S-CHEM'));
    const programId = await schoolClient.create('programs', program(school, 'School Chess'));
    expect((await districtClient.get(`courses/${courseId}`)).status).toBe(200);
    expect(ids(await json<Item[]>(await districtClient.get('courses?courseCode=S-CHEM')))).toEqual([courseId]);
    expect((await districtClient.put(`courses/${courseId}`, { ...course(school, 'S-CHEM'), courseTitle: 'Chemistry' })).status).toBe(204);
    expect(await json(await schoolClient.get(`courses/${courseId}`))).toMatchObject({ courseTitle: 'Chemistry' });
    expect((await districtClient.del(`courses/${courseId}`)).status).toBe(204);
    expect((await districtClient.del(`programs/${programId}`)).status).toBe(204);
  });

  it('reaches every ancestor, not only the parent: a school reads what its state agency owns', async () => {
    const courseId = await stateClient.create('courses', course(48, 'SEA-ENG'));
    expect((await schoolClient.get(`courses/${courseId}`)).status).toBe(200);
    expect((await districtClient.get(`courses/${courseId}`)).status).toBe(200);
  });

  it('fails closed: a client assigned no ed-org reads no ed-org-owned course', async () => {
    const courseId = await districtClient.create('courses', course(district, 'D-NONE'));
    expect((await unassigned.get(`courses/${courseId}`)).status).toBe(403);
    expect(await json(await unassigned.get('courses'))).toEqual([]);
  });

  it("reports a district course's delete to its schools in /deletes, and a school's to no sibling", async () => {
    const fromDistrict = await districtClient.create('courses', course(district, 'D-DEL'));
    const fromSchool = await schoolClient.create('courses', course(school, 'S-DEL'));
    expect((await districtClient.del(`courses/${fromDistrict}`)).status).toBe(204);
    expect((await schoolClient.del(`courses/${fromSchool}`)).status).toBe(204);
    const seenBySchool = ids(await json<Item[]>(await schoolClient.get('courses/deletes')));
    expect(seenBySchool).toEqual(expect.arrayContaining([fromDistrict, fromSchool]));
    const seenBySibling = ids(await json<Item[]>(await siblingClient.get('courses/deletes')));
    expect(seenBySibling).toContain(fromDistrict);
    expect(seenBySibling).not.toContain(fromSchool);
  });
});
