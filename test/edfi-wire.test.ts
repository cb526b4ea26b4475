import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, data, enrolment, json, student, type ApiClient } from './edfi-helpers.js';

/** What real Ed-Fi clients (the ODS/API's own Postman suites, SDKs) send, and how the ODS/API answers it. */
describe.each(engines)('Ed-Fi wire conformance on $name', (engine) => {
  let app: TestApp;
  let sis: ApiClient;

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
    sis = await apiClient(app, { edorgIds: [255901] });
    await sis.create('students', student('W1', { lastSurname: 'Wirth' }));
    await sis.create('studentSchoolAssociations', enrolment('W1', 255901001));
  });
  afterAll(() => app.stop());

  it('accepts correlationId on any request and echoes it as the error body correlationId', async () => {
    const listed = await sis.get('students?correlationId=abc123&limit=5');
    expect(listed.status).toBe(200);
    const refused = await sis.get('students?correlationId=abc123&favouriteColour=blue');
    expect(refused.status).toBe(400);
    expect(await json(refused)).toMatchObject({ correlationId: 'abc123' });
  });

  it('takes the correlation id from the correlation-id header, which wins over the query parameter', async () => {
    const refused = await sis.get('students?favouriteColour=blue', { 'correlation-id': 'from-header-1' });
    expect(await json(refused)).toMatchObject({ correlationId: 'from-header-1' });
    const both = await sis.get('students?favouriteColour=blue&correlationId=from-query', { 'correlation-id': 'from-header-2' });
    expect(await json(both)).toMatchObject({ correlationId: 'from-header-2' });
  });

  it('binds query parameter names case-insensitively (LastSurname, Offset, Limit, TotalCount)', async () => {
    const res = await sis.get('students?LastSurname=Wirth&Offset=0&Limit=5&TotalCount=true');
    expect(res.status).toBe(200);
    expect(res.headers.get('total-count')).toBe('1');
    expect((await json<Array<Record<string, unknown>>>(res)).map((s) => s.studentUniqueId)).toEqual(['W1']);
  });

  it('links each reference to the item it names, as the ODS/API does, and takes a read item back with its links', async () => {
    const [association] = await json<Array<Record<string, any>>>(await sis.get('studentSchoolAssociations?studentUniqueId=W1&schoolId=255901001'));
    const [w1] = await json<Array<Record<string, unknown>>>(await sis.get('students?studentUniqueId=W1'));
    const [school] = await json<Array<Record<string, unknown>>>(await sis.get('schools?schoolId=255901001'));
    expect(association.studentReference).toEqual({ studentUniqueId: 'W1', link: { rel: 'Student', href: `/ed-fi/students/${w1.id}` } });
    expect(association.schoolReference).toEqual({ schoolId: 255901001, link: { rel: 'School', href: `/ed-fi/schools/${school.id}` } });
    // A descriptor is a URI, not a reference: no link.
    expect(typeof association.entryGradeLevelDescriptor).toBe('string');
    // The school's own reference to its LEA links too (an abstract ed-org reference names the concrete resource).
    expect((school.localEducationAgencyReference as Record<string, unknown>).link).toMatchObject({ rel: 'LocalEducationAgency', href: expect.stringMatching(/^\/ed-fi\/localEducationAgencies\/[0-9a-f]{32}$/) });
    // GET, then PUT the same body back: the links are the server's and change nothing.
    const put = await sis.put(`studentSchoolAssociations/${association.id}`, association);
    expect(put.status).toBe(204);
    const again = await json(await sis.get(`studentSchoolAssociations/${association.id}`));
    expect(again._etag).toBe(association._etag);
    expect(again._lastModifiedDate).toBe(association._lastModifiedDate);
  });

  it('refuses the same parameter twice in different cases', async () => {
    const res = await sis.get('students?limit=5&LIMIT=6');
    expect(res.status).toBe(400);
  });

  it('reads values as real clients send them: numeric strings for integer ids, empty optional strings as absent', async () => {
    const created = await sis.post('studentSchoolAssociations', {
      ...enrolment('W1', 255901044),
      schoolReference: { schoolId: '255901044' },
      exitWithdrawTypeDescriptor: '',
    });
    expect(created.status).toBe(201);
    const id = created.headers.get('location')!.split('/').pop()!;
    const read = await json(await sis.get(`studentSchoolAssociations/${id}`));
    expect(read.schoolReference).toEqual({ schoolId: 255901044, link: { rel: 'School', href: expect.stringMatching(/^\/ed-fi\/schools\/[0-9a-f]{32}$/) } });
    expect(read).not.toHaveProperty('exitWithdrawTypeDescriptor');
  });

  it('ignores members the model does not have, at any depth, and stores none of them; a client-sent id is still refused', async () => {
    const created = await sis.post('students', { ...student('W4'), favouriteColour: 'teal', _etag: 'stale', electronicMails: [] });
    expect(created.status).toBe(201);
    const enrolled = await sis.post('studentSchoolAssociations', { ...enrolment('W4', 255901044), schoolReference: { schoolId: 255901044, nameOfInstitution: 'Grand Bend Middle' } });
    expect(enrolled.status).toBe(201);
    const read = await json<Record<string, unknown>>(await sis.get(`studentSchoolAssociations/${enrolled.headers.get('location')!.split('/').pop()}`));
    expect(read.schoolReference).toEqual({ schoolId: 255901044, link: expect.any(Object) });
    const [stored] = await json<Array<Record<string, unknown>>>(await sis.get('students?studentUniqueId=W4'));
    expect(stored).not.toHaveProperty('favouriteColour');
    expect(stored._etag).not.toBe('stale');
    expect((await sis.post('students', { ...student('W5'), id: 'abc' })).status).toBe(400);
  });

  it('refuses a numeric string that is not a whole number where an integer id is wanted', async () => {
    const res = await sis.post('studentSchoolAssociations', { ...enrolment('W1', 255901044), schoolReference: { schoolId: '2559x' } });
    expect(res.status).toBe(400);
  });

  it('holds ed-org ids past 2^31 − 1, up to 2^53 − 1', async () => {
    const bootstrap = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    const res = await bootstrap.post('localEducationAgencies', {
      localEducationAgencyId: Number.MAX_SAFE_INTEGER,
      nameOfInstitution: 'Largest LEA',
      localEducationAgencyCategoryDescriptor: 'uri://ed-fi.org/LocalEducationAgencyCategoryDescriptor#Independent',
      educationOrganizationCategories: [{ educationOrganizationCategoryDescriptor: 'uri://ed-fi.org/EducationOrganizationCategoryDescriptor#Local Education Agency' }],
    });
    expect(res.status).toBe(201);
    const listed = await json<Array<Record<string, unknown>>>(await bootstrap.get(`localEducationAgencies?localEducationAgencyId=${Number.MAX_SAFE_INTEGER}`));
    expect(listed.map((lea) => lea.localEducationAgencyId)).toEqual([Number.MAX_SAFE_INTEGER]);
  });

  describe('discovery', () => {
    it('answers GET / with the version document: version, dataModels, urls', async () => {
      const res = await app.fetch('/');
      expect(res.status).toBe(200);
      const body = await json(res);
      expect(body).toMatchObject({ version: expect.any(String), dataModels: [{ name: 'Ed-Fi', version: expect.stringMatching(/^5\./) }] });
      expect(body.urls).toMatchObject({
        dependencies: expect.stringMatching(/\/metadata\/data\/v3\/dependencies$/),
        openApiMetadata: expect.stringMatching(/\/metadata\/$/),
        oauth: expect.stringMatching(/\/oauth\/token$/),
        dataManagementApi: expect.stringMatching(/\/data\/v3\/$/),
      });
    });

    it('lists the OpenAPI sections at /metadata, each of which answers', async () => {
      const sections = await json<Array<{ name: string; endpointUri: string }>>(await app.fetch('/metadata'));
      expect(sections.map((s) => s.name)).toEqual(['Resources', 'Descriptors']);
      for (const section of sections) {
        const res = await app.fetch(new URL(section.endpointUri).pathname);
        expect(res.status).toBe(200);
        expect(await json(res)).toMatchObject({ openapi: expect.stringMatching(/^3\./) });
      }
      const resources = await json<{ paths: Record<string, unknown> }>(await app.fetch('/metadata/data/v3/resources/swagger.json'));
      expect(Object.keys(resources.paths)).toContain('/data/v3/ed-fi/students');
    });

    it('orders resources by dependency at /metadata/dependencies: a resource after everything it references', async () => {
      const order = await json<Array<{ resource: string; order: number; operations: string[] }>>(await app.fetch('/metadata/dependencies'));
      const at = (name: string) => order.find((o) => o.resource === `/ed-fi/${name}`)!.order;
      expect(at('studentSchoolAssociations')).toBeGreaterThan(at('students'));
      expect(at('studentSchoolAssociations')).toBeGreaterThan(at('schools'));
      expect(at('schools')).toBeGreaterThan(at('localEducationAgencies'));
      expect(at('studentContactAssociations')).toBeGreaterThan(at('contacts'));
      expect(order[0].operations).toEqual(['Create', 'Update']);
      expect(await json(await app.fetch('/metadata/data/v3/dependencies'))).toEqual(order);
    });
  });

  describe('problem details in the ODS/API shape', () => {
    it('adds an errors array beside validationErrors, with the ODS type, title and detail, and keeps the error code', async () => {
      const res = await sis.post('students', { studentUniqueId: 'W2' });
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({
        type: 'urn:ed-fi:api:bad-request:data-validation-failed',
        title: 'Data Validation Failed',
        detail: "Data validation failed. See 'validationErrors' for details.",
        error: 'data_validation_failed',
        validationErrors: expect.objectContaining({ '$.firstName': expect.any(Array) }),
        errors: [],
      });
    });

    it('says a required member sent empty is required and should not be left empty, as the ODS/API does', async () => {
      const res = await sis.post('students', { ...student('W8'), lastSurname: '' });
      expect(res.status).toBe(400);
      expect((await json<{ validationErrors: unknown }>(res)).validationErrors).toEqual({ '$.lastSurname': ['LastSurname is required and should not be left empty.'] });
    });

    it('names a length or range failure as the ODS/API does: the member and both bounds', async () => {
      const res = await sis.post('students', { ...student('W3'), firstName: 'x'.repeat(76), birthSexDescriptor: `uri://ed-fi.org/SexDescriptor#${'x'.repeat(300)}` });
      expect(res.status).toBe(400);
      expect((await json<{ validationErrors: unknown }>(res)).validationErrors).toEqual({
        '$.firstName': ['FirstName must be at most 75 characters in length.'],
        '$.birthSexDescriptor': ['BirthSexDescriptor must be at most 306 characters in length.'],
      });
      const staff = await sis.post('staffs', { staffUniqueId: 'W3S', firstName: 'Ada', lastSurname: 'Wirth', yearsOfPriorProfessionalExperience: 100 });
      expect(staff.status).toBe(400);
      expect((await json<{ validationErrors: unknown }>(staff)).validationErrors).toEqual({
        '$.yearsOfPriorProfessionalExperience': ['YearsOfPriorProfessionalExperience must be between 0 and 99.'],
      });
    });

    it('answers an unknown id with the ODS not-found text for what was asked, the specific reason in errors, and one code', async () => {
      const unknown = `students/${'0'.repeat(32)}`;
      const read = await json(await sis.get(unknown));
      expect(read).toMatchObject({ type: 'urn:ed-fi:api:not-found', title: 'Not Found', detail: 'The specified item could not be found.', error: 'not_found' });
      expect(read.errors).toEqual([expect.stringContaining('0'.repeat(32))]);
      expect(await json(await sis.put(unknown, student('W5')))).toMatchObject({ status: 404, detail: 'Resource to update was not found.', error: 'not_found' });
      expect(await json(await sis.del(unknown))).toMatchObject({ status: 404, detail: 'Resource to delete was not found.', error: 'not_found' });
      expect(await json(await sis.get('nonesuches'))).toMatchObject({ status: 404, detail: 'The specified data could not be found.', error: 'not_found' });
    });

    it('refuses a route id that is no id with 400 on $.id, before looking for it, on GET, PUT and DELETE', async () => {
      const malformedId = { type: 'urn:ed-fi:api:bad-request:data-validation-failed', error: 'data_validation_failed', validationErrors: { '$.id': ["The value '9' is not valid."] } };
      for (const res of [await sis.get('students/9'), await sis.put('students/9', student('W6')), await sis.del('students/9')]) {
        expect(res.status).toBe(400);
        expect(await json(res)).toMatchObject(malformedId);
      }
    });

    it('refuses a PUT with no body on $, and reports a malformed id and a missing body together', async () => {
      const [item] = await json<Array<Record<string, unknown>>>(await sis.get('students?studentUniqueId=W1'));
      const bodyless = await sis.put(`students/${item.id}`, undefined);
      expect(bodyless.status).toBe(400);
      expect(await json(bodyless)).toMatchObject({ type: 'urn:ed-fi:api:bad-request:data-validation-failed', validationErrors: { $: ['A non-empty request body is required.'] } });
      const both = await json(await sis.put('students/9', undefined));
      expect(both.validationErrors).toEqual({ '$.id': ["The value '9' is not valid."], $: ['A non-empty request body is required.'] });
    });

    it('refuses an id in a POST body as the ODS/API does: data validation type, its construction detail, its reason', async () => {
      const res = await sis.post('students', { id: '0'.repeat(32), ...student('W7') });
      expect(res.status).toBe(400);
      const reason = "Resource identifiers cannot be assigned by the client. The 'id' property should not be included in the request body.";
      expect(await json(res)).toMatchObject({
        type: 'urn:ed-fi:api:bad-request:data-validation-failed',
        title: 'Data Validation Failed',
        detail: 'The request data was constructed incorrectly.',
        error: 'data_validation_failed',
        errors: [reason],
      });
    });

    it('refuses a POST with no body as invalid_json with the ODS reason first in errors', async () => {
      const res = await sis.post('students', '', { 'content-type': 'application/json' });
      expect(res.status).toBe(400);
      const body = await json(res);
      expect(body).toMatchObject({ type: 'urn:ed-fi:api:bad-request', detail: "The request could not be processed. See 'errors' for details.", error: 'invalid_json' });
      expect((body.errors as string[])[0]).toBe('A non-empty request body is required.');
    });

    it('names the one kind of item that references an item it will not delete, as the ODS/API does', async () => {
      const [item] = await json<Array<Record<string, unknown>>>(await sis.get('students?studentUniqueId=W1'));
      const res = await sis.del(`students/${item.id}`);
      expect(res.status).toBe(409);
      expect(await json(res)).toMatchObject({
        type: 'urn:ed-fi:api:data-conflict:dependent-item-exists',
        title: 'Dependent Item Exists',
        detail: "The requested action cannot be performed because this item is referenced by an existing 'StudentSchoolAssociation' item.",
        error: 'dependent_item_exists',
      });
    });

    it('names the missing referenced item: 409 "The referenced \'Student\' item does not exist."', async () => {
      const res = await sis.post('studentSchoolAssociations', enrolment('NOBODY', 255901001));
      expect(res.status).toBe(409);
      expect(await json(res)).toMatchObject({
        type: 'urn:ed-fi:api:data-conflict:unresolved-reference',
        title: 'Unresolved Reference',
        detail: "The referenced 'Student' item does not exist.",
        error: 'unresolved_reference',
      });
    });

    it('puts query problems under the ODS parameter-validation type', async () => {
      const body = await json(await sis.get('students?limit=501'));
      expect(body).toMatchObject({ type: 'urn:ed-fi:api:bad-request:parameter-validation-failed', title: 'Parameter Validation Failed', status: 400, error: 'invalid_query', detail: 'The request construction was invalid.' });
      expect(body.errors).toEqual(['Limit must be a value between 0 and 500.']);
    });
  });

  describe('401s worded as the ODS/API words them', () => {
    const refusal = async (authorization?: string) => {
      const res = await app.fetch(`${data}/students`, { headers: authorization === undefined ? {} : { authorization } });
      expect(res.status).toBe(401);
      return json(res);
    };

    it('names the ODS reason first in errors and keeps edgate\'s code and own reason after it', async () => {
      const missing = await refusal();
      expect(missing).toMatchObject({ type: 'urn:ed-fi:api:security:authentication', detail: 'The caller could not be authenticated.', error: 'missing_token' });
      expect(missing.errors).toEqual(['Authorization header is missing.', 'send Authorization: Bearer <access token>']);
      expect(await refusal('Basic am9objoxMjM=')).toMatchObject({ error: 'invalid_token', errors: ['Unknown Authorization header scheme.', expect.any(String)] });
      expect(await refusal('Bearer ')).toMatchObject({ error: 'invalid_token', errors: ['Missing Authorization header bearer token value.', expect.any(String)] });
      expect(await refusal('Bearer d49f5c606f03406db2e01b1c82d2997f')).toMatchObject({ error: 'invalid_token', errors: ['Invalid token', 'the token is malformed'] });
    });
  });

  describe('405s worded as the ODS/API words them', () => {
    const odsMethodRefusal = (method: string) => ({
      type: 'urn:ed-fi:api:method-not-allowed',
      status: 405,
      detail: 'The request construction was invalid.',
      error: 'method_not_allowed',
      errors: [`The endpoint of the request does not support the '${method}' method.`],
    });

    it('refuses PATCH, OPTIONS and HEAD on a resource path, naming the method in errors, with Allow', async () => {
      for (const method of ['PATCH', 'OPTIONS']) {
        const res = await app.fetch(`${data}/courses`, { method });
        expect(res.status).toBe(405);
        expect(await json(res)).toMatchObject(odsMethodRefusal(method));
        expect(res.headers.get('allow')).toBe('GET, POST');
      }
      const head = await app.fetch(`${data}/students/${'0'.repeat(32)}`, { method: 'HEAD' });
      expect(head.status).toBe(405);
      expect(head.headers.get('allow')).toBe('GET, PUT, DELETE');
    });

    it('leaves HEAD and OPTIONS outside /data as they were: HEAD as GET without a body, OPTIONS 200 with Allow', async () => {
      const head = await app.fetch('/', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
      const options = await app.fetch('/', { method: 'OPTIONS' });
      expect(options.status).toBe(200);
      expect(options.headers.get('allow')).toContain('GET');
    });

    it('refuses PUT and DELETE of a whole collection with the ODS reasons, after a snapshot\'s own refusal', async () => {
      const put = await sis.put('students/', student('W4'));
      expect(put.status).toBe(405);
      expect(await json(put)).toMatchObject({
        ...odsMethodRefusal('PUT'),
        errors: ['Resource collections cannot be replaced. To "upsert" an item in the collection, use POST. To update a specific item, use PUT and include the "id" in the route.'],
      });
      const del = await sis.del('students');
      expect(await json(del)).toMatchObject({
        ...odsMethodRefusal('DELETE'),
        errors: ['Resource collections cannot be deleted. To delete a specific item, use DELETE and include the "id" in the route.'],
      });
      const postToItem = await sis.post(`students/${'0'.repeat(32)}`, student('W4'));
      expect(postToItem.status).toBe(405);
      expect(await json(postToItem)).toMatchObject({
        ...odsMethodRefusal('POST'),
        errors: ['Resource items can only be updated using PUT. To "upsert" an item in the resource collection using POST, remove the "id" from the route.'],
      });
      const snapshot = await sis.put('staffSchoolAssociations', {}, { 'use-snapshot': 'true' });
      expect(snapshot.status).toBe(405);
      expect(await json(snapshot)).toMatchObject({ type: 'urn:ed-fi:api:snapshots:method-not-allowed', title: 'Method Not Allowed with Snapshots', error: 'snapshot_read_only' });
    });
  });

  describe('conditional and snapshot reads', () => {
    it('answers If-None-Match with the current ETag with 304 and no body; another ETag gets the item', async () => {
      const [item] = await json<Array<Record<string, unknown>>>(await sis.get('students?studentUniqueId=W1'));
      const path = `students/${item.id}`;
      const etag = (await sis.get(path)).headers.get('etag')!;
      const unchanged = await sis.get(path, { 'if-none-match': etag });
      expect(unchanged.status).toBe(304);
      expect(await unchanged.text()).toBe('');
      expect(unchanged.headers.get('etag')).toBe(etag);
      expect((await sis.get(path, { 'if-none-match': '"stale"' })).status).toBe(200);
    });

    it('answers Use-Snapshot: true with the ODS 404 on reads and 405 on writes, never live data', async () => {
      const read = await sis.get('students', { 'use-snapshot': 'true' });
      expect(read.status).toBe(404);
      expect(await json(read)).toMatchObject({ type: 'urn:ed-fi:api:not-found', detail: 'Snapshot not found.', errors: ['The snapshot connection for the ODS has not been configured.'], error: 'snapshot_not_configured' });
      const write = await sis.post('students', student('W3'), { 'use-snapshot': 'true' });
      expect(write.status).toBe(405);
      expect(await json(write)).toMatchObject({ type: 'urn:ed-fi:api:snapshots:method-not-allowed', error: 'snapshot_read_only' });
      expect((await sis.get('students', { 'use-snapshot': 'false' })).status).toBe(200);
    });
  });
});
