import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, data, enrolment, json, student, type ApiClient } from './edfi-helpers.js';

type Item = Record<string, unknown>;

describe.each(engines)('Ed-Fi resource API verbs on $name', (engine) => {
  let app: TestApp;
  let sis: ApiClient;
  let sandbox: ApiClient;

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
    sis = await apiClient(app, { edorgIds: [255901] });
    sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
  });
  afterAll(() => app.stop());

  /** A student enrolled at Grand Bend High; returns its id. */
  async function enrolled(uniqueId: string, extra: Item = {}): Promise<string> {
    const id = await sis.create('students', student(uniqueId, extra));
    await sis.create('studentSchoolAssociations', enrolment(uniqueId, 255901001));
    return id;
  }

  it('creates a student (201 + Location), refuses to read it without an association, then reads it after one', async () => {
    const created = await sis.post('students', student('S1'));
    expect(created.status).toBe(201);
    expect(await created.text()).toBe('');
    const location = created.headers.get('location')!;
    expect(location).toMatch(/\/data\/v3\/ed-fi\/students\/[0-9a-f]{32}$/);
    const id = location.split('/').pop()!;
    const denied = await sis.get(`students/${id}`);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('content-type')).toContain('application/problem+json');
    const problem = await json(denied);
    expect(problem).toMatchObject({ status: 403, error: 'authorization_denied', type: 'urn:ed-fi:api:security:authorization', title: expect.any(String) });
    expect(problem.correlationId).toBe(denied.headers.get('x-request-id'));
    expect(String(problem.detail)).toContain('StudentSchoolAssociation');
    expect((await sis.post('studentSchoolAssociations', enrolment('S1', 255901001))).status).toBe(201);
    const read = await sis.get(`students/${id}`);
    expect(read.status).toBe(200);
    const body = await json(read);
    expect(body).toMatchObject({ id, studentUniqueId: 'S1', firstName: 'Ada', birthDate: '2010-05-04' });
    expect(body._etag).toEqual(expect.any(String));
    expect(read.headers.get('etag')).toBe(`"${body._etag}"`);
    expect(new Date(String(body._lastModifiedDate)).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('upserts on the natural key: a second POST answers 200 and updates the same item', async () => {
    const id = await enrolled('UPS1');
    const again = await sis.post('students', student('UPS1', { firstName: 'Changed' }));
    expect(again.status).toBe(200);
    expect(again.headers.get('location')).toContain(id);
    expect(await json(await sis.get(`students/${id}`))).toMatchObject({ firstName: 'Changed' });
  });

  it('refuses a client-supplied id on POST with 400', async () => {
    const res = await sis.post('students', { id: 'a'.repeat(32), ...student('IDS') });
    expect(res.status).toBe(400);
    expect(await json(res)).toMatchObject({ error: 'data_validation_failed', validationErrors: { '$.id': [expect.any(String)] } });
  });

  it('answers 400 data_validation_failed with errors keyed by JSON path', async () => {
    const res = await sis.post('students', { studentUniqueId: 'V1', firstName: 'A', lastSurname: 'B', birthDate: 'not-a-date', shoeSize: 9 });
    expect(res.status).toBe(400);
    const problem = await json(res);
    expect(problem).toMatchObject({ error: 'data_validation_failed', type: 'urn:ed-fi:api:bad-request:data-validation-failed', status: 400 });
    // shoeSize is no member of the model: ignored, as the ODS/API ignores it (edfi-wire.test.ts).
    expect(Object.keys(problem.validationErrors as Item).sort()).toEqual(['$.birthDate']);
    const missing = await json(await sis.post('students', { studentUniqueId: 'V2', firstName: 'A', lastSurname: 'B' }));
    expect(missing.validationErrors).toEqual({ '$.birthDate': ['BirthDate is required.'] });
  });

  it('validates descriptors as URIs and nested members by path', async () => {
    const res = await sis.post('studentSchoolAssociations', { ...enrolment('S1', 255901001), entryGradeLevelDescriptor: 'Ninth grade', schoolReference: { schoolId: 'x' } });
    expect(res.status).toBe(400);
    expect(Object.keys((await json(res)).validationErrors as Item).sort()).toEqual(['$.entryGradeLevelDescriptor', '$.schoolReference.schoolId']);
  });

  it('answers malformed JSON and non-object bodies with 400', async () => {
    expect(await json(await sis.post('students', '{"studentUniqueId":'))).toMatchObject({ error: 'invalid_json', status: 400 });
    expect(await json(await sis.post('students', '[1,2]'))).toMatchObject({ error: 'data_validation_failed', status: 400 });
  });

  it('answers 409 unresolved_reference when the association names a student that does not exist', async () => {
    const res = await sis.post('studentSchoolAssociations', enrolment('NOBODY', 255901001));
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ error: 'unresolved_reference', type: 'urn:ed-fi:api:data-conflict:unresolved-reference', detail: "The referenced 'Student' item does not exist." });
  });

  it('answers 404 for an unknown id on GET, PUT and DELETE', async () => {
    const unknown = '0'.repeat(32);
    for (const res of [await sis.get(`students/${unknown}`), await sis.put(`students/${unknown}`, student('X')), await sis.del(`students/${unknown}`)]) {
      expect(res.status).toBe(404);
      expect(await json(res)).toMatchObject({ error: 'not_found', type: 'urn:ed-fi:api:not-found' });
    }
  });

  it('updates with PUT (204 + new ETag) and refuses a key change with 400', async () => {
    const id = await enrolled('PUT1');
    const before = await json(await sis.get(`students/${id}`));
    const res = await sis.put(`students/${id}`, student('PUT1', { middleName: 'Mary' }));
    expect(res.status).toBe(204);
    expect(res.headers.get('etag')).not.toBe(`"${before._etag}"`);
    const after = await json(await sis.get(`students/${id}`));
    expect(after).toMatchObject({ middleName: 'Mary' });
    expect(res.headers.get('etag')).toBe(`"${after._etag}"`);
    const keyChange = await sis.put(`students/${id}`, student('PUT1-OTHER'));
    expect(keyChange.status).toBe(400);
    expect(await json(keyChange)).toMatchObject({ error: 'key_change_not_supported' });
    const wrongId = await sis.put(`students/${id}`, { ...student('PUT1'), id: 'f'.repeat(32) });
    expect(wrongId.status).toBe(400);
  });

  it('accepts a PUT body that echoes id, _etag and _lastModifiedDate from a GET', async () => {
    const id = await enrolled('ECHO1');
    const read = await json(await sis.get(`students/${id}`));
    expect((await sis.put(`students/${id}`, { ...read, firstName: 'Echo' })).status).toBe(204);
    expect(await json(await sis.get(`students/${id}`))).toMatchObject({ firstName: 'Echo' });
  });

  it('honours If-Match: 412 optimistic_lock_failed on a stale ETag, success on the current one', async () => {
    const id = await enrolled('IFM1');
    const etag = (await sis.get(`students/${id}`)).headers.get('etag')!;
    const stale = '"0123456789abcdef0123"';
    for (const res of [await sis.put(`students/${id}`, student('IFM1', { middleName: 'X' }), { 'if-match': stale }), await sis.del(`students/${id}`, { 'if-match': stale })]) {
      expect(res.status).toBe(412);
      expect(await json(res)).toMatchObject({ error: 'optimistic_lock_failed', type: 'urn:ed-fi:api:optimistic-lock-failed' });
    }
    expect((await sis.put(`students/${id}`, student('IFM1', { middleName: 'Y' }), { 'if-match': etag })).status).toBe(204);
    expect((await sis.put(`students/${id}`, student('IFM1', { middleName: 'Z' }), { 'if-match': etag })).status).toBe(412);
  });

  it('deletes (204), refusing with 409 dependent_item_exists while an association references the student', async () => {
    const id = await enrolled('DEL1');
    const blocked = await sis.del(`students/${id}`);
    expect(blocked.status).toBe(409);
    expect(await json(blocked)).toMatchObject({ error: 'dependent_item_exists', type: 'urn:ed-fi:api:data-conflict:dependent-item-exists' });
    const [association] = await json<Item[]>(await sis.get('studentSchoolAssociations?studentUniqueId=DEL1'));
    expect((await sis.del(`studentSchoolAssociations/${association.id}`)).status).toBe(204);
    // With the association gone the student is out of reach for reads, but its school may still delete it, as on the
    // ODS/API (deletes count deleted associations).
    expect((await sis.get(`students/${id}`)).status).toBe(403);
    expect((await sis.del(`students/${id}`)).status).toBe(204);
    expect((await sandbox.get(`students/${id}`)).status).toBe(404);
  });

  it('pages collections: default 25, limit up to 500, offset, totalCount, stable order', async () => {
    for (let i = 0; i < 30; i++) await enrolled(`PG${String(i).padStart(2, '0')}`);
    const firstPage = await sis.get('students?totalCount=true');
    expect(firstPage.status).toBe(200);
    const total = Number(firstPage.headers.get('total-count'));
    expect(total).toBeGreaterThanOrEqual(30);
    const items = await json<Item[]>(firstPage);
    expect(items).toHaveLength(25);
    const all = await json<Item[]>(await sis.get('students?limit=500'));
    expect(all).toHaveLength(total);
    expect(all.slice(0, 25).map((i) => i.id)).toEqual(items.map((i) => i.id));
    const second = await json<Item[]>(await sis.get('students?offset=25&limit=10'));
    expect(second.map((i) => i.id)).toEqual(all.slice(25, 35).map((i) => i.id));
    expect((await sis.get('students')).headers.get('total-count')).toBeNull();
  });

  it('lists a student enrolled at two schools in reach once, in the same order with and without filters', async () => {
    await enrolled('TWICE');
    await sis.create('studentSchoolAssociations', enrolment('TWICE', 255901107, '2025-09-01'));
    const all = await json<Item[]>(await sis.get('students?limit=500'));
    expect(all.filter((s) => s.studentUniqueId === 'TWICE')).toHaveLength(1);
    const paged: Item[] = [];
    for (let offset = 0; offset < all.length; offset += 7) paged.push(...(await json<Item[]>(await sis.get(`students?offset=${offset}&limit=7`))));
    expect(paged.map((s) => s.id)).toEqual(all.map((s) => s.id));
    const filtered = await json<Item[]>(await sis.get('students?limit=500&birthDate=2010-05-04'));
    expect(filtered.map((s) => s.id)).toEqual(all.filter((s) => s.birthDate === '2010-05-04').map((s) => s.id));
    expect(Number((await sis.get('students?totalCount=true')).headers.get('total-count'))).toBe(all.length);
  });

  it('answers paging edges: limit 0 → empty page, limit 501 and negatives → 400, a huge offset → empty page', async () => {
    expect(await json(await sis.get('students?limit=0'))).toEqual([]);
    for (const query of ['limit=501', 'limit=-1', 'offset=-5', 'limit=abc', 'offset=1e3', 'totalCount=yes', 'limit=1&limit=2']) {
      const res = await sis.get(`students?${query}`);
      expect(res.status, query).toBe(400);
      expect((await json(res)).error, query).toBe('invalid_query');
    }
    const far = await sis.get('students?offset=9007199254740991&totalCount=true');
    expect(far.status).toBe(200);
    expect(await json(far)).toEqual([]);
    expect(Number(far.headers.get('total-count'))).toBeGreaterThan(0);
    expect((await sis.get('students?offset=99999999999999999999')).status).toBe(400);
  });

  it('filters on scalar members and reference members; hostile filters get 400 or an empty page, never 500', async () => {
    await enrolled('FLT1', { firstName: 'Filtered', birthCity: 'Austin' });
    const byName = await json<Item[]>(await sis.get('students?firstName=Filtered'));
    expect(byName.map((s) => s.studentUniqueId)).toEqual(['FLT1']);
    expect(await json<Item[]>(await sis.get('students?birthCity=Austin&studentUniqueId=FLT1'))).toHaveLength(1);
    const bySchool = await json<Item[]>(await sis.get('studentSchoolAssociations?schoolId=255901001&studentUniqueId=FLT1'));
    expect(bySchool).toHaveLength(1);
    expect(await json(await sis.get('studentSchoolAssociations?primarySchool=true&studentUniqueId=FLT1'))).toEqual([]);
    const hostile = [
      "firstName=' OR '1'='1",
      'firstName=%27%3B%20DROP%20TABLE%20edfi_documents%3B--',
      'studentUniqueId=%25',
      'birthCity=%5C%22%29%20or%201%3D1--',
      `firstName=${'x'.repeat(5000)}`,
    ];
    for (const query of hostile) {
      const res = await sis.get(`students?${query}`);
      expect(res.status, query).toBe(200);
      expect(await json(res), query).toEqual([]);
    }
    for (const query of ['nosuchProperty=1', 'body=x', 'd.id=1', 'schoolId=abc', 'firstName[$ne]=x']) {
      const res = await sis.get(query.startsWith('schoolId') ? `studentSchoolAssociations?${query}` : `students?${query}`);
      expect(res.status, query).toBe(400);
    }
    expect(await json<Item[]>(await sis.get('students?firstName=Filtered'))).toHaveLength(1);
  });

  it('answers concurrent upserts of the same new item without a 500 and stores one item', async () => {
    const students = await Promise.all(Array.from({ length: 8 }, () => sandbox.post('students', student('RACE1'))));
    expect(students.map((r) => r.status).filter((s) => s === 201)).toHaveLength(1);
    expect(students.every((r) => r.status === 200 || r.status === 201)).toBe(true);
    const associations = await Promise.all(Array.from({ length: 8 }, () => sis.post('studentSchoolAssociations', enrolment('RACE1', 255901001))));
    expect(associations.map((r) => r.status).filter((s) => s === 201)).toHaveLength(1);
    expect(associations.every((r) => r.status === 200 || r.status === 201)).toBe(true);
    expect(await json<Item[]>(await sis.get('students?studentUniqueId=RACE1'))).toHaveLength(1);
    expect(await json<Item[]>(await sis.get('studentSchoolAssociations?studentUniqueId=RACE1'))).toHaveLength(1);
  });

  it('leaves nothing behind when a write fails inside its transaction', async () => {
    await app.edorgs({ id: 255950, type: 'lea', name: 'Neighbour ISD' });
    const bootstrap = await apiClient(app, { claimSet: 'Bootstrap', edorgIds: [255901, 255950] });
    // A school whose id is already an LEA: the document insert succeeds, then the ed-org tree refuses.
    const res = await bootstrap.post('schools', {
      schoolId: 255950,
      nameOfInstitution: 'Clash',
      localEducationAgencyReference: { localEducationAgencyId: 255901 },
      educationOrganizationCategories: [{ educationOrganizationCategoryDescriptor: 'uri://ed-fi.org/EducationOrganizationCategoryDescriptor#School' }],
    });
    expect(res.status).toBe(409);
    expect(await json(res)).toMatchObject({ error: 'type_change' });
    expect(await json(await bootstrap.get('schools?schoolId=255950'))).toEqual([]);
    const rows = await app.services.db('edfi_documents').where({ resource: 'schools', edorg_id: 255950 }).count({ n: '*' });
    expect(Number(rows[0].n)).toBe(0);
    expect(await json(await bootstrap.get('localEducationAgencies?localEducationAgencyId=255950'))).toHaveLength(1);
  });

  it('serves the OpenAPI 3.1 document publicly, generated from the resource schemas', async () => {
    const res = await app.fetch('/metadata/openapi.json');
    expect(res.status).toBe(200);
    const doc = await json<{ openapi: string; paths: Item; components: { schemas: Record<string, Item> } }>(res);
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toContain(`${data}/studentSchoolAttendanceEvents/{id}`);
    expect(doc.components.schemas.Student.required).toEqual(['studentUniqueId', 'firstName', 'lastSurname', 'birthDate']);
  });

  it('requires a token under /data/ and answers unknown resources with 404', async () => {
    const anonymous = await app.fetch(`${data}/students`);
    expect(anonymous.status).toBe(401);
    expect(await json(anonymous)).toMatchObject({ error: 'missing_token' });
    expect((await sis.get('gradebookEntries')).status).toBe(404);
  });
});
