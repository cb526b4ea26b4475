import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, assessment, assignment, attendance, contact, contactLink, enrolment, json, staffMember, student, type ApiClient } from './edfi-helpers.js';

type Item = Record<string, unknown>;

const ids = (items: Item[], member: string) => items.map((i) => i[member]);

const newSchool = (schoolId: number, leaId: number, name = 'Grand Bend Academy') => ({
  schoolId,
  nameOfInstitution: name,
  localEducationAgencyReference: { localEducationAgencyId: leaId },
  educationOrganizationCategories: [{ educationOrganizationCategoryDescriptor: 'uri://ed-fi.org/EducationOrganizationCategoryDescriptor#School' }],
  gradeLevels: [{ gradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade' }],
});

describe.each(engines)('Ed-Fi relationship, ownership and claim-set authorisation on $name', (engine) => {
  let app: TestApp;
  let grand: ApiClient;
  let other: ApiClient;
  let highOnly: ApiClient;
  let sandbox: ApiClient;
  const made: Record<string, string> = {};

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(
      { id: 48, type: 'sea', name: 'Texas Education Agency' },
      { ...grandBend[0], parentId: 48 },
      ...grandBend.slice(1),
      { id: 999, type: 'lea', name: 'Other ISD', parentId: 48 },
      { id: 999001, type: 'school', name: 'Other High', parentId: 999 },
    );
    grand = await apiClient(app, { edorgIds: [255901] });
    other = await apiClient(app, { edorgIds: [999] });
    highOnly = await apiClient(app, { edorgIds: [255901001] });
    sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });

    made.gbStudent = await grand.create('students', student('GB1'));
    made.gbEnrolment = await grand.create('studentSchoolAssociations', enrolment('GB1', 255901044));
    made.otStudent = await other.create('students', student('OT1'));
    made.otEnrolment = await other.create('studentSchoolAssociations', enrolment('OT1', 999001));
    made.gbStaff = await grand.create('staffs', staffMember('STGB'));
    made.gbAssignment = await grand.create('staffEducationOrganizationAssignmentAssociations', assignment('STGB', 255901));
    made.otStaff = await other.create('staffs', staffMember('STOT'));
    made.otAssignment = await other.create('staffEducationOrganizationAssignmentAssociations', assignment('STOT', 999001));
    made.gbContact = await grand.create('contacts', contact('CGB'));
    made.gbContactLink = await grand.create('studentContactAssociations', contactLink('GB1', 'CGB'));
    made.otContact = await other.create('contacts', contact('COT'));
    made.otContactLink = await other.create('studentContactAssociations', contactLink('OT1', 'COT'));
  });
  afterAll(() => app.stop());

  it('keeps two districts apart: neither lists nor reads the other district\'s students, staff or contacts', async () => {
    const cases: Array<[string, string, string, string]> = [
      ['students', 'studentUniqueId', 'GB1', 'OT1'],
      ['staffs', 'staffUniqueId', 'STGB', 'STOT'],
      ['contacts', 'contactUniqueId', 'CGB', 'COT'],
    ];
    for (const [resource, member, mine, theirs] of cases) {
      expect(ids(await json<Item[]>(await grand.get(`${resource}?limit=500`)), member), resource).toEqual([mine]);
      expect(ids(await json<Item[]>(await other.get(`${resource}?limit=500`)), member), resource).toEqual([theirs]);
    }
    for (const [key, id] of Object.entries({ students: made.otStudent, staffs: made.otStaff, contacts: made.otContact, studentSchoolAssociations: made.otEnrolment, staffEducationOrganizationAssignmentAssociations: made.otAssignment, studentContactAssociations: made.otContactLink })) {
      const res = await grand.get(`${key}/${id}`);
      expect(res.status, key).toBe(403);
      expect((await json(res)).error, key).toBe('authorization_denied');
    }
    expect(await json<Item[]>(await grand.get('studentSchoolAssociations?schoolId=999001'))).toEqual([]);
    expect(await json<Item[]>(await grand.get('studentContactAssociations?studentUniqueId=OT1'))).toEqual([]);
  });

  it('says which relationship is missing, in the ODS/API\'s words', async () => {
    const reason = async (res: Response) => {
      expect(res.status).toBe(403);
      return ((await json(res)).errors as string[])[0];
    };
    const claim = "No relationships have been established between the caller's education organization id claim (255901)";
    expect(await reason(await grand.get(`students/${made.otStudent}`))).toBe(`${claim} and the resource item's 'StudentUniqueId' value.`);
    expect(await reason(await grand.get(`studentSchoolAssociations/${made.otEnrolment}`))).toBe(`${claim} and the resource item's 'SchoolId' value.`);
    expect(await reason(await grand.post('studentSchoolAssociations', enrolment('GB1', 999001)))).toBe(`${claim} and the resource item's 'SchoolId' value.`);
  });

  it('counts only items in reach in Total-Count', async () => {
    const res = await grand.get('students?totalCount=true');
    expect(res.headers.get('total-count')).toBe('1');
    expect((await sandbox.get('students?totalCount=true')).headers.get('total-count')).toBe('2');
  });

  it('refuses updates and deletes of another district\'s items with 403, and leaves them intact', async () => {
    expect((await grand.put(`students/${made.otStudent}`, student('OT1', { firstName: 'Hijacked' }))).status).toBe(403);
    expect((await grand.del(`studentSchoolAssociations/${made.otEnrolment}`)).status).toBe(403);
    expect((await grand.post('students', student('OT1', { firstName: 'Hijacked' }))).status).toBe(403);
    expect(await json(await other.get(`students/${made.otStudent}`))).toMatchObject({ firstName: 'Ada' });
  });

  it('refuses associations and events that point at a school or ed-org outside reach', async () => {
    for (const [resource, body] of [
      ['studentSchoolAssociations', enrolment('GB1', 999001)],
      ['studentSchoolAttendanceEvents', attendance('GB1', 999001, '2025-09-01')],
      ['staffEducationOrganizationAssignmentAssociations', assignment('STGB', 999)],
      ['studentContactAssociations', contactLink('OT1', 'CGB')],
    ] as const) {
      const res = await grand.post(resource, body);
      expect(res.status, resource).toBe(403);
      expect((await json(res)).error, resource).toBe('authorization_denied');
    }
  });

  it('reaches staff assigned at the LEA only from clients whose reach includes the LEA', async () => {
    expect(ids(await json<Item[]>(await highOnly.get('staffs')), 'staffUniqueId')).toEqual([]);
    expect((await highOnly.get(`staffs/${made.gbStaff}`)).status).toBe(403);
    const teacher = await highOnly.create('staffs', staffMember('STHIGH'));
    await highOnly.create('staffEducationOrganizationAssignmentAssociations', assignment('STHIGH', 255901001));
    expect(ids(await json<Item[]>(await highOnly.get('staffs')), 'staffUniqueId')).toEqual(['STHIGH']);
    expect((await grand.get(`staffs/${teacher}`)).status).toBe(200);
  });

  it('scopes school-level items to X-Claim-Schools: a client for one school does not see its district siblings', async () => {
    expect(await json<Item[]>(await highOnly.get('students'))).toEqual([]);
    expect((await highOnly.get(`studentSchoolAssociations/${made.gbEnrolment}`)).status).toBe(403);
  });

  it('never lets a client-supplied X-Claim-Schools header widen access', async () => {
    const res = await other.get('students?limit=500', { 'x-claim-schools': '255901001,255901044,255901107' });
    expect(ids(await json<Item[]>(res), 'studentUniqueId')).toEqual(['OT1']);
    expect((await other.get(`students/${made.gbStudent}`, { 'x-claim-schools': '255901044' })).status).toBe(403);
  });

  it('hides a contact until a StudentContactAssociation links it to a student in reach, with a hint', async () => {
    const id = await grand.create('contacts', contact('CLONE'));
    const denied = await grand.get(`contacts/${id}`);
    expect(denied.status).toBe(403);
    expect(String((await json(denied)).detail)).toContain('StudentContactAssociation');
    await grand.create('studentContactAssociations', contactLink('GB1', 'CLONE'));
    expect((await grand.get(`contacts/${id}`)).status).toBe(200);
  });

  it('loses reach when the association that gave it is deleted', async () => {
    const studentId = await grand.create('students', student('GONE1'));
    const link = await grand.create('studentSchoolAssociations', enrolment('GONE1', 255901107));
    expect((await grand.get(`students/${studentId}`)).status).toBe(200);
    expect((await grand.del(`studentSchoolAssociations/${link}`)).status).toBe(204);
    expect((await grand.get(`students/${studentId}`)).status).toBe(403);
  });

  it('keeps the attendance_events projection in step with every attendance write and delete', async () => {
    const event = { ...attendance('GB1', 255901044, '2025-09-02', 'Tardy'), attendanceEventReason: 'Bus late' };
    const id = await grand.create('studentSchoolAttendanceEvents', event);
    const row = () => app.services.db('attendance_events').where({ document_id: id }).first('school_id', 'student_unique_id', 'event_date', 'category');
    expect(await row()).toMatchObject({ school_id: 255901044, student_unique_id: 'GB1', event_date: '2025-09-02', category: 'uri://ed-fi.org/AttendanceEventCategoryDescriptor#Tardy' });
    expect((await grand.put(`studentSchoolAttendanceEvents/${id}`, { ...event, attendanceEventReason: 'Traffic' })).status).toBe(204);
    expect(await row()).toMatchObject({ event_date: '2025-09-02' });
    expect(ids(await json<Item[]>(await grand.get('studentSchoolAttendanceEvents')), 'attendanceEventReason')).toEqual(['Traffic']);
    expect(await json(await other.get('studentSchoolAttendanceEvents'))).toEqual([]);
    expect((await grand.del(`studentSchoolAttendanceEvents/${id}`)).status).toBe(204);
    expect(await row()).toBeUndefined();
  });

  describe('assessments: ownership and namespaces', () => {
    let owner: ApiClient;
    let neighbour: ApiClient;
    let assessmentId: string;

    beforeAll(async () => {
      owner = await apiClient(app, { edorgIds: [255901], namespacePrefixes: ['uri://gb.example'] });
      neighbour = await apiClient(app, { edorgIds: [255901], namespacePrefixes: ['uri://gb.example', 'uri://neighbour.example'] });
      assessmentId = await owner.create('assessments', assessment('MATH-1', 'uri://gb.example/assessments'));
    });

    it('refuses a namespace outside the client\'s prefixes with 403 namespace_not_permitted', async () => {
      const res = await owner.post('assessments', assessment('MATH-2', 'uri://neighbour.example/assessments'));
      expect(res.status).toBe(403);
      const problem = await json(res);
      expect(problem).toMatchObject({ error: 'namespace_not_permitted', type: 'urn:ed-fi:api:security:authorization:namespace:access-denied:namespace-mismatch' });
      expect(String(problem.detail)).toContain('uri://gb.example');
      expect((await grand.post('assessments', assessment('MATH-3', 'uri://gb.example/x'))).status).toBe(403);
    });

    it('lets only the creating client read, update and delete what it owns', async () => {
      expect((await owner.get(`assessments/${assessmentId}`)).status).toBe(200);
      expect(ids(await json<Item[]>(await owner.get('assessments')), 'assessmentIdentifier')).toEqual(['MATH-1']);
      expect(await json(await neighbour.get('assessments'))).toEqual([]);
      for (const res of [
        await neighbour.get(`assessments/${assessmentId}`),
        await neighbour.put(`assessments/${assessmentId}`, { ...assessment('MATH-1', 'uri://gb.example/assessments'), assessmentTitle: 'Taken' }),
        await neighbour.post('assessments', { ...assessment('MATH-1', 'uri://gb.example/assessments'), assessmentTitle: 'Taken' }),
        await neighbour.del(`assessments/${assessmentId}`),
      ]) {
        expect(res.status).toBe(403);
        expect((await json(res)).error).toBe('ownership_mismatch');
      }
      expect(await json(await owner.get(`assessments/${assessmentId}`))).toMatchObject({ assessmentTitle: 'Assessment MATH-1' });
      expect((await sandbox.get(`assessments/${assessmentId}`)).status).toBe(200);
      expect((await owner.put(`assessments/${assessmentId}`, { ...assessment('MATH-1', 'uri://gb.example/assessments'), maxRawScore: 50 })).status).toBe(204);
    });
  });

  describe('education organisations: Bootstrap versus SIS Vendor', () => {
    let bootstrap: ApiClient;

    beforeAll(async () => {
      bootstrap = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [255901] });
    });

    it('serves ed-orgs created by the admin CLI as LEAs and schools, readable by every claim set', async () => {
      const schools = await json<Item[]>(await grand.get('schools?limit=500'));
      expect(ids(schools, 'schoolId')).toEqual(expect.arrayContaining([255901001, 255901044, 255901107, 999001]));
      expect(schools.find((s) => s.schoolId === 255901001)).toMatchObject({
        nameOfInstitution: 'Grand Bend High School',
        localEducationAgencyReference: { localEducationAgencyId: 255901 },
        id: expect.stringMatching(/^[0-9a-f]{32}$/),
      });
      const [lea] = await json<Item[]>(await other.get('localEducationAgencies?localEducationAgencyId=255901'));
      expect(lea).toMatchObject({ nameOfInstitution: 'Grand Bend ISD', stateEducationAgencyReference: { stateEducationAgencyId: 48 } });
      expect((await other.get(`localEducationAgencies/${lea.id}`)).status).toBe(200);
    });

    it('refuses school writes to SIS Vendor with 403 and allows them to Bootstrap within reach', async () => {
      const refused = await grand.post('schools', newSchool(255901200, 255901));
      expect(refused.status).toBe(403);
      expect(String((await json(refused)).detail)).toContain('SIS Vendor');
      const invalid = await grand.post('schools', { schoolId: 'not a number' });
      expect(invalid.status).toBe(403);
      expect((await bootstrap.post('schools', newSchool(999002, 999))).status).toBe(403);

      const id = await bootstrap.create('schools', newSchool(255901200, 255901));
      const edorg = await app.services.db('education_organizations').where({ id: 255901200 }).first('type', 'name', 'parent_id');
      expect(edorg).toMatchObject({ type: 'school', name: 'Grand Bend Academy', parent_id: 255901 });
      const ancestors = await app.services.db('edorg_closure').where({ descendant_id: 255901200 }).orderBy('depth').select('ancestor_id');
      expect(ancestors.map((r: { ancestor_id: number }) => Number(r.ancestor_id))).toEqual([255901200, 255901, 48]);
      const fresh = await app.client({ edorgIds: [255901] });
      expect(decodeJwt(await app.token(fresh)).schools).toContain('255901200');

      expect((await bootstrap.put(`schools/${id}`, newSchool(255901200, 255901, 'Grand Bend STEM Academy'))).status).toBe(204);
      expect(await app.services.db('education_organizations').where({ id: 255901200 }).first('name')).toMatchObject({ name: 'Grand Bend STEM Academy' });
      expect((await grand.put(`schools/${id}`, newSchool(255901200, 255901, 'Nope'))).status).toBe(403);
      expect((await bootstrap.put(`schools/${id}`, newSchool(255901200, 999))).status).toBe(403);

      expect((await bootstrap.del(`schools/${id}`)).status).toBe(204);
      expect(await app.services.db('education_organizations').where({ id: 255901200 }).first('id')).toBeUndefined();
      expect(await app.services.db('edorg_closure').where({ descendant_id: 255901200 }).first('depth')).toBeUndefined();
    });

    it('refuses to delete an LEA or school that others depend on with 409 dependent_item_exists', async () => {
      const [lea] = await json<Item[]>(await bootstrap.get('localEducationAgencies?localEducationAgencyId=255901'));
      const res = await bootstrap.del(`localEducationAgencies/${lea.id}`);
      expect(res.status).toBe(409);
      expect((await json(res)).error).toBe('dependent_item_exists');
      const [school] = await json<Item[]>(await bootstrap.get('schools?schoolId=255901044'));
      expect((await bootstrap.del(`schools/${school.id}`)).status).toBe(409);
      expect((await bootstrap.get(`schools/${school.id}`)).status).toBe(200);
      expect(await app.services.db('education_organizations').where({ id: 255901044 }).first('id')).toBeDefined();
    });
  });

  it('lets the ODS Sandbox claim set write any ed-org, as the ODS/API\'s Ed-Fi Sandbox does, and reach people only through relationships', async () => {
    const odsSandbox = await apiClient(app, { claimSet: 'ODS Sandbox', edorgIds: [255901] });
    // An ed-org outside its reach: no further authorisation, as the ODS/API's educationOrganizations claim.
    const school = await odsSandbox.create('schools', newSchool(999004, 999));
    expect((await odsSandbox.put(`schools/${school}`, newSchool(999004, 999, 'Renamed'))).status).toBe(204);
    expect((await odsSandbox.del(`schools/${school}`)).status).toBe(204);
    // People: created freely, then read only through an enrolment in reach.
    const loner = await odsSandbox.create('students', student('ODSLONER'));
    expect((await odsSandbox.get(`students/${loner}`)).status).toBe(403);
    const everyone = ids(await json<Item[]>(await odsSandbox.get('students?limit=500')), 'studentUniqueId');
    expect(everyone).toContain('GB1');
    expect(everyone).not.toContain('OT1');
  });

  it('lets the Ed-Fi Sandbox claim set see everything, associated or not', async () => {
    const loner = await sandbox.create('students', student('LONER'));
    expect((await sandbox.get(`students/${loner}`)).status).toBe(200);
    const everyone = ids(await json<Item[]>(await sandbox.get('students?limit=500')), 'studentUniqueId');
    expect(everyone).toEqual(expect.arrayContaining(['GB1', 'OT1', 'LONER']));
    expect(ids(await json<Item[]>(await sandbox.get('contacts?limit=500')), 'contactUniqueId')).toEqual(expect.arrayContaining(['CGB', 'COT']));
    expect((await sandbox.post('schools', newSchool(999003, 999))).status).toBe(201);
  });
});
