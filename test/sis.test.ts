import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { documentEtag, naturalKeyHash } from '../src/edfi/documents.js';
import type { RosterRecord } from '../src/sis/roster.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { engines, redisUrl } from './helpers/engines.js';
import { configFile, districts, documentCount, gbSchools, roster, secretFor, sync } from './sis-helpers.js';

describe.each(engines)('SIS sync on $name', (engine) => {
  let app: TestApp;
  let secret: string;

  beforeAll(async () => {
    // A generous rate, so only the rate-limit tests meet the limit.
    app = await startTestApp(engine, { EDGATE_CONFIG: configFile({ sisSync: { requestsPerMinute: 100_000 } }) });
    await app.edorgs(...districts);
  });
  afterAll(() => app.stop());

  describe('secrets', () => {
    it('answers 503 not_configured while no institution has a secret', async () => {
      for (const auth of [undefined, 'whatever']) {
        const res = await sync(app, auth, { students: [] });
        expect(res.status).toBe(503);
        expect(await res.json()).toMatchObject({ error: 'not_configured', detail: expect.any(String), request_id: expect.any(String) });
      }
    });

    it('issues a 256-bit secret once through the CLI and stores only its keyed hash', async () => {
      const out = await app.cli('sis', 'issue-secret', '--edorg', '255901', '--json');
      expect(out.code).toBe(0);
      const issued = JSON.parse(out.stdout) as { institution: number; secret: string };
      expect(issued).toMatchObject({ institution: 255901, secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      expect(Buffer.from(issued.secret, 'base64url')).toHaveLength(32);
      secret = issued.secret;
      const rows = await app.services.db('sis_secrets').select();
      expect(JSON.stringify(rows)).not.toContain(secret);
      expect(rows.map((r: { secret_hash: string }) => r.secret_hash)).toEqual([createHmac('sha256', app.services.hashKey).update(secret).digest('hex')]);
      const res = await sync(app, secret, { students: [] });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: 0, created: 0, updated: 0, unchanged: 0 });
    });

    it('refuses an unknown ed-org with a clear message and a non-zero exit', async () => {
      const out = await app.cli('sis', 'issue-secret', '--edorg', '424242', '--json');
      expect(out.code).not.toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ error: 'unknown_edorg', detail: expect.stringContaining('424242') });
      expect((await app.cli('sis', 'revoke', '--edorg', '424242')).code).not.toBe(0);
    });

    it('answers 401 unauthorized for a missing, malformed or wrong secret', async () => {
      const attempts: Array<Record<string, string>> = [{}, { authorization: 'Basic abc' }, { authorization: `Bearer ${secret}x` }, { authorization: 'Bearer ' }];
      for (const headers of attempts) {
        const res = await app.fetch('/api/sis/sync', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"students":[]}' });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(await res.json()).toMatchObject({ error: 'unauthorized', detail: expect.any(String) });
      }
    });

    it('keeps two live secrets: a third retires the oldest; revoke takes one or all', async () => {
      const issue = async () => JSON.parse((await app.cli('sis', 'issue-secret', '--edorg', '999', '--json')).stdout) as { secret: string; secret_id: string; retired: string[] };
      const first = await issue();
      const second = await issue();
      for (const s of [first, second]) expect((await sync(app, s.secret, { students: [] })).status).toBe(200);
      const third = await issue();
      expect(third.retired).toEqual([first.secret_id]);
      expect((await sync(app, first.secret, { students: [] })).status).toBe(401);
      expect((await sync(app, second.secret, { students: [] })).status).toBe(200);

      const one = await app.cli('sis', 'revoke', '--edorg', '999', '--secret-id', second.secret_id, '--json');
      expect(JSON.parse(one.stdout)).toEqual({ institution: 999, revoked: [second.secret_id] });
      expect((await sync(app, second.secret, { students: [] })).status).toBe(401);
      expect((await sync(app, third.secret, { students: [] })).status).toBe(200);

      const all = await app.cli('sis', 'revoke', '--edorg', '999', '--json');
      expect(JSON.parse(all.stdout)).toEqual({ institution: 999, revoked: [third.secret_id] });
      expect((await sync(app, third.secret, { students: [] })).status).toBe(401);
      // Grand Bend's secret is untouched by another institution's revocation.
      expect((await sync(app, secret, { students: [] })).status).toBe(200);
    });
  });

  describe('validation', () => {
    it('answers 400 invalid_json for malformed JSON', async () => {
      const res = await sync(app, secret, '{"students":[');
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_json', detail: expect.any(String) });
    });

    it('answers 400 missing_field naming the first missing field', async () => {
      const students: Array<Partial<RosterRecord>> = roster(5, 'MF');
      delete students[3].birthDate;
      delete students[4].firstName;
      const res = await sync(app, secret, { students });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'missing_field', field: 'students[3].birthDate', detail: expect.stringContaining('students[3].birthDate') });
      const noStudents = await sync(app, secret, {});
      expect(await noStudents.json()).toMatchObject({ error: 'missing_field', field: 'students' });
    });

    it.each([
      ['a schoolId that is not a number', { schoolId: 'abc' }, 'students[2].schoolId'],
      ['a schoolId with a fraction', { schoolId: 255901001.5 }, 'students[2].schoolId'],
      ['a birthDate that is not a calendar date', { birthDate: '2010-02-30' }, 'students[2].birthDate'],
      ['an entryDate in another format', { entryDate: '08/20/2025' }, 'students[2].entryDate'],
      ['an empty firstName', { firstName: '' }, 'students[2].firstName'],
      ['a studentUniqueId longer than 32 characters', { studentUniqueId: 'x'.repeat(33) }, 'students[2].studentUniqueId'],
      ['a member the contract does not know', { shoeSize: 9 }, 'students[2].shoeSize'],
    ])('answers 400 invalid_field for %s', async (_, change, field) => {
      const students = roster(4, 'IF');
      Object.assign(students[2], change);
      const res = await sync(app, secret, { students });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_field', field, detail: expect.stringContaining(field) });
    });

    it('answers 400 invalid_field when the body or a record is not an object', async () => {
      expect(await (await sync(app, secret, [])).json()).toMatchObject({ error: 'invalid_field', field: 'body' });
      expect(await (await sync(app, secret, { students: {} })).json()).toMatchObject({ error: 'invalid_field', field: 'students' });
      expect(await (await sync(app, secret, { students: [roster(1)[0], 7] })).json()).toMatchObject({ error: 'invalid_field', field: 'students[1]' });
    });

    it('answers 400 invalid_field when two records disagree about one student or repeat an enrolment', async () => {
      const [a] = roster(1, 'DUP');
      const renamed = await sync(app, secret, { students: [a, { ...a, schoolId: 255901044, firstName: 'Other' }] });
      expect(await renamed.json()).toMatchObject({ error: 'invalid_field', field: 'students[1].firstName', detail: expect.stringContaining('students[0]') });
      const repeated = await sync(app, secret, { students: [a, { ...a }] });
      expect(await repeated.json()).toMatchObject({ error: 'invalid_field', field: 'students[1].entryDate' });
    });

    it('answers 403 school_not_permitted for a school outside the reach, or an ed-org that is no school', async () => {
      for (const schoolId of [999001, 255901, 31337]) {
        const students = roster(3, 'NP');
        students[1].schoolId = schoolId;
        const res = await sync(app, secret, { students });
        expect(res.status).toBe(403);
        expect(await res.json()).toMatchObject({ error: 'school_not_permitted', field: 'students[1].schoolId', detail: expect.stringContaining(String(schoolId)) });
      }
    });

    it('answers 413 batch_too_large with max for 5,001 students', async () => {
      const res = await sync(app, secret, { students: roster(5001, 'BIG') });
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ error: 'batch_too_large', max: 5000, detail: expect.any(String) });
    });

    it('refuses a body over 10 MB with 413 payload_too_large, and other methods with 405', async () => {
      const big = await sync(app, secret, `{"students":[],"pad":"${'x'.repeat(10 * 1024 * 1024)}"}`);
      expect(big.status).toBe(413);
      expect(await big.json()).toMatchObject({ error: 'payload_too_large' });
      const get = await app.fetch('/api/sis/sync', { headers: { authorization: `Bearer ${secret}` } });
      expect(get.status).toBe(405);
      expect(await get.json()).toMatchObject({ error: 'method_not_allowed' });
    });

    it('writes nothing when one record of a batch is bad', async () => {
      const before = { students: await documentCount(app, 'students'), associations: await documentCount(app, 'studentSchoolAssociations') };
      const invalid = roster(50, 'AON');
      invalid[49].birthDate = 'yesterday';
      expect((await sync(app, secret, { students: invalid })).status).toBe(400);
      const outOfReach = roster(50, 'AON');
      outOfReach[49].schoolId = 999001;
      expect((await sync(app, secret, { students: outOfReach })).status).toBe(403);
      expect(await documentCount(app, 'students')).toBe(before.students);
      expect(await documentCount(app, 'studentSchoolAssociations')).toBe(before.associations);
      expect(await app.services.db('edfi_documents').where('student_unique_id', 'like', 'AON%').count({ n: '*' })).toEqual([{ n: 0 }]);
    });
  });

  describe('writes', () => {
    it('writes students and associations exactly as the Ed-Fi conventions say', async () => {
      const [plain, graded] = roster(2, 'CONV');
      expect(await (await sync(app, secret, { students: [plain, graded] })).json()).toEqual({ received: 2, created: 2, updated: 0, unchanged: 0 });
      const student = await app.services.db('edfi_documents').where({ resource: 'students', student_unique_id: graded.studentUniqueId }).first();
      const studentBody = { studentUniqueId: graded.studentUniqueId, firstName: graded.firstName, lastSurname: graded.lastSurname, birthDate: graded.birthDate };
      expect(student).toMatchObject({ key_hash: naturalKeyHash([graded.studentUniqueId]), etag: documentEtag(studentBody), edorg_id: null, created_by: null });
      expect(student.id).toMatch(/^[0-9a-f]{32}$/);
      expect(JSON.parse(student.body)).toEqual(studentBody);
      expect(Number(student.last_modified)).toBeGreaterThan(Date.now() - 60_000);

      const association = await app.services.db('edfi_documents').where({ resource: 'studentSchoolAssociations', student_unique_id: graded.studentUniqueId }).first();
      const associationBody = {
        studentReference: { studentUniqueId: graded.studentUniqueId },
        schoolReference: { schoolId: graded.schoolId },
        entryDate: graded.entryDate,
        entryGradeLevelDescriptor: graded.entryGradeLevelDescriptor,
      };
      expect(association).toMatchObject({ key_hash: naturalKeyHash([graded.studentUniqueId, graded.schoolId, graded.entryDate]), etag: documentEtag(associationBody), edorg_id: graded.schoolId });
      expect(JSON.parse(association.body)).toEqual(associationBody);
      const plainAssociation = await app.services.db('edfi_documents').where({ resource: 'studentSchoolAssociations', student_unique_id: plain.studentUniqueId }).first();
      expect(JSON.parse(plainAssociation.body)).not.toHaveProperty('entryGradeLevelDescriptor');

      const subjects = await app.services.db('edfi_subject_edorgs').where({ subject_id: graded.studentUniqueId }).select();
      expect(subjects).toEqual([{ subject_type: 'student', subject_id: graded.studentUniqueId, edorg_id: graded.schoolId, via_document_id: association.id }]);
    });

    it('takes a schoolId written as a digit string and stores the integer', async () => {
      const [student] = roster(1, 'TEXTID');
      const res = await sync(app, secret, { students: [{ ...student, schoolId: String(student.schoolId) }] });
      expect(await res.json()).toEqual({ received: 1, created: 1, updated: 0, unchanged: 0 });
      const row = await app.services.db('edfi_documents').where({ resource: 'studentSchoolAssociations', student_unique_id: student.studentUniqueId }).first();
      expect(JSON.parse(row.body).schoolReference).toEqual({ schoolId: student.schoolId });
      expect(row.key_hash).toBe(naturalKeyHash([student.studentUniqueId, student.schoolId, student.entryDate]));
    });

    it('is idempotent: the same batch three times leaves one copy of each student and association', async () => {
      const students = roster(300, 'IDEM');
      const answers = [];
      for (let i = 0; i < 3; i++) answers.push(await (await sync(app, secret, { students })).json());
      expect(answers).toEqual([
        { received: 300, created: 300, updated: 0, unchanged: 0 },
        { received: 300, created: 0, updated: 0, unchanged: 300 },
        { received: 300, created: 0, updated: 0, unchanged: 300 },
      ]);
      const count = async (table: string, column: string) => Number((await app.services.db(table).where(column, 'like', 'IDEM%').count({ n: '*' }))[0].n);
      expect(await count('edfi_documents', 'student_unique_id')).toBe(600);
      expect(await count('edfi_subject_edorgs', 'subject_id')).toBe(300);
    });

    it('counts an enrolment at a second school as created and a changed name as updated', async () => {
      const [student] = roster(1, 'MOVE');
      await sync(app, secret, { students: [student] });
      const secondSchool = { ...student, schoolId: gbSchools.find((s) => s !== student.schoolId)!, entryDate: '2026-01-05' };
      expect(await (await sync(app, secret, { students: [student, secondSchool] })).json()).toEqual({ received: 2, created: 1, updated: 0, unchanged: 1 });
      const renamed = { ...student, lastSurname: 'Renamed' };
      expect(await (await sync(app, secret, { students: [renamed] })).json()).toEqual({ received: 1, created: 0, updated: 1, unchanged: 0 });
      const row = await app.services.db('edfi_documents').where({ resource: 'students', student_unique_id: student.studentUniqueId }).first();
      expect(JSON.parse(row.body).lastSurname).toBe('Renamed');
      expect(row.etag).toBe(documentEtag(JSON.parse(row.body)));
      expect(await app.services.db('edfi_subject_edorgs').where({ subject_id: student.studentUniqueId }).count({ n: '*' })).toEqual([{ n: 2 }]);
    });

    it('keeps members of a student that the SIS does not send', async () => {
      const [student] = roster(1, 'KEEP');
      const stored = { studentUniqueId: student.studentUniqueId, firstName: student.firstName, middleName: 'Quinn', lastSurname: student.lastSurname, birthDate: student.birthDate };
      const id = 'ab'.repeat(16);
      await app.services.db('edfi_documents').insert({
        id, resource: 'students', key_hash: naturalKeyHash([student.studentUniqueId]), body: JSON.stringify(stored),
        etag: documentEtag(stored), last_modified: 1, created_by: 'api-client', student_unique_id: student.studentUniqueId,
      });
      expect(await (await sync(app, secret, { students: [student] })).json()).toEqual({ received: 1, created: 1, updated: 0, unchanged: 0 });
      const unchangedStudent = await app.services.db('edfi_documents').where({ id }).first();
      expect(Number(unchangedStudent.last_modified)).toBe(1);

      expect(await (await sync(app, secret, { students: [{ ...student, firstName: 'Changed' }] })).json()).toMatchObject({ updated: 1 });
      const row = await app.services.db('edfi_documents').where({ id }).first();
      expect(JSON.parse(row.body)).toEqual({ ...stored, firstName: 'Changed' });
      expect(row.created_by).toBe('api-client');
    });

    it('takes a 5,000-student batch', async () => {
      const res = await sync(app, secret, { students: roster(5000, 'FULL') });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ received: 5000, created: 5000, updated: 0, unchanged: 0 });
      const [{ n }] = await app.services.db('edfi_documents').where('student_unique_id', 'like', 'FULL%').count({ n: '*' });
      expect(Number(n)).toBe(10_000);
    });

    it('answers identical concurrent requests without a 500 and without duplicates', async () => {
      const students = roster(200, 'RACE');
      const answers = await Promise.all(Array.from({ length: 4 }, async () => {
        const res = await sync(app, secret, { students });
        return { status: res.status, body: (await res.json()) as { created: number; unchanged: number } };
      }));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(answers.reduce((sum, a) => sum + a.body.created, 0)).toBe(200);
      const [{ n }] = await app.services.db('edfi_documents').where('student_unique_id', 'like', 'RACE%').count({ n: '*' });
      expect(Number(n)).toBe(400);
    });

    it('writes batches of different students side by side', async () => {
      const batches = [roster(2000, 'SIDEA'), roster(2000, 'SIDEB')];
      const answers = await Promise.all(batches.map(async (students) => {
        const res = await sync(app, secret, { students });
        return { status: res.status, body: await res.json() };
      }));
      expect(answers).toEqual([
        { status: 200, body: { received: 2000, created: 2000, updated: 0, unchanged: 0 } },
        { status: 200, body: { received: 2000, created: 2000, updated: 0, unchanged: 0 } },
      ]);
    });
  });
});

