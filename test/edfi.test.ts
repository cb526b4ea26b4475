import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, enrolment, json, student, type ApiClient } from './edfi-helpers.js';

describe.each(engines)('Ed-Fi resource API verbs on $name', (engine) => {
  let app: TestApp;
  let sis: ApiClient;

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
    sis = await apiClient(app, { edorgIds: [255901] });
  });
  afterAll(() => app.stop());

  it('creates a student (201 + Location), refuses to read it without an association, then reads it after one', async () => {
    const created = await sis.post('students', student('S1'));
    expect(created.status).toBe(201);
    const location = created.headers.get('location')!;
    expect(location).toMatch(/\/data\/v3\/ed-fi\/students\/[0-9a-f]{32}$/);
    const id = location.split('/').pop()!;
    const denied = await sis.get(`students/${id}`);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('content-type')).toContain('application/problem+json');
    const problem = await json(denied);
    expect(problem).toMatchObject({ status: 403, error: 'authorization_denied', type: 'urn:ed-fi:api:security:authorization' });
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
});
