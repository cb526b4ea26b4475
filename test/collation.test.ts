import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { migrationSource } from '../migrations/index.js';
import { dialectOf } from '../src/db/knex.js';
import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, contact, contactLink, enrolment, json, staffMember, assignment, student, type ApiClient } from './edfi-helpers.js';
import { secretFor, sync } from './sis-helpers.js';

type Item = Record<string, unknown>;

/**
 * Identity, reference and link columns compare byte for byte on every engine. MariaDB's usual
 * defaults (utf8mb4_general_ci: case-insensitive, PAD SPACE) once let a case variant or a trailing
 * space of an id stand for another school's student. Each case below pairs an id in reach with a
 * look-alike that is not, and checks the look-alike stays out of reach.
 */
const lookAlikes = (id: string) => [id.toLowerCase(), `${id} `];

/**
 * The API and SIS sync refuse ids with edge spaces, so a trailing-space look-alike can only be
 * rows already in the database (written by an older version or another writer). Clone a stored
 * subject's documents and reach links under the new id, as such a writer would have left them.
 */
async function storeLookAlike(app: TestApp, column: 'student_unique_id' | 'staff_unique_id', from: string, to: string): Promise<string> {
  const { db } = app.services;
  const rows = (await db('edfi_documents').where(column, from)) as Array<Record<string, unknown> & { id: string; body: string }>;
  const ids = new Map(rows.map((r) => [r.id, randomBytes(16).toString('hex')]));
  for (const row of rows) {
    const body = row.body.replaceAll(JSON.stringify(from), JSON.stringify(to));
    await db('edfi_documents').insert({ ...row, id: ids.get(row.id), key_hash: randomBytes(32).toString('hex'), body, [column]: to });
  }
  const links = (await db('edfi_subject_edorgs').whereIn('via_document_id', [...ids.keys()])) as Array<{ via_document_id: string }>;
  for (const link of links) await db('edfi_subject_edorgs').insert({ ...link, subject_id: to, via_document_id: ids.get(link.via_document_id) });
  return ids.get(rows.find((r) => r.resource === (column === 'student_unique_id' ? 'students' : 'staffs'))!.id)!;
}