describe.each(engines)('SIS sync rate limit on $name', (engine) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(engine, { EDGATE_CONFIG: configFile({ sisSync: { requestsPerMinute: 3 } }) });
    await app.edorgs(...districts);
  });
  afterAll(() => app.stop());

  it('answers 429 rate_limited with Retry-After past the institution’s requests a minute', async () => {
    const grandBend = await secretFor(app, 255901);
    const other = await secretFor(app, 999);
    for (let i = 0; i < 3; i++) expect((await sync(app, grandBend, { students: [] })).status).toBe(200);
    const res = await sync(app, grandBend, { students: [] });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await res.json()).toMatchObject({ error: 'rate_limited', detail: expect.any(String) });
    // The limit is per institution.
    expect((await sync(app, other, { students: [] })).status).toBe(200);
  });
});

describe.runIf(redisUrl)('SIS sync rate limit shared through Redis', () => {
  const apps: TestApp[] = [];
  beforeAll(async () => {
    const shared = { EDGATE_CONFIG: configFile({ sisSync: { requestsPerMinute: 3 } }), REDIS_URL: redisUrl!, REDIS_PREFIX: `edgate-test:${randomBytes(4).toString('hex')}:` };
    for (let i = 0; i < 2; i++) {
      const app = await startTestApp(engines[0], shared);
      await app.edorgs(...districts);
      apps.push(app);
    }
  });
  afterAll(() => Promise.all(apps.map((app) => app.stop())));

  it('counts an institution’s requests across every instance', async () => {
    const [a, b] = apps;
    const [secretA, secretB] = [await secretFor(a, 255901), await secretFor(b, 255901)];
    expect((await sync(a, secretA, { students: [] })).status).toBe(200);
    expect((await sync(b, secretB, { students: [] })).status).toBe(200);
    expect((await sync(a, secretA, { students: [] })).status).toBe(200);
    const res = await sync(b, secretB, { students: [] });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
