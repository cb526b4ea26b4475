import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { loadDocuments } from '../src/edfi/seed.js';
import { grandBend, startTestApp, texasGrandBend, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, courseOffering, enrolment, json, student, type ApiClient } from './edfi-helpers.js';
import { secretFor, sync } from './sis-helpers.js';

type Item = Record<string, unknown>;

/** The whole Data Standard as Meadowlark publishes it; kept beside the project, never in it. */
const fullStandard = resolve(fromRoot('..', 'shared', 'edfi', 'api-schema', 'DataStandard-5.0.0-pre.1.json'));
const haveFullStandard = existsSync(fullStandard);
if (!haveFullStandard) console.warn(`datastandard.test.ts: ${fullStandard} is absent, so the full Data Standard cases are skipped`);

const gradeLevel = (codeValue: string, namespace = 'uri://ed-fi.org/GradeLevelDescriptor') => ({ namespace, codeValue, shortDescription: codeValue });

describe.each(engines)('the embedded model on $name', (engine) => {
  let app: TestApp;
  let sis: ApiClient;
  let sandbox: ApiClient;

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
    sis = await apiClient(app, { edorgIds: [255901], namespacePrefixes: ['uri://ed-fi.org'] });
    sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
  });
  afterAll(() => app.stop());

  it('serves descriptors: a round trip through POST, GET, PUT and DELETE', async () => {
    const id = await sis.create('gradeLevelDescriptors', gradeLevel('Thirteenth grade'));
    const read = await json<Item>(await sis.get(`gradeLevelDescriptors/${id}`));
    expect(read).toMatchObject({ id, namespace: 'uri://ed-fi.org/GradeLevelDescriptor', codeValue: 'Thirteenth grade' });
    expect((await sis.put(`gradeLevelDescriptors/${id}`, { ...gradeLevel('Thirteenth grade'), shortDescription: 'Grade 13' })).status).toBe(204);
    expect(await json(await sis.get(`gradeLevelDescriptors/${id}`))).toMatchObject({ shortDescription: 'Grade 13' });
    const listed = await json<Item[]>(await sis.get('gradeLevelDescriptors?codeValue=Thirteenth%20grade'));
    expect(listed.map((d) => d.id)).toEqual([id]);
    expect((await sis.del(`gradeLevelDescriptors/${id}`)).status).toBe(204);
    expect((await sis.get(`gradeLevelDescriptors/${id}`)).status).toBe(404);
  });

  it('ships the descriptor values the embedded resources use', async () => {
    const values = await json<Item[]>(await sis.get('attendanceEventCategoryDescriptors?limit=100'));
    expect(values.map((v) => v.codeValue)).toEqual(expect.arrayContaining(['In Attendance', 'Tardy', 'Excused Absence', 'Unexcused Absence']));
  });

  it('refuses a descriptor write outside the client\'s namespaces with 403 namespace_not_permitted', async () => {
    const res = await sis.post('gradeLevelDescriptors', gradeLevel('Grade X', 'uri://other.org/GradeLevelDescriptor'));
    expect(res.status).toBe(403);
    const body = await json<Record<string, unknown>>(res);
    expect(body).toMatchObject({ error: 'namespace_not_permitted', detail: expect.stringContaining("does not start with any of the caller's associated namespace prefixes") });
    // The detail is the whole reason: no `errors`, as the ODS/API answers it.
    expect(body).not.toHaveProperty('errors');
  });

  /** The ODS/API's problem for a body it will not take, with exactly these `validationErrors`. */
  async function expectValidationErrors(res: Response, validationErrors: Record<string, string[]>): Promise<void> {
    expect(res.status).toBe(400);
    expect(await json(res)).toEqual(
      expect.objectContaining({
        type: 'urn:ed-fi:api:bad-request:data-validation-failed',
        detail: "Data validation failed. See 'validationErrors' for details.",
        error: 'data_validation_failed',
        validationErrors,
      }),
    );
  }

  it('refuses a document naming a descriptor value that does not exist with 400 data_validation_failed, keyed by its path', async () => {
    await sis.create('students', student('DS1'));
    const uri = 'uri://ed-fi.org/GradeLevelDescriptor#Grade Nine Hundred';
    const res = await sis.post('studentSchoolAssociations', { ...enrolment('DS1', 255901001), entryGradeLevelDescriptor: uri });
    await expectValidationErrors(res, { '$.entryGradeLevelDescriptor': [`GradeLevelDescriptor value '${uri}' does not exist.`] });
    expect(await json(await sis.get('studentSchoolAssociations?studentUniqueId=DS1'))).toEqual([]);
  });

  it('reports every unusable descriptor value at once, those in collections by item index, and a value with no # in the ODS/API words', async () => {
    const res = await sandbox.post('schools', {
      schoolId: 255901077,
      nameOfInstitution: 'Descriptor High',
      localEducationAgencyReference: { localEducationAgencyId: 255901 },
      educationOrganizationCategories: [{ educationOrganizationCategoryDescriptor: 'uri://ed-fi.org/EducationOrganizationCategoryDescriptor#School' }],
      gradeLevels: [{ gradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade' }, { gradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#XYZ' }],
      schoolTypeDescriptor: 'Regular',
    });
    await expectValidationErrors(res, {
      '$.gradeLevels[1].gradeLevelDescriptor': ["GradeLevelDescriptor value 'uri://ed-fi.org/GradeLevelDescriptor#XYZ' does not exist."],
      '$.schoolTypeDescriptor': ["SchoolTypeDescriptor value 'Regular' is not a valid value for use as a descriptor (a '#' is expected to delineate the namespace and code value portions)."],
    });
    expect(await json(await sandbox.get('schools?schoolId=255901077'))).toEqual([]);
  });

  it('names the descriptor resource, not the member, on a PUT (birthCountryDescriptor is a CountryDescriptor), and compares values case-insensitively', async () => {
    const id = await sandbox.create('students', student('DS4'));
    const res = await sandbox.put(`students/${id}`, {
      ...student('DS4'),
      birthCountryDescriptor: '00',
      birthSexDescriptor: 'URI://ED-FI.ORG/SEXDESCRIPTOR#FEMALE',
    });
    await expectValidationErrors(res, {
      '$.birthCountryDescriptor': ["CountryDescriptor value '00' is not a valid value for use as a descriptor (a '#' is expected to delineate the namespace and code value portions)."],
    });
    expect((await sandbox.put(`students/${id}`, { ...student('DS4'), birthSexDescriptor: 'URI://ED-FI.ORG/SEXDESCRIPTOR#FEMALE' })).status).toBe(204);
  });

  it("reports descriptor values with the schema's problems in one answer", async () => {
    const { lastSurname: _, ...nameless } = student('DS5');
    const res = await sis.post('students', { ...nameless, birthSexDescriptor: 'uri://ed-fi.org/SexDescriptor#Unicorn' });
    await expectValidationErrors(res, {
      '$.lastSurname': ['LastSurname is required.'],
      '$.birthSexDescriptor': ["SexDescriptor value 'uri://ed-fi.org/SexDescriptor#Unicorn' does not exist."],
    });
  });

  it('refuses a missing descriptor value on the write path itself too (a seed, or a value deleted since the route looked), as the same 400', async () => {
    const { db, model } = app.services;
    const uri = 'uri://ed-fi.org/SexDescriptor#Seeded Unicorn';
    await expect(loadDocuments(db, model, { students: [student('DS6', { birthSexDescriptor: uri })] })).rejects.toMatchObject({
      code: 'data_validation_failed',
      extra: { validationErrors: { '$.birthSexDescriptor': [`SexDescriptor value '${uri}' does not exist.`] } },
    });
  });

  it('keeps 409 unresolved_reference for a referenced item that does not exist; a missing descriptor beside it is the 400', async () => {
    const item = await sis.post('studentSchoolAssociations', enrolment('DS-NOBODY', 255901001));
    expect(item.status).toBe(409);
    expect(await json(item)).toMatchObject({ error: 'unresolved_reference', detail: "The referenced 'Student' item does not exist." });
    const both = await sis.post('studentSchoolAssociations', { ...enrolment('DS-NOBODY', 255901001), entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#None' });
    await expectValidationErrors(both, { '$.entryGradeLevelDescriptor': ["GradeLevelDescriptor value 'uri://ed-fi.org/GradeLevelDescriptor#None' does not exist."] });
  });

  it('refuses to delete a descriptor that a document uses with 409 dependent_item_exists', async () => {
    const id = await sandbox.create('gradeLevelDescriptors', gradeLevel('Grade Fourteen'));
    await sis.create('students', student('DS2'));
    await sis.create('studentSchoolAssociations', { ...enrolment('DS2', 255901001), entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Grade Fourteen' });
    const res = await sandbox.del(`gradeLevelDescriptors/${id}`);
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ error: 'dependent_item_exists' });
  });

  it('changes the identity of a StudentSchoolAssociation (allowIdentityUpdates) with PUT', async () => {
    await sis.create('students', student('DS3'));
    const id = await sis.create('studentSchoolAssociations', enrolment('DS3', 255901001, '2025-08-20'));
    expect((await sis.put(`studentSchoolAssociations/${id}`, enrolment('DS3', 255901001, '2025-09-01'))).status).toBe(204);
    expect(await json(await sis.get(`studentSchoolAssociations/${id}`))).toMatchObject({ entryDate: '2025-09-01' });
    // The old identity is free again, the new one taken.
    expect((await sis.post('studentSchoolAssociations', enrolment('DS3', 255901001, '2025-08-20'))).status).toBe(201);
    const conflict = await sis.put(`studentSchoolAssociations/${id}`, enrolment('DS3', 255901001, '2025-08-20'));
    expect(conflict.status).toBe(409);
    expect(await json(conflict)).toMatchObject({ error: 'identity_conflict' });
  });

  describe('SIS sync writes what the resource API accepts', () => {
    let secret: string;
    beforeAll(async () => {
      secret = await secretFor(app, 255901);
    });

    const record = (extra: Item = {}) => ({
      studentUniqueId: 'SISRT1',
      firstName: 'Ada',
      lastSurname: 'Lovelace',
      birthDate: '2010-12-10',
      schoolId: 255901001,
      entryDate: '2025-08-20',
      entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade',
      ...extra,
    });

    it('refuses a studentUniqueId the Student resource refuses ("AB 12")', async () => {
      const res = await sync(app, secret, { students: [record({ studentUniqueId: 'AB 12' })] });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_field', field: 'students[0].studentUniqueId' });
    });

    it('refuses an entryGradeLevelDescriptor that is not a descriptor URI, or names no existing descriptor', async () => {
      const plain = await sync(app, secret, { students: [record({ entryGradeLevelDescriptor: 'Ninth grade' })] });
      expect(plain.status).toBe(400);
      expect(await plain.json()).toMatchObject({ error: 'invalid_field', field: 'students[0].entryGradeLevelDescriptor' });
      const unknown = await sync(app, secret, { students: [record(), record({ studentUniqueId: 'SISRT2', entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Grade 99' })] });
      expect(unknown.status).toBe(400);
      expect(await unknown.json()).toMatchObject({ error: 'invalid_field', field: 'students[1].entryGradeLevelDescriptor' });
    });

    it('round-trips a SIS-written student and enrolment through GET and PUT unchanged', async () => {
      expect((await sync(app, secret, { students: [record()] })).status).toBe(200);
      for (const [resource, filter] of [
        ['students', 'studentUniqueId=SISRT1'],
        ['studentSchoolAssociations', 'studentUniqueId=SISRT1'],
      ]) {
        const [item] = await json<Item[]>(await sis.get(`${resource}?${filter}`));
        expect(item).toBeDefined();
        const put = await sis.put(`${resource}/${item.id}`, item);
        expect(put.status).toBe(204);
        expect(put.headers.get('etag')).toBe(`"${item._etag}"`);
        expect(await json(await sis.get(`${resource}/${item.id}`))).toEqual(item);
      }
    });
  });
});

describe.skipIf(!haveFullStandard).each(engines)('the whole Data Standard 5.0 (EDFI_API_SCHEMA) on $name', (engine) => {
  let app: TestApp;
  let sandbox: ApiClient;
  let district: ApiClient;
  let outsider: ApiClient;
  let bootstrap: ApiClient;

  beforeAll(async () => {
    app = await startTestApp(engine, { EDFI_API_SCHEMA: fullStandard });
    await app.edorgs(...texasGrandBend);
    await app.edorgs({ id: 999, type: 'lea', name: 'Other ISD', parentId: 48 }, { id: 999001, type: 'school', name: 'Other High', parentId: 999 });
    sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    district = await apiClient(app, { edorgIds: [255901], namespacePrefixes: ['uri://ed-fi.org'] });
    outsider = await apiClient(app, { edorgIds: [999] });
    bootstrap = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [48] });
  }, 60_000);
  afterAll(() => app.stop());

  it('serves resources and descriptors that were never hand-declared', async () => {
    for (const path of ['termDescriptors', 'sections', 'courses', 'calendars', 'grades', 'programs', 'studentSectionAssociations']) {
      expect((await sandbox.get(path)).status, path).toBe(200);
    }
    const id = await sandbox.create('termDescriptors', { namespace: 'uri://ed-fi.org/TermDescriptor', codeValue: 'Winter Intersession', shortDescription: 'Winter Intersession' });
    expect(await json(await sandbox.get(`termDescriptors/${id}`))).toMatchObject({ codeValue: 'Winter Intersession' });
  });

  it('reads times and timestamps without an offset, and member names in any case, as the ODS/API does', async () => {
    const period = { classPeriodName: 'First', schoolReference: { schoolId: 255901001 }, meetingTimes: [{ startTime: '08:00:00', endTime: '08:50:00' }] };
    expect((await sandbox.post('classPeriods', period)).status).toBe(201);
    const bell = {
      bellScheduleName: 'Regular day',
      schoolReference: { schoolId: 255901001 },
      startTime: '08:00:00',
      endTime: '15:30:00',
      classPeriods: [{ classPeriodReference: { classPeriodName: 'First', schoolId: 255901001 } }],
    };
    const created = await sandbox.post('bellSchedules', bell);
    expect(created.status, await created.clone().text()).toBe(201);
    expect((await sandbox.post('bellSchedules', { ...bell, bellScheduleName: 'Late start', startTime: '8 am' })).status).toBe(400);
    const withOffset = await sandbox.post('bellSchedules', { ...bell, bellScheduleName: 'Zoned', startTime: '08:00:00Z' });
    expect(withOffset.status).toBe(201);
    await sandbox.create('students', { StudentUniqueId: 'CASE1', FirstName: 'Ada', LastSurname: 'Byron', BirthDate: '2010-12-10' });
    const [read] = await json<Item[]>(await sandbox.get('students?studentUniqueId=CASE1'));
    expect(read).toMatchObject({ studentUniqueId: 'CASE1', firstName: 'Ada', lastSurname: 'Byron', birthDate: '2010-12-10' });
  });

  it('reports an incomplete reference whole, a missing member and an empty date in the ODS/API\'s words', async () => {
    const bell = {
      schoolReference: { schoolId: 255901001 },
      bellScheduleName: 'Half day',
      startTime: '08:00:00',
      endTime: '12:00:00',
      classPeriods: [{ classPeriodReference: { schoolId: 255901001, classPeriodName: 'First' } }, { classPeriodReference: { schoolId: 255901001, periodNameX: 'Second' } }],
    };
    const partial = await sandbox.post('bellSchedules', bell);
    expect(partial.status).toBe(400);
    expect((await json<{ validationErrors: unknown }>(partial)).validationErrors).toEqual({
      '$.classPeriods[1].classPeriodReference': ['ClassPeriodReference is missing the following properties: ClassPeriodName'],
    });
    const week = { weekIdentifier: 'Week one', schoolReference: { schoolId: 255901001 }, beginDate: '', endDate: '2020-02-27', totalInstructionalDays: 5 };
    const refused = await sandbox.post('academicWeeks', week);
    expect(refused.status).toBe(400);
    expect((await json<{ validationErrors: unknown }>(refused)).validationErrors).toEqual({ '$.beginDate': ['The supplied value is invalid.'] });
    const missing = await sandbox.post('academicWeeks', { ...week, weekIdentifier: undefined, beginDate: '2020-02-20' });
    expect((await json<{ validationErrors: unknown }>(missing)).validationErrors).toEqual({ '$.weekIdentifier': ['WeekIdentifier is required.'] });
  });

  it('words a length with a real minimum as between its bounds, and one whose minimum only forbids empty as at most', async () => {
    const address = { addressTypeDescriptor: 'uri://ed-fi.org/AddressTypeDescriptor#Home', city: 'X', postalCode: '78834', stateAbbreviationDescriptor: 'uri://ed-fi.org/StateAbbreviationDescriptor#TX', streetNumberName: 'y'.repeat(151) };
    const res = await sandbox.post('studentEducationOrganizationAssociations', { studentReference: { studentUniqueId: 'W-LEN' }, educationOrganizationReference: { educationOrganizationId: 255901 }, addresses: [address] });
    expect(res.status).toBe(400);
    // (This model's environment lacks the descriptors too; those problems come beside these.)
    expect((await json<{ validationErrors: unknown }>(res)).validationErrors).toMatchObject({
      '$.addresses[0].city': ['City must be between 2 and 30 characters in length.'],
      '$.addresses[0].streetNumberName': ['StreetNumberName must be at most 150 characters in length.'],
    });
  });

  it('refuses collection items with the same identifying values as an earlier one, in the ODS/API\'s words, at any depth', async () => {
    const categories = (...names: string[]) => names.map((name) => ({ educationOrganizationCategoryDescriptor: `uri://ed-fi.org/EducationOrganizationCategoryDescriptor#${name}` }));
    const grades = (...names: string[]) => names.map((name) => ({ gradeLevelDescriptor: `uri://ed-fi.org/GradeLevelDescriptor#${name}` }));
    const school = { schoolId: 255901901, nameOfInstitution: 'Duplicate High', localEducationAgencyReference: { localEducationAgencyId: 255901 } };
    const refused = await sandbox.post('schools', { ...school, educationOrganizationCategories: categories('School', 'school'), gradeLevels: grades('Ninth grade', 'Tenth grade', 'Ninth grade') });
    expect(refused.status).toBe(400);
    expect((await json<{ validationErrors: unknown }>(refused)).validationErrors).toEqual({
      '$.educationOrganizationCategories': ['The 2nd item of the EducationOrganizationCategories has the same identifying values as another item earlier in the list.'],
      '$.gradeLevels': ['The 3rd item of the SchoolGradeLevels has the same identifying values as another item earlier in the list.'],
    });
    const period = { beginDate: '2020-02-20', endDate: '2020-03-20' };
    const address = { addressTypeDescriptor: 'uri://ed-fi.org/AddressTypeDescriptor#Home', city: 'Grand Bend', postalCode: '78834', stateAbbreviationDescriptor: 'uri://ed-fi.org/StateAbbreviationDescriptor#TX', streetNumberName: '980 Green Blvd' };
    const nested = await sandbox.post('studentEducationOrganizationAssociations', {
      studentReference: { studentUniqueId: 'W-DUP' },
      educationOrganizationReference: { educationOrganizationId: 255901 },
      addresses: [{ ...address, periods: [period, period] }],
    });
    expect(nested.status).toBe(400);
    expect((await json<{ validationErrors: Record<string, string[]> }>(nested)).validationErrors['$.addresses[0].periods']).toEqual([
      'The 2nd item of the StudentEducationOrganizationAssociationAddressPeriods has the same identifying values as another item earlier in the list.',
    ]);
    expect((await sandbox.post('schools', { ...school, educationOrganizationCategories: categories('School'), gradeLevels: grades('Ninth grade', 'Tenth grade') })).status).toBe(201);
  });

  it('filters a member two references share by its owner, and the other by its ODS/API role name', async () => {
    expect((await sandbox.post('programTypeDescriptors', { namespace: 'uri://ed-fi.org/ProgramTypeDescriptor', codeValue: 'Other', shortDescription: 'Other' })).ok).toBe(true);
    const program = { educationOrganizationReference: { educationOrganizationId: 255901 }, programName: 'Chess', programTypeDescriptor: 'uri://ed-fi.org/ProgramTypeDescriptor#Other' };
    await district.create('programs', program);
    await district.create('students', student('SPA1'));
    await district.create('studentSchoolAssociations', enrolment('SPA1', 255901001));
    const id = await district.create('studentProgramAssociations', {
      studentReference: { studentUniqueId: 'SPA1' },
      educationOrganizationReference: { educationOrganizationId: 255901001 },
      programReference: { educationOrganizationId: 255901, programName: 'Chess', programTypeDescriptor: program.programTypeDescriptor },
      beginDate: '2025-09-01',
    });
    const found = async (query: string) => (await json<Item[]>(await district.get(`studentProgramAssociations?programName=Chess&${query}`))).map((item) => item.id);
    // The association's own ed-org is educationOrganizationId; its program's is programEducationOrganizationId.
    expect(await found('educationOrganizationId=255901001')).toEqual([id]);
    expect(await found('educationOrganizationId=255901')).toEqual([]);
    expect(await found('programEducationOrganizationId=255901')).toEqual([id]);
    expect(await found('programEducationOrganizationId=255901001')).toEqual([]);
  });

  it('reads a timestamp given as a date alone as that day\'s midnight, as the ODS/API does', async () => {
    // Shipped with the model's descriptors already: 200 (there) or 201 (added).
    expect((await sandbox.post('academicSubjectDescriptors', { namespace: 'uri://ed-fi.org/AcademicSubjectDescriptor', codeValue: 'Reading', shortDescription: 'Reading' })).ok).toBe(true);
    const assessment = {
      assessmentIdentifier: 'DATE-ONLY',
      namespace: 'uri://ed-fi.org/Assessment',
      assessmentTitle: 'Date only',
      academicSubjects: [{ academicSubjectDescriptor: 'uri://ed-fi.org/AcademicSubjectDescriptor#Reading' }],
    };
    await sandbox.create('assessments', assessment);
    await sandbox.create('students', student('DATE1'));
    const taken = (administrationDate: string) => ({
      studentAssessmentIdentifier: `SA-${administrationDate}`,
      studentReference: { studentUniqueId: 'DATE1' },
      assessmentReference: { assessmentIdentifier: 'DATE-ONLY', namespace: 'uri://ed-fi.org/Assessment' },
      administrationDate,
    });
    expect((await sandbox.post('studentAssessments', taken('2021-09-28'))).status).toBe(201);
    expect((await sandbox.post('studentAssessments', taken('2021-09-28T15:00:00'))).status).toBe(201);
    const refused = await sandbox.post('studentAssessments', taken('2021-09-28T'));
    expect(refused.status).toBe(400);
    expect(await json(refused)).toMatchObject({ validationErrors: { '$.administrationDate': [expect.stringContaining('date-time')] } });
  });

  it('cascades a key change into the items that reference the old identity, as the ODS/API\'s cascading keys do', async () => {
    const period = (classPeriodName: string) => ({ classPeriodName, schoolReference: { schoolId: 255901001 }, meetingTimes: [{ startTime: '08:35:00', endTime: '09:25:00' }] });
    const periodId = await sandbox.create('classPeriods', period('CASCADING ORIGINAL'));
    await sandbox.create('classPeriods', period('CASCADING OTHER'));
    const bellId = await sandbox.create('bellSchedules', {
      bellScheduleName: 'Cascading',
      schoolReference: { schoolId: 255901001 },
      startTime: '08:15:00',
      endTime: '16:00:00',
      classPeriods: [{ classPeriodReference: { classPeriodName: 'CASCADING OTHER', schoolId: 255901001 } }, { classPeriodReference: { classPeriodName: 'CASCADING ORIGINAL', schoolId: 255901001 } }],
    });
    const before = await json<Item>(await sandbox.get(`bellSchedules/${bellId}`));
    const since = (await json<{ newestChangeVersion: number }>(await sandbox.get('/changeQueries/v1/availableChangeVersions'))).newestChangeVersion + 1;
    await new Promise((resolve) => setTimeout(resolve, 5));

    expect((await sandbox.put(`classPeriods/${periodId}`, period('CASCADING MODIFIED'))).status).toBe(204);
    const after = await json<Item & { classPeriods: Array<{ classPeriodReference: Item }> }>(await sandbox.get(`bellSchedules/${bellId}`));
    // Only the reference to the changed item moves; the other stays, and both still link to a class period.
    expect(after.classPeriods.map((p) => p.classPeriodReference.classPeriodName)).toEqual(['CASCADING OTHER', 'CASCADING MODIFIED']);
    expect(after.classPeriods[1].classPeriodReference.link).toMatchObject({ rel: 'ClassPeriod', href: `/ed-fi/classPeriods/${periodId}` });
    expect(after._lastModifiedDate).not.toBe(before._lastModifiedDate);
    expect(after._etag).not.toBe(before._etag);
    // The class period's key change is reported; the bell schedule's identity did not change, so it has none.
    const changes = await json<Item[]>(await sandbox.get(`classPeriods/keyChanges?minChangeVersion=${since}`));
    expect(changes).toEqual([expect.objectContaining({ id: periodId, oldKeyValues: { classPeriodName: 'CASCADING ORIGINAL', schoolId: 255901001 }, newKeyValues: { classPeriodName: 'CASCADING MODIFIED', schoolId: 255901001 } })]);
    expect(await json(await sandbox.get(`bellSchedules/keyChanges?minChangeVersion=${since}`))).toEqual([]);
    // The bell schedule changed in the same window, so an incremental reader copies it again.
    expect((await json<Item[]>(await sandbox.get(`bellSchedules?minChangeVersion=${since}`))).map((b) => b.id)).toEqual([bellId]);
    // The old identity is free: nothing references it any more, so it can be created and deleted again.
    const again = await sandbox.create('classPeriods', period('CASCADING ORIGINAL'));
    expect((await sandbox.del(`classPeriods/${again}`)).status).toBe(204);
    // The changed item is still referenced under its new name, so it cannot be deleted.
    expect((await sandbox.del(`classPeriods/${periodId}`)).status).toBe(409);
  });

  it('lets ODS Sandbox write descriptor mappings and gradebook entries only in its namespaces, as the ODS/API\'s sandbox does', async () => {
    const odsSandbox = await apiClient(app, { claimSet: 'ODS Sandbox', edorgIds: [255901], namespacePrefixes: ['uri://ed-fi.org'] });
    const mapping = (namespace: string) => ({ value: 'Ninth', namespace, mappedValue: 'Ninth grade', mappedNamespace: 'uri://ed-fi.org/GradeLevelDescriptor' });
    const refused = await odsSandbox.post('descriptorMappings', mapping('uri://other.org/GradeLevelDescriptor'));
    expect(refused.status).toBe(403);
    expect(await json(refused)).toMatchObject({ error: 'namespace_not_permitted' });
    expect((await odsSandbox.post('descriptorMappings', mapping('uri://ed-fi.org/SisGradeLevelDescriptor'))).status).toBe(201);
    const listed = await json<Item[]>(await odsSandbox.get('descriptorMappings'));
    expect(listed.map((item) => item.namespace)).toEqual(['uri://ed-fi.org/SisGradeLevelDescriptor']);
  });

  it('secures an item by a namespace outside its identity (EducationContent), in lists and in /deletes', async () => {
    const mine = await apiClient(app, { claimSet: 'ODS Sandbox', edorgIds: [255901], namespacePrefixes: ['uri://ed-fi.org'] });
    const theirs = await apiClient(app, { claimSet: 'ODS Sandbox', edorgIds: [255901], namespacePrefixes: ['uri://other.org'] });
    const content = (contentIdentifier: string, namespace: string) => ({ contentIdentifier, namespace, learningResourceMetadataURI: 'http://example.org', shortDescription: contentIdentifier });
    const since = (await json<{ newestChangeVersion: number }>(await mine.get('/changeQueries/v1/availableChangeVersions'))).newestChangeVersion + 1;
    const ours = await mine.create('educationContents', content('NS-MINE', 'uri://ed-fi.org/Content'));
    const other = await theirs.create('educationContents', content('NS-THEIRS', 'uri://other.org/Content'));
    expect(await json(await mine.post('educationContents', content('NS-WRONG', 'uri://other.org/Content')))).toMatchObject({ error: 'namespace_not_permitted' });
    expect((await json<Item[]>(await mine.get(`educationContents?minChangeVersion=${since}`))).map((c) => c.id)).toEqual([ours]);
    expect((await mine.get(`educationContents/${other}`)).status).toBe(403);
    expect((await mine.del(`educationContents/${ours}`)).status).toBe(204);
    expect((await theirs.del(`educationContents/${other}`)).status).toBe(204);
    expect((await json<Item[]>(await mine.get(`educationContents/deletes?minChangeVersion=${since}`))).map((d) => d.id)).toEqual([ours]);
    expect((await json<Item[]>(await theirs.get(`educationContents/deletes?minChangeVersion=${since}`))).map((d) => d.id)).toEqual([other]);
  });

  it('seeds the demo district in the model\'s shape: sessions first, and attendance events that name theirs', async () => {
    const seeded = await app.cli('db', 'seed', '--json');
    expect(seeded.code, seeded.stderr).toBe(0);
    expect(JSON.parse(seeded.stdout).roster).toMatchObject({ sessions: { created: 3 }, studentSchoolAttendanceEvents: { created: 18 } });
    const [event] = await json<Item[]>(await sandbox.get('studentSchoolAttendanceEvents?limit=1'));
    expect(event).toMatchObject({ sessionReference: { schoolYear: 2026, sessionName: '2025-2026 Fall Semester' } });
    expect((await app.cli('db', 'seed', '--json')).code).toBe(0);
  });

  it('orders every resource after what it references in /metadata/dependencies', async () => {
    const order = await json<Array<{ resource: string; order: number }>>(await app.fetch('/metadata/dependencies'));
    expect(order).toHaveLength(316);
    const rank = new Map(order.map((o) => [o.resource, o.order]));
    expect(rank.get('/ed-fi/schools')!).toBeLessThan(rank.get('/ed-fi/sessions')!);
    expect(rank.get('/ed-fi/sessions')!).toBeLessThan(rank.get('/ed-fi/courseOfferings')!);
    expect(rank.get('/ed-fi/sections')!).toBeLessThan(rank.get('/ed-fi/studentSectionAssociations')!);
    expect(rank.get('/ed-fi/gradeLevelDescriptors')!).toBeLessThan(rank.get('/ed-fi/schools')!);
  });

  it('refuses a namespace outside the client\'s prefixes on a descriptor write', async () => {
    const res = await district.post('termDescriptors', { namespace: 'uri://elsewhere.org/TermDescriptor', codeValue: 'Winter', shortDescription: 'Winter' });
    expect(res.status).toBe(403);
    expect(await json(res)).toMatchObject({ error: 'namespace_not_permitted' });
  });

  it('builds the ed-org tree from subclass writes: a new LEA and school are in reach at once', async () => {
    const category = (c: string) => [{ educationOrganizationCategoryDescriptor: `uri://ed-fi.org/EducationOrganizationCategoryDescriptor#${c}` }];
    expect(
      (
        await bootstrap.post('localEducationAgencies', {
          localEducationAgencyId: 4801,
          nameOfInstitution: 'New ISD',
          localEducationAgencyCategoryDescriptor: 'uri://ed-fi.org/LocalEducationAgencyCategoryDescriptor#Independent',
          categories: category('Local Education Agency'),
          stateEducationAgencyReference: { stateEducationAgencyId: 48 },
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await bootstrap.post('schools', {
          schoolId: 4801001,
          nameOfInstitution: 'New High',
          localEducationAgencyReference: { localEducationAgencyId: 4801 },
          educationOrganizationCategories: category('School'),
          gradeLevels: [{ gradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade' }],
        })
      ).status,
    ).toBe(201);
    const rows = await app.services.db('edorg_closure').where({ descendant_id: 4801001 }).orderBy('depth').select('ancestor_id');
    expect(rows.map((r: { ancestor_id: number | string }) => Number(r.ancestor_id))).toEqual([4801001, 4801, 48]);
    // An unknown parent is a missing reference.
    const orphan = await sandbox.post('schools', {
      schoolId: 4801002,
      nameOfInstitution: 'Orphan High',
      localEducationAgencyReference: { localEducationAgencyId: 4802 },
      educationOrganizationCategories: category('School'),
      gradeLevels: [{ gradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade' }],
    });
    expect(orphan.status).toBe(409);
    expect(await json(orphan)).toMatchObject({ error: 'unresolved_reference' });
  });

  it('reads a studentSectionAssociation by relationship through its section\'s school', async () => {
    const session = { schoolId: 255901001, schoolYear: 2026, sessionName: '2025-2026 Fall' };
    await courseOffering(sandbox, session, 'ALG-1', 'ALG-1-A');
    const missing = await sandbox.post('sections', { sectionIdentifier: 'S0', courseOfferingReference: { localCourseCode: 'NOPE', ...session } });
    expect(missing.status).toBe(409);
    await sandbox.create('sections', { sectionIdentifier: 'ALG-1-A-1', courseOfferingReference: { localCourseCode: 'ALG-1-A', ...session } });
    await sandbox.create('students', { studentUniqueId: 'SEC1', firstName: 'Ada', lastSurname: 'Lovelace', birthDate: '2010-12-10' });
    const id = await sandbox.create('studentSectionAssociations', {
      studentReference: { studentUniqueId: 'SEC1' },
      sectionReference: { localCourseCode: 'ALG-1-A', sectionIdentifier: 'ALG-1-A-1', ...session },
      beginDate: '2025-08-20',
    });
    expect((await district.get(`studentSectionAssociations/${id}`)).status).toBe(200);
    expect((await json<Item[]>(await district.get('studentSectionAssociations'))).map((i) => i.id)).toEqual([id]);
    expect((await outsider.get(`studentSectionAssociations/${id}`)).status).toBe(403);
    expect(await json(await outsider.get('studentSectionAssociations'))).toEqual([]);
    // The section cannot go while the association names it.
    const [section] = await json<Item[]>(await sandbox.get('sections?sectionIdentifier=ALG-1-A-1'));
    expect((await sandbox.del(`sections/${section.id}`)).status).toBe(409);
  });

  it('keeps the attendance projection for the Data Standard\'s StudentSchoolAttendanceEvent (with a session)', async () => {
    await sandbox.create('students', { studentUniqueId: 'ATT1', firstName: 'Ada', lastSurname: 'Lovelace', birthDate: '2010-12-10' });
    const session = { schoolId: 255901001, schoolYear: 2026, sessionName: '2025-2026 Fall' };
    for (const [eventDate, category] of [
      ['2025-09-01', 'In Attendance'],
      ['2025-09-02', 'Tardy'],
    ]) {
      await sandbox.create('studentSchoolAttendanceEvents', {
        studentReference: { studentUniqueId: 'ATT1' },
        schoolReference: { schoolId: 255901001 },
        sessionReference: session,
        eventDate,
        attendanceEventCategoryDescriptor: `uri://ed-fi.org/AttendanceEventCategoryDescriptor#${category}`,
      });
    }
    const rows = await app.services.db('attendance_events').where({ student_unique_id: 'ATT1' }).orderBy('event_date').select('event_date', 'school_id');
    expect(rows.map((r: { event_date: string }) => r.event_date)).toEqual(['2025-09-01', '2025-09-02']);
  });
});