describe.each(engines)('ids compare byte for byte on $name', (engine) => {
  let app: TestApp;
  let high: ApiClient; // reach: Grand Bend High only
  let middle: ApiClient; // reach: Grand Bend Middle only
  const theirs: Record<string, string> = {};

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
    high = await apiClient(app, { edorgIds: [255901001] });
    middle = await apiClient(app, { edorgIds: [255901044] });

    await high.create('students', student('VICQABC'));
    await high.create('studentSchoolAssociations', enrolment('VICQABC', 255901001));
    await high.create('staffs', staffMember('STAFFQ'));
    await high.create('staffEducationOrganizationAssignmentAssociations', assignment('STAFFQ', 255901001));
    await high.create('contacts', contact('CONTQ'));
    await high.create('studentContactAssociations', contactLink('VICQABC', 'CONTQ'));

    const [studentCase, studentSpace] = lookAlikes('VICQABC');
    theirs[`student ${studentCase}`] = await middle.create('students', student(studentCase));
    await middle.create('studentSchoolAssociations', enrolment(studentCase, 255901044));
    theirs[`student "${studentSpace}"`] = await storeLookAlike(app, 'student_unique_id', studentCase, studentSpace);
    const [staffCase, staffSpace] = lookAlikes('STAFFQ');
    theirs[`staff ${staffCase}`] = await middle.create('staffs', staffMember(staffCase));
    await middle.create('staffEducationOrganizationAssignmentAssociations', assignment(staffCase, 255901044));
    theirs[`staff "${staffSpace}"`] = await storeLookAlike(app, 'staff_unique_id', staffCase, staffSpace);
  });
  afterAll(() => app.stop());

  it('keeps a case variant or a trailing-space variant of a student id out of another school\'s list', async () => {
    const students = await json<Item[]>(await high.get('students?limit=500'));
    expect(students.map((s) => s.studentUniqueId)).toEqual(['VICQABC']);
    expect(await json<Item[]>(await high.get('studentSchoolAssociations?limit=500'))).toHaveLength(1);
    expect((await high.get('students?totalCount=true')).headers.get('total-count')).toBe('1');
  });

  it('refuses to read or replace a look-alike student or staff member outside reach', async () => {
    for (const [label, id] of Object.entries(theirs)) {
      const path = `${label.startsWith('student') ? 'students' : 'staffs'}/${id}`;
      const read = await high.get(path);
      expect(read.status, label).toBe(403);
      const item = await json<Item>(await middle.get(path));
      const { id: _id, _etag, _lastModifiedDate, ...body } = item;
      const put = await high.put(path, { ...body, firstName: 'Changed' });
      expect(put.status, label).toBe(403);
      expect((await json<Item>(await middle.get(path))).firstName, label).not.toBe('Changed');
    }
  });

  it('keeps look-alike staff out of another school\'s staff list', async () => {
    const staff = await json<Item[]>(await high.get('staffs?limit=500'));
    expect(staff.map((s) => s.staffUniqueId)).toEqual(['STAFFQ']);
  });

  it('does not reach a contact through a look-alike student', async () => {
    await middle.create('contacts', contact('CONTL'));
    await middle.create('studentContactAssociations', contactLink('vicqabc', 'CONTL'));
    const contacts = await json<Item[]>(await high.get('contacts?limit=500'));
    expect(contacts.map((c) => c.contactUniqueId)).toEqual(['CONTQ']);
  });

  it('keeps a SIS-written case variant out of reach', async () => {
    const secret = await secretFor(app, 255901);
    const res = await sync(app, secret, {
      students: [{ studentUniqueId: 'vicqsis', firstName: 'Sis', lastSurname: 'Look-alike', birthDate: '2011-01-01', schoolId: 255901044, entryDate: '2025-08-20' }],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ received: 1, created: 1 });
    await high.create('students', student('VICQSIS'));
    await high.create('studentSchoolAssociations', enrolment('VICQSIS', 255901001));
    const students = await json<Item[]>(await high.get('students?limit=500'));
    expect(students.map((s) => s.studentUniqueId).sort()).toEqual(['VICQABC', 'VICQSIS']);
  });

  it('refuses a token for a case variant or a trailing-space variant of a client id', async () => {
    const { clientId, secret } = await app.client({ edorgIds: [255901001] });
    for (const variant of [clientId.toLowerCase(), clientId.toUpperCase(), `${clientId} `].filter((v) => v !== clientId)) {
      const res = await app.fetch('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: variant, client_secret: secret, grant_type: 'client_credentials' }),
      });
      expect(res.status, JSON.stringify(variant)).toBe(401);
      expect((await json(res)).error).toBe('invalid_client');
    }
  });

  it.runIf(engine.name === 'mysql')('gives every text column a binary, no-pad collation', async () => {
    const { db } = app.services;
    expect(dialectOf(db)).toBe('mysql');
    const [rows] = (await db.raw(
      `select table_name as t, column_name as c, collation_name as collation from information_schema.columns
        where table_schema = database() and collation_name is not null and table_name not like 'knex%'`,
    )) as [Array<{ t: string; c: string; collation: string }>];
    expect(rows.length).toBeGreaterThan(10);
    // MariaDB's and MySQL 8's binary NO PAD collations: bytes compared, trailing spaces significant, as on SQLite.
    for (const row of rows) expect(['utf8mb4_nopad_bin', 'utf8mb4_0900_bin'], `${row.t}.${row.c}`).toContain(row.collation);
  });

  it.runIf(engine.name === 'mysql')('migrates existing rows down to the old collation and up again without loss', async () => {
    const { db } = app.services;
    const collationOf = async () =>
      ((await db.raw("select collation_name as c from information_schema.columns where table_schema = database() and table_name = 'clients' and column_name = 'client_id'")) as [Array<{ c: string }>])[0][0].c;
    const count = async () => Number(((await db('edfi_documents').count({ n: '*' })) as Array<{ n: number }>)[0].n);
    const before = await count();
    expect(before).toBeGreaterThan(10);
    // That migration by name: later migrations (the portal's) stay, and `latest` converts their tables too.
    await db.migrate.down({ migrationSource, name: '20261201000000_byte_collation' });
    expect(await collationOf()).toBe('utf8mb4_general_ci');
    expect(await count()).toBe(before);
    await db.migrate.latest({ migrationSource });
    expect(await collationOf()).toMatch(/^utf8mb4_(nopad|0900)_bin$/);
    expect(await count()).toBe(before);
    expect((await json<Item[]>(await high.get('students?limit=500'))).map((s) => s.studentUniqueId).sort()).toEqual(['VICQABC', 'VICQSIS']);
  });
});
