import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../src/config/index.js';
import { startServer, type RunningServer } from '../src/app/server.js';
import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, enrolment, json, student, type ApiClient } from './edfi-helpers.js';
import { roster, secretFor, sync } from './sis-helpers.js';

type Item = Record<string, unknown>;

describe.each(engines)('Change queries on $name', (engine) => {
  let app: TestApp;
  let grand: ApiClient;
  let other: ApiClient;

  const newest = async (client: ApiClient = grand) => (await json<{ newestChangeVersion: number }>(await client.get('/changeQueries/v1/availableChangeVersions'))).newestChangeVersion;
  const enrolled = async (client: ApiClient, id: string, school: number) => {
    const studentId = await client.create('students', student(id));
    const enrolmentId = await client.create('studentSchoolAssociations', enrolment(id, school));
    return { studentId, enrolmentId };
  };

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend, { id: 999, type: 'lea', name: 'Other ISD' }, { id: 999001, type: 'school', name: 'Other High', parentId: 999 });
    grand = await apiClient(app, { edorgIds: [255901] });
    other = await apiClient(app, { edorgIds: [999] });
  });
  afterAll(() => app.stop());

  it('answers availableChangeVersions behind the gateway, and every write raises the newest by one', async () => {
    expect((await app.fetch('/changeQueries/v1/availableChangeVersions')).status).toBe(401);
    // Ed-Fi clients find the API through the version document, as on the ODS/API.
    expect(((await (await app.fetch('/')).json()) as { urls: Record<string, string> }).urls.changeQueries).toMatch(/\/changeQueries\/v1\/$/);
    const res = await grand.get('/changeQueries/v1/AvailableChangeVersions');
    expect(res.status).toBe(200);
    const before = await json<{ oldestChangeVersion: number; newestChangeVersion: number }>(res);
    expect(before.oldestChangeVersion).toBe(0);
    const sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    await sandbox.create('students', student('CV1'));
    expect(await newest()).toBe(before.newestChangeVersion + 1);
    // An unchanged re-send writes nothing, so it takes no version.
    expect((await sandbox.post('students', student('CV1'))).status).toBe(200);
    expect(await newest()).toBe(before.newestChangeVersion + 1);
  });

  it('stamps SIS sync writes too: a batch takes one version per item it changes, and a re-send none', async () => {
    const before = await newest();
    const secret = await secretFor(app, 255901);
    const batch = { students: roster(3, 'SIS') };
    expect((await sync(app, secret, batch)).status).toBe(200);
    // Three students and their three enrolments.
    expect(await newest()).toBe(before + 6);
    const names = (await json<Item[]>(await grand.get(`students?minChangeVersion=${before + 1}&limit=500`))).map((s) => s.studentUniqueId).sort();
    expect(names).toEqual(['SIS000000', 'SIS000001', 'SIS000002']);
    expect((await sync(app, secret, batch)).status).toBe(200);
    expect(await newest()).toBe(before + 6);
  });

  it('filters every collection by minChangeVersion and maxChangeVersion, inclusive', async () => {
    const start = await newest();
    await enrolled(grand, 'MM1', 255901001);
    const afterFirst = await newest();
    await enrolled(grand, 'MM2', 255901001);
    const afterSecond = await newest();
    await grand.put(`students/${(await json<Item[]>(await grand.get('students?studentUniqueId=MM1')))[0].id}`, student('MM1', { firstName: 'Changed' }));
    const names = async (query: string) => (await json<Item[]>(await grand.get(`students?${query}&limit=500`))).map((s) => s.studentUniqueId).sort();
    expect(await names(`minChangeVersion=${start + 1}`)).toEqual(['MM1', 'MM2']);
    expect(await names(`minChangeVersion=${start + 1}&maxChangeVersion=${afterSecond}`)).toEqual(['MM2']);
    expect(await names(`minChangeVersion=${afterSecond + 1}`)).toEqual(['MM1']);
    expect(await names(`minChangeVersion=${start + 1}&maxChangeVersion=${afterFirst}`)).toEqual([]);
    const bad = await grand.get('students?minChangeVersion=yesterday');
    expect(bad.status).toBe(400);
    expect((await json(bad)).error).toBe('invalid_query');
  });

  it('lets a school delete a student whose enrolment it deleted, as the ODS/API does, and no one else; reads and updates still need a live enrolment', async () => {
    const { studentId, enrolmentId } = await enrolled(grand, 'GONE1', 255901044);
    expect((await grand.del(`studentSchoolAssociations/${enrolmentId}`)).status).toBe(204);
    // Only a deletion counts the deleted enrolment.
    expect((await grand.get(`students/${studentId}`)).status).toBe(403);
    expect((await grand.put(`students/${studentId}`, student('GONE1', { firstName: 'Changed' }))).status).toBe(403);
    // A school the student never attended cannot delete it.
    expect((await other.del(`students/${studentId}`)).status).toBe(403);
    expect((await grand.del(`students/${studentId}`)).status).toBe(204);
    // Never enrolled anywhere: nothing links it to the school, so it cannot be deleted by relationships.
    const sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    const lonely = await sandbox.create('students', student('GONE2'));
    expect((await grand.del(`students/${lonely}`)).status).toBe(403);
  });

  it('lists deletes with the identity each item had, to the schools that reached it, and never outside the reader\'s reach', async () => {
    const since = (await newest()) + 1;
    const mine = await enrolled(grand, 'DEL1', 255901044);
    const theirs = await enrolled(other, 'DEL2', 999001);
    // The enrolment goes first; the student, reachable through nothing any more, is deleted by a sandbox client.
    const sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    for (const [client, made] of [[grand, mine], [other, theirs]] as const) {
      expect((await client.del(`studentSchoolAssociations/${made.enrolmentId}`)).status).toBe(204);
      expect((await sandbox.del(`students/${made.studentId}`)).status).toBe(204);
    }
    const res = await grand.get(`students/deletes?minChangeVersion=${since}&totalCount=true`);
    expect(res.status).toBe(200);
    expect(res.headers.get('total-count')).toBe('1');
    const deletes = await json<Item[]>(res);
    expect(deletes).toEqual([{ id: mine.studentId, changeVersion: expect.any(Number), keyValues: { studentUniqueId: 'DEL1' } }]);
    const enrolments = await json<Item[]>(await grand.get(`studentSchoolAssociations/deletes?minChangeVersion=${since}`));
    expect(enrolments).toEqual([{ id: mine.enrolmentId, changeVersion: expect.any(Number), keyValues: { studentUniqueId: 'DEL1', schoolId: 255901044, entryDate: '2025-08-20' } }]);
    expect((await json<Item[]>(await other.get(`students/deletes?minChangeVersion=${since}`))).map((d) => d.id)).toEqual([theirs.studentId]);
    // Versions order the deletes: the enrolment went first.
    expect(Number(enrolments[0].changeVersion)).toBeLessThan(Number(deletes[0].changeVersion));
  });

  it('drops a delete from /deletes once the same identity is created again', async () => {
    const since = (await newest()) + 1;
    const sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    const first = await sandbox.create('students', student('AGAIN'));
    expect((await sandbox.del(`students/${first}`)).status).toBe(204);
    expect((await json<Item[]>(await sandbox.get(`students/deletes?minChangeVersion=${since}`))).map((d) => d.id)).toEqual([first]);
    await sandbox.create('students', student('AGAIN'));
    expect(await json<Item[]>(await sandbox.get(`students/deletes?minChangeVersion=${since}`))).toEqual([]);
  });

  it('reports key changes once per item: the first old identity, the last new one', async () => {
    const since = (await newest()) + 1;
    const { enrolmentId } = await enrolled(grand, 'KC1', 255901001);
    expect((await grand.put(`studentSchoolAssociations/${enrolmentId}`, enrolment('KC1', 255901001, '2025-09-01'))).status).toBe(204);
    const firstChange = await json<Item[]>(await grand.get(`studentSchoolAssociations/keyChanges?minChangeVersion=${since}`));
    expect(firstChange).toEqual([
      {
        id: enrolmentId,
        changeVersion: expect.any(Number),
        oldKeyValues: { studentUniqueId: 'KC1', schoolId: 255901001, entryDate: '2025-08-20' },
        newKeyValues: { studentUniqueId: 'KC1', schoolId: 255901001, entryDate: '2025-09-01' },
      },
    ]);
    expect((await grand.put(`studentSchoolAssociations/${enrolmentId}`, enrolment('KC1', 255901001, '2025-09-02'))).status).toBe(204);
    const res = await grand.get(`studentSchoolAssociations/keyChanges?minChangeVersion=${since}&totalCount=true`);
    expect(res.headers.get('total-count')).toBe('1');
    const [change] = await json<Item[]>(res);
    expect(change.oldKeyValues).toEqual({ studentUniqueId: 'KC1', schoolId: 255901001, entryDate: '2025-08-20' });
    expect(change.newKeyValues).toEqual({ studentUniqueId: 'KC1', schoolId: 255901001, entryDate: '2025-09-02' });
    expect(Number(change.changeVersion)).toBeGreaterThan(Number(firstChange[0].changeVersion));
    expect(await json<Item[]>(await other.get(`studentSchoolAssociations/keyChanges?minChangeVersion=${since}`))).toEqual([]);
    // An enrolment moved to another school: the new school's reader learns of the change too, the old school's still does.
    const highOnly = await apiClient(app, { edorgIds: [255901001] });
    const elementaryOnly = await apiClient(app, { edorgIds: [255901107] });
    expect((await grand.put(`studentSchoolAssociations/${enrolmentId}`, enrolment('KC1', 255901107, '2025-09-02'))).status).toBe(204);
    for (const reader of [highOnly, elementaryOnly]) {
      const [moved] = await json<Item[]>(await reader.get(`studentSchoolAssociations/keyChanges?minChangeVersion=${since}`));
      expect(moved).toMatchObject({ id: enrolmentId, newKeyValues: { schoolId: 255901107 } });
    }
    expect(await json<Item[]>(await grand.get('/data/v3/ed-fi/gradeLevelDescriptors/keyChanges'))).toEqual([]);
  });

  it('refuses a bad limit and offset on /deletes with both reasons, as the ODS/API does', async () => {
    const res = await grand.get('students/deletes?limit=-1&offset=-1');
    expect(res.status).toBe(400);
    const problem = await json(res);
    expect(problem).toMatchObject({ type: 'urn:ed-fi:api:bad-request:parameter-validation-failed', error: 'bad_request', detail: 'Parameters supplied to the request were invalid.' });
    expect(problem.errors).toEqual(['Limit must be omitted or set to a value between 1 and 500.', 'Offset must be greater than or equal to 0.']);
    const version = await json(await grand.get('students/keyChanges?minChangeVersion=yesterday'));
    expect(version).toMatchObject({ error: 'bad_request', errors: ['minChangeVersion must be a non-negative integer (a change version), got "yesterday".'] });
    expect((await grand.get('nonExisting/deletes')).status).toBe(404);
    const snapshot = await grand.get('students/deletes', { 'use-snapshot': 'true' });
    expect(snapshot.status).toBe(404);
    expect((await json(snapshot)).error).toBe('snapshot_not_configured');
  });

  it('pages by cursor: partitions split the items evenly, and each Next-Page-Token walk reads its slice once', async () => {
    const since = (await newest()) + 1;
    const ids = new Set<string>();
    for (let i = 0; i < 7; i++) ids.add((await enrolled(grand, `CUR${i}`, 255901107)).studentId);
    const window = `minChangeVersion=${since}`;
    const tokens = async (query: string) => {
      const res = await grand.get(`students/partitions?${window}&${query}`);
      expect(res.status, query).toBe(200);
      return (await json<{ pageTokens: string[] }>(res)).pageTokens;
    };
    /** Follows Next-Page-Token until the first empty page (which, as on the ODS/API, carries none). */
    const walk = async (token: string) => {
      const pages: string[][] = [];
      for (let next: string | null = token; next; ) {
        const res = await grand.get(`students?${window}&pageSize=3&pageToken=${encodeURIComponent(next)}`);
        expect(res.status).toBe(200);
        pages.push((await json<Item[]>(res)).map((s) => String(s.id)));
        next = res.headers.get('next-page-token');
        if (pages.length > 20) throw new Error('the walk did not end');
      }
      expect(pages.at(-1)).toEqual([]);
      return pages;
    };
    // Without allowSmallPartitions a partition holds at least five full pages (2,500 items): 7 items are one.
    const [whole] = await tokens('number=3');
    expect(await tokens('number=3')).toHaveLength(1);
    expect((await walk(whole)).map((page) => page.length)).toEqual([3, 3, 1, 0]);
    // Small partitions: as many as asked, differing by one item at most, the larger ones last (the ODS/API's suite
    // wants the last no smaller than the one before, and under twice it); more than the items gives one each.
    const parts = await Promise.all((await tokens('number=3&allowSmallPartitions=true')).map(walk));
    expect(parts.map((pages) => pages.flat().length)).toEqual([2, 2, 3]);
    expect(parts.flat(2).sort()).toEqual([...ids].sort());
    const fifths = await Promise.all((await tokens('number=5&allowSmallPartitions=true')).map(walk));
    expect(fifths.map((pages) => pages.flat().length)).toEqual([1, 1, 1, 2, 2]);
    expect(await tokens('number=200&allowSmallPartitions=true')).toHaveLength(7);
    // The default is ten, floored the same way, and the same tokens as asking for ten.
    expect(await tokens('')).toEqual(await tokens('number=10'));
    // Filters narrow the partitions as they narrow the collection: one item, one partition.
    expect(await tokens('studentUniqueId=CUR3&number=5&allowSmallPartitions=true')).toHaveLength(1);
    // Nothing to read, no tokens, as on the ODS/API.
    expect(await tokens('studentUniqueId=NOBODY')).toEqual([]);
  });

  it('refuses what the ODS/API refuses in cursor paging, in its words', async () => {
    const [token] = (await json<{ pageTokens: string[] }>(await grand.get('students/partitions?number=1'))).pageTokens;
    const cases: Array<[string, string]> = [
      ['students?pageToken=bm90LWEtdG9rZW4&pageSize=2', 'The page token provided was invalid.'],
      ['students?pageToken=%20e30&pageSize=2', 'The page token provided was invalid.'],
      ['students?pageSize=5', 'PageToken is required when pageSize is specified.'],
      [`students?pageToken=${token}&pageSize=5&offset=0`, 'Both offset and pageToken parameters were provided, but they support alternative paging approaches and cannot be used together.'],
      [`students?pageToken=${token}&pageSize=5&totalCount=true`, 'Total count cannot be determined while using cursor paging (when pageToken is specified).'],
      [`students?pageToken=${token}&pageSize=501`, 'PageSize must be a value between 1 and 500.'],
      ['students?limit=501', 'Limit must be a value between 0 and 500.'],
      ['students/partitions?number=0', 'Number of partitions must be between 1 and 200.'],
      ['students/partitions?number=201', 'Number of partitions must be between 1 and 200.'],
    ];
    for (const [path, reason] of cases) {
      const res = await grand.get(path);
      expect(res.status, path).toBe(400);
      expect(await json(res), path).toMatchObject({
        type: 'urn:ed-fi:api:bad-request:parameter-validation-failed',
        detail: 'The request construction was invalid.',
        error: 'invalid_query',
        errors: [reason],
      });
    }
    // A limit beside a token is tolerated, as on the ODS/API.
    expect((await grand.get(`students?pageToken=${token}&pageSize=2&limit=0`)).status).toBe(200);
  });

  it('filters by id, and reports a malformed id as the ODS/API does', async () => {
    const { studentId } = await enrolled(grand, 'IDF1', 255901107);
    const found = await json<Item[]>(await grand.get(`students?id=${studentId.toUpperCase()}`));
    expect(found.map((s) => s.studentUniqueId)).toEqual(['IDF1']);
    expect(await json(await grand.get('students?id=0123456789abcdef0123456789abcdef'))).toEqual([]);
    const bad = await grand.get('students?offset=0&limit=25&id=invalid');
    expect(bad.status).toBe(400);
    expect(await json(bad)).toMatchObject({
      type: 'urn:ed-fi:api:bad-request:data-validation-failed',
      error: 'data_validation_failed',
      validationErrors: { '$.id': ["The value 'invalid' is not valid for Id."] },
    });
  });

  it('issues versions that only grow across two instances writing at once, each version once', async () => {
    const second: RunningServer = await startServer(loadConfig(app.env));
    try {
      const token = await app.token(await app.client({ edorgIds: [255901] }));
      const before = await newest();
      const post = (base: string, i: number) =>
        fetch(`${base}/data/v3/ed-fi/students`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(student(`PAR${i}`)),
        });
      const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => post(i % 2 ? second.url : app.url, i)));
      expect(answers.map((r) => r.status)).toEqual(Array(24).fill(201));
      const after = await newest();
      expect(after).toBe(before + 24);
      const versions = (await app.services.db('edfi_documents').where('change_version', '>', before).pluck('change_version')).map(Number).sort((a, b) => a - b);
      expect(versions).toEqual(Array.from({ length: 24 }, (_, i) => before + 1 + i));
    } finally {
      await second.close();
    }
  });
});
