import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, enrolment, json, student, type ApiClient } from './edfi-helpers.js';

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

  it('takes the correlation id from the correlation-id header when the query has none', async () => {
    const refused = await sis.get('students?favouriteColour=blue', { 'correlation-id': 'from-header-1' });
    expect(await json(refused)).toMatchObject({ correlationId: 'from-header-1' });
  });

  it('binds query parameter names case-insensitively (LastSurname, Offset, Limit, TotalCount)', async () => {
    const res = await sis.get('students?LastSurname=Wirth&Offset=0&Limit=5&TotalCount=true');
    expect(res.status).toBe(200);
    expect(res.headers.get('total-count')).toBe('1');
    expect((await json<Array<Record<string, unknown>>>(res)).map((s) => s.studentUniqueId)).toEqual(['W1']);
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
    expect(read.schoolReference).toEqual({ schoolId: 255901044 });
    expect(read).not.toHaveProperty('exitWithdrawTypeDescriptor');
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
});
