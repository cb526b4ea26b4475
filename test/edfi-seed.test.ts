import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, json } from './edfi-helpers.js';

type Item = Record<string, unknown>;

describe.each(engines)('demo seed roster on $name', (engine) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp(engine);
  });
  afterAll(() => app.stop());

  it('loads Grand Bend with a roster readable through the API, and is safe to run again', async () => {
    const first = await app.cli('db', 'seed', '--json');
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).roster.students).toEqual({ created: 6, updated: 0, unchanged: 0 });
    const again = JSON.parse((await app.cli('db', 'seed', '--json')).stdout);
    expect(again.roster.studentSchoolAttendanceEvents).toEqual({ created: 0, updated: 0, unchanged: 18 });

    const district = await apiClient(app, { edorgIds: [255901] });
    const elementary = await apiClient(app, { edorgIds: [255901107] });
    expect(await json<Item[]>(await district.get('students'))).toHaveLength(6);
    expect((await json<Item[]>(await elementary.get('students'))).map((s) => s.studentUniqueId).sort()).toEqual(['604825', '604826']);
    expect(await json<Item[]>(await district.get('staffs'))).toHaveLength(3);
    expect(await json<Item[]>(await elementary.get('contacts'))).toHaveLength(1);
    expect(await json<Item[]>(await district.get('studentSchoolAttendanceEvents?schoolId=255901044'))).toHaveLength(6);
    const projected = await app.services.db('attendance_events').where({ school_id: 255901001 }).count({ n: '*' });
    expect(Number(projected[0].n)).toBe(6);
  });
});
