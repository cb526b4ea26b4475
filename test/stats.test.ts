import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { attend, bearer, enrol } from './helpers/gateway.js';

const category = (code: string, namespace = 'uri://ed-fi.org') => `${namespace}/AttendanceEventCategoryDescriptor#${code}`;
const high = 255901001;
const middle = 255901044;

/**
 * The known data set. High school: three students enrolled, nine events over four days —
 * 4 In Attendance, 2 Tardy (one in a district namespace), 1 Excused, 1 Unexcused, and one
 * Early departure that no bucket takes. Middle school: one student, one event, which must
 * never leak into the high school's figures.
 */
async function seedAttendance(app: TestApp): Promise<void> {
  const { db } = app.services;
  for (const student of ['S1', 'S2', 'S3']) await enrol(db, student, high);
  await enrol(db, 'S4', middle);
  const events: Array<[string, string, string]> = [
    ['S1', '2026-09-01', category('In Attendance')],
    ['S2', '2026-09-01', category('Tardy')],
    ['S3', '2026-09-01', category('Unexcused Absence')],
    ['S1', '2026-09-02', category('In Attendance')],
    ['S2', '2026-09-02', category('Excused Absence')],
    ['S3', '2026-09-02', category('In Attendance')],
    ['S1', '2026-09-03', category('Tardy', 'uri://grandbend.example')],
    ['S2', '2026-09-03', category('Early departure')],
    ['S1', '2026-10-01', category('In Attendance')],
  ];
  for (const [student, date, descriptor] of events) await attend(db, student, high, date, descriptor);
  await attend(db, 'S4', middle, '2026-09-01', category('Unexcused Absence'));
}

describe.each(engines)('attendance summary on $name', (engine) => {
  let app: TestApp;
  let token: string;

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
    await seedAttendance(app);
    token = await app.token(await app.client({ tier: 'premium', edorgIds: [255901] }));
  });
  afterAll(() => app.stop());

  const summary = async (query: string) => {
    const res = await app.fetch(`/stats/v1/attendance/summary?${query}`, bearer(token));
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('sums every event of the school when no dates are given', async () => {
    expect(await summary(`school_id=${high}`)).toEqual({
      status: 200,
      body: {
        school_id: String(high),
        from: null,
        to: null,
        students_enrolled: 3,
        days_recorded: 4,
        present: 4,
        absent: 1,
        tardy: 2,
        excused: 1,
        attendance_rate: 0.75,
      },
    });
  });

  it('keeps to an inclusive date range', async () => {
    expect(await summary(`school_id=${high}&from=2026-09-02&to=2026-09-03`)).toMatchObject({
      status: 200,
      body: { from: '2026-09-02', to: '2026-09-03', students_enrolled: 3, days_recorded: 2, present: 2, absent: 0, tardy: 1, excused: 1, attendance_rate: 0.75 },
    });
    expect((await summary(`school_id=${high}&from=2026-09-02`)).body).toMatchObject({ from: '2026-09-02', to: null, days_recorded: 3, present: 3, tardy: 1, excused: 1, absent: 0, attendance_rate: 0.8 });
    const early = (await summary(`school_id=${high}&to=2026-09-01`)).body;
    expect(early).toMatchObject({ from: null, to: '2026-09-01', days_recorded: 1, present: 1, tardy: 1, excused: 0, absent: 1 });
    expect(early.attendance_rate).toBeCloseTo(2 / 3, 10);
  });

  it('counts only the school asked for', async () => {
    expect((await summary(`school_id=${middle}`)).body).toMatchObject({ students_enrolled: 1, days_recorded: 1, present: 0, absent: 1, tardy: 0, excused: 0, attendance_rate: 0 });
  });

  it('answers zeros and a rate of 0 for a school with no events', async () => {
    expect((await summary('school_id=255901107')).body).toMatchObject({ students_enrolled: 0, days_recorded: 0, present: 0, absent: 0, tardy: 0, excused: 0, attendance_rate: 0 });
    expect((await summary(`school_id=${high}&from=2027-01-01`)).body).toMatchObject({ students_enrolled: 3, days_recorded: 0, present: 0, attendance_rate: 0 });
  });

  it('answers 400 missing_parameter without school_id', async () => {
    for (const query of ['', 'school_id=', 'from=2026-09-01']) {
      const { status, body } = await summary(query);
      expect({ status, error: body.error, parameter: body.parameter }).toEqual({ status: 400, error: 'missing_parameter', parameter: 'school_id' });
    }
  });

  it('answers 400 invalid_date for a date that is not YYYY-MM-DD or not on the calendar', async () => {
    for (const [name, value] of [['from', '2026-9-1'], ['to', '2026-02-30'], ['from', 'yesterday'], ['to', '2026-09-01T00:00:00Z']]) {
      const { status, body } = await summary(`school_id=${high}&${name}=${encodeURIComponent(value)}`);
      expect({ status, error: body.error, parameter: body.parameter }).toEqual({ status: 400, error: 'invalid_date', parameter: name });
      expect(body.detail).toContain(value);
    }
  });

  it('answers 400 invalid_date_range when from is after to, and 400 invalid_parameter for a repeated one', async () => {
    expect((await summary(`school_id=${high}&from=2026-09-03&to=2026-09-01`)).body.error).toBe('invalid_date_range');
    const repeated = await summary(`school_id=${high}&school_id=${middle}`);
    expect({ status: repeated.status, error: repeated.body.error }).toEqual({ status: 400, error: 'invalid_parameter' });
  });

  it('answers 403 school_not_approved for a school outside the token, before reading any data', async () => {
    const other = await app.token(await app.client({ tier: 'standard', edorgIds: [middle] }));
    const res = await app.fetch(`/stats/v1/attendance/summary?school_id=${high}`, bearer(other));
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: 'school_not_approved' });
  });
});
