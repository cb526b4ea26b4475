import { execFile, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import type { ClientInput } from '../src/db/clients.js';
import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';

/**
 * API profiles (contract section 6) over HTTP against the real app: the shipped Nutrition profile
 * plus test profiles in both file forms, in a temporary profilesDir.
 */
const data = '/data/v3/ed-fi';
const readable = (resource: string, profile: string) => `application/vnd.ed-fi.${resource}.${profile}.readable+json`;
const writable = (resource: string, profile: string) => `application/vnd.ed-fi.${resource}.${profile}.writable+json`;

const studentProfilesXml = `<?xml version="1.0" encoding="utf-8"?>
<Profiles>
  <Profile name="Student-Exclude">
    <Resource name="Student">
      <ReadContentType memberSelection="ExcludeOnly"><Property name="BirthDate"/><Property name="BirthCity"/></ReadContentType>
      <WriteContentType memberSelection="ExcludeOnly"><Property name="BirthCity"/></WriteContentType>
    </Resource>
  </Profile>
  <Profile name="Student-MiddleName">
    <Resource name="Student">
      <ReadContentType memberSelection="IncludeAll"/>
      <WriteContentType memberSelection="IncludeOnly"><Property name="MiddleName"/></WriteContentType>
    </Resource>
  </Profile>
  <Profile name="Student-Identity">
    <Resource name="Student">
      <ReadContentType memberSelection="ExcludeAll"/>
      <WriteContentType memberSelection="ExcludeAll"/>
    </Resource>
  </Profile>
  <Profile name="School-Lea">
    <Resource name="School">
      <ReadContentType memberSelection="IncludeOnly">
        <Property name="NameOfInstitution"/>
        <Object name="LocalEducationAgencyReference" memberSelection="IncludeOnly"><Property name="LocalEducationAgencyId"/></Object>
      </ReadContentType>
    </Resource>
  </Profile>
</Profiles>`;

const contactProfilesJson = {
  profiles: [
    {
      name: 'Contact-Home',
      resources: [
        {
          name: 'Contact',
          readContentType: {
            memberSelection: 'IncludeOnly',
            properties: ['firstName'],
            collections: [
              {
                name: 'electronicMails',
                memberSelection: 'IncludeOnly',
                properties: ['electronicMailAddress'],
                filter: { propertyName: 'electronicMailTypeDescriptor', filterMode: 'IncludeOnly', values: ['Home'] },
              },
            ],
          },
          writeContentType: {
            memberSelection: 'IncludeOnly',
            properties: ['firstName', 'lastSurname'],
            collections: [
              {
                name: 'electronicMails',
                memberSelection: 'IncludeAll',
                filter: { propertyName: 'electronicMailTypeDescriptor', filterMode: 'IncludeOnly', values: ['uri://ed-fi.org/ElectronicMailTypeDescriptor#Home'] },
              },
            ],
          },
        },
      ],
    },
  ],
};

/** A profilesDir holding the shipped Nutrition profile beside the test profiles. */
function testProfilesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-profiles-'));
  copyFileSync(fromRoot('config', 'profiles', 'Nutrition.xml'), join(dir, 'Nutrition.xml'));
  writeFileSync(join(dir, 'students.xml'), studentProfilesXml);
  writeFileSync(join(dir, 'contacts.json'), JSON.stringify(contactProfilesJson, null, 2));
  writeFileSync(join(dir, 'README.md'), 'not a definition: skipped\n');
  return dir;
}

interface Caller {
  get(path: string, accept?: string): Promise<Response>;
  send(method: 'POST' | 'PUT', path: string, body: unknown, contentType?: string): Promise<Response>;
}

async function caller(app: TestApp, input: ClientInput): Promise<Caller> {
  const token = await app.token(await app.client(input));
  const url = (path: string) => (path.startsWith('/') ? path : `${data}/${path}`);
  return {
    get: (path, accept) => app.fetch(url(path), { headers: { authorization: `Bearer ${token}`, ...(accept !== undefined && { accept }) } }),
    send: (method, path, body, contentType) =>
      app.fetch(url(path), {
        method,
        headers: { authorization: `Bearer ${token}`, ...(contentType !== undefined && { 'content-type': contentType }) },
        body: JSON.stringify(body),
      }),
  };
}

async function problem(res: Response, status: number, error: string): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, error: body.error }).toEqual({ status, error });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return body;
}

/** The ODS/API shape: a fixed `detail` per problem type, the specific reasons in `errors`. */
const reasonsOf = (body: Record<string, unknown>) => [body.detail, ...((body.errors as string[] | undefined) ?? [])].join('\n');

const idOf = (res: Response) => res.headers.get('location')!.split('/').pop()!;
const memberNames = (item: unknown) => Object.keys(item as object).sort();

const homeMail = { electronicMailAddress: 'home@example.org', electronicMailTypeDescriptor: 'uri://ed-fi.org/ElectronicMailTypeDescriptor#Home' };
const workMail = { electronicMailAddress: 'work@example.org', electronicMailTypeDescriptor: 'uri://ed-fi.org/ElectronicMailTypeDescriptor#Work' };
const phone = { telephoneNumber: '555-0100', telephoneNumberTypeDescriptor: 'uri://ed-fi.org/TelephoneNumberTypeDescriptor#Mobile' };

describe.each(engines)('API profiles on $name', (engine) => {
  let app: TestApp;
  let profilesDir: string;
  /** No profiles, no further authorisation: sets up data and sees whole items. */
  let writer: Caller;
  /** SIS Vendor in Grand Bend, assigned only the shipped Nutrition profile. */
  let nutrition: Caller;
  /** Sandbox client assigned the test profiles. */
  let profiled: Caller;
  let studentId: string;
  let contactId: string;

  const ada = {
    studentUniqueId: 'P-1001',
    firstName: 'Ada',
    middleName: 'Maria',
    lastSurname: 'Lovelace',
    birthDate: '2010-05-04',
    birthCity: 'Grand Bend',
    birthSexDescriptor: 'uri://ed-fi.org/SexDescriptor#Female',
  };
  const alan = { contactUniqueId: 'C-2001', firstName: 'Alan', lastSurname: 'Turing', electronicMails: [homeMail, workMail], telephones: [phone] };

  beforeAll(async () => {
    profilesDir = testProfilesDir();
    app = await startTestApp(engine, { PROFILES_DIR: profilesDir });
    await app.edorgs(...grandBend);
    writer = await caller(app, { claimSet: 'Ed-Fi Sandbox' });
    nutrition = await caller(app, { edorgIds: [255901], profiles: ['Nutrition'] });
    profiled = await caller(app, { claimSet: 'Ed-Fi Sandbox', profiles: ['Student-Exclude', 'Student-MiddleName', 'Student-Identity', 'Contact-Home', 'School-Lea'] });
    const created = await writer.send('POST', 'students', ada, 'application/json');
    expect(created.status).toBe(201);
    studentId = idOf(created);
    const enrolled = await writer.send(
      'POST',
      'studentSchoolAssociations',
      { studentReference: { studentUniqueId: ada.studentUniqueId }, schoolReference: { schoolId: 255901001 }, entryDate: '2025-08-20' },
      'application/json',
    );
    expect(enrolled.status).toBe(201);
    const contact = await writer.send('POST', 'contacts', alan, 'application/json');
    expect(contact.status).toBe(201);
    contactId = idOf(contact);
  });
  afterAll(async () => {
    await app?.stop();
    rmSync(profilesDir, { recursive: true, force: true });
  });

  async function storedStudent(): Promise<Record<string, unknown>> {
    const res = await writer.get(`students/${studentId}`, 'application/json');
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  describe('reading through a profile', () => {
    it('returns only the Nutrition members, identity kept, in single and collection GETs, echoing the media type', async () => {
      const nutritionMembers = ['_etag', '_lastModifiedDate', 'birthDate', 'firstName', 'id', 'lastSurname', 'middleName', 'studentUniqueId'];
      const one = await nutrition.get(`students/${studentId}`, readable('student', 'nutrition'));
      expect(one.status).toBe(200);
      expect(one.headers.get('content-type')).toBe('application/vnd.ed-fi.student.nutrition.readable+json');
      const item = (await one.json()) as Record<string, unknown>;
      expect(memberNames(item)).toEqual(nutritionMembers);
      expect(item).toMatchObject({ studentUniqueId: 'P-1001', firstName: 'Ada', birthDate: '2010-05-04' });
      const list = await nutrition.get('students', readable('student', 'nutrition'));
      expect(list.status).toBe(200);
      expect(list.headers.get('content-type')).toBe('application/vnd.ed-fi.student.nutrition.readable+json');
      const items = (await list.json()) as unknown[];
      expect(items).toHaveLength(1);
      expect(memberNames(items[0])).toEqual(nutritionMembers);
    });

    it('matches the media type case-insensitively, ignores parameters and honours Accept lists', async () => {
      for (const accept of [
        'Application/VND.Ed-Fi.Student.NUTRITION.Readable+JSON; charset=utf-8',
        `application/json;q=0.5, ${readable('student', 'nutrition')}`,
        `text/html, ${readable('student', 'nutrition')};q=0.9, application/xml;q=0.1`,
      ]) {
        const res = await nutrition.get(`students/${studentId}`, accept);
        expect(res.status, accept).toBe(200);
        expect(res.headers.get('content-type')).toBe(readable('student', 'nutrition'));
        expect((await res.json()) as object).not.toHaveProperty('birthSexDescriptor');
      }
    });

    it('ExcludeOnly removes the named members and keeps the rest', async () => {
      const res = await profiled.get(`students/${studentId}`, readable('student', 'student-exclude'));
      expect(res.status).toBe(200);
      const item = (await res.json()) as Record<string, unknown>;
      expect(item).not.toHaveProperty('birthDate');
      expect(item).not.toHaveProperty('birthCity');
      expect(item).toMatchObject({ studentUniqueId: 'P-1001', firstName: 'Ada', middleName: 'Maria', birthSexDescriptor: ada.birthSexDescriptor });
    });

    it('IncludeAll returns every member', async () => {
      const res = await profiled.get(`students/${studentId}`, readable('student', 'student-middlename'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(readable('student', 'student-middlename'));
      expect(await res.json()).toEqual(await storedStudent());
    });

    it('ExcludeAll keeps only the identity (and the id and metadata)', async () => {
      const res = await profiled.get(`students/${studentId}`, readable('student', 'student-identity'));
      expect(res.status).toBe(200);
      expect(memberNames(await res.json())).toEqual(['_etag', '_lastModifiedDate', 'id', 'studentUniqueId']);
    });

    it('shapes a nested object with its own member selection', async () => {
      const schools = await writer.get('schools?schoolId=255901001', 'application/json');
      const [school] = (await schools.json()) as Array<Record<string, unknown>>;
      expect(school).toHaveProperty('localEducationAgencyReference');
      const res = await profiled.get(`schools/${school.id}`, readable('school', 'school-lea'));
      expect(res.status).toBe(200);
      const item = (await res.json()) as Record<string, unknown>;
      expect(memberNames(item)).toEqual(['_etag', '_lastModifiedDate', 'id', 'localEducationAgencyReference', 'nameOfInstitution', 'schoolId']);
      expect(item.localEducationAgencyReference).toEqual({ localEducationAgencyId: 255901 });
    });

    it('filters collection items by descriptor and shapes the items that remain', async () => {
      const res = await profiled.get(`contacts/${contactId}`, readable('contact', 'contact-home'));
      expect(res.status).toBe(200);
      const item = (await res.json()) as Record<string, unknown>;
      expect(memberNames(item)).toEqual(['_etag', '_lastModifiedDate', 'contactUniqueId', 'electronicMails', 'firstName', 'id']);
      // The member the items are filtered on stays in them, as the ODS/API keeps it.
      expect(item.electronicMails).toEqual([homeMail]);
    });

    it('leaves clients without profiles on plain JSON', async () => {
      const res = await writer.get(`students/${studentId}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toMatchObject(ada);
    });
  });

  describe('writing through a profile', () => {
    it('ExcludeOnly: discards the excluded member on POST and keeps the stored value', async () => {
      const res = await profiled.send('POST', 'students', { ...ada, firstName: 'Augusta', birthCity: 'London' }, writable('student', 'student-exclude'));
      expect(res.status).toBe(200);
      expect(await storedStudent()).toMatchObject({ firstName: 'Augusta', birthCity: 'Grand Bend' });
    });

    it('IncludeOnly: PUT changes only the writable member; every other stored member is kept', async () => {
      const before = await storedStudent();
      const res = await profiled.send(
        'PUT',
        `students/${studentId}`,
        { studentUniqueId: 'P-1001', middleName: 'King', firstName: 'Mallory', birthCity: 'Paris' },
        writable('student', 'student-middlename'),
      );
      expect(res.status).toBe(204);
      const after = await storedStudent();
      const { _etag: _a, _lastModifiedDate: _b, ...rest } = after;
      const { _etag: _c, _lastModifiedDate: _d, ...restBefore } = before;
      expect(rest).toEqual({ ...restBefore, middleName: 'King' });
    });

    it('ExcludeAll: a PUT can change nothing but is accepted, keeping the stored item', async () => {
      const before = await storedStudent();
      const res = await profiled.send('PUT', `students/${studentId}`, { studentUniqueId: 'P-1001', firstName: 'Nobody', lastSurname: 'Else' }, writable('student', 'student-identity'));
      expect(res.status).toBe(204);
      const after = await storedStudent();
      expect({ ...after, _lastModifiedDate: undefined }).toEqual({ ...before, _lastModifiedDate: undefined });
    });

    it('keeps identity members writable under any selection: a key change on PUT is still refused', async () => {
      const res = await profiled.send('PUT', `students/${studentId}`, { studentUniqueId: 'P-9999' }, writable('student', 'student-identity'));
      expect(res.status).toBe(400);
    });

    it('refuses to create through a profile that withholds required members (data_policy_enforced)', async () => {
      const res = await profiled.send('POST', 'students', { studentUniqueId: 'P-1002', middleName: 'X' }, writable('student', 'student-middlename'));
      const body = await problem(res, 400, 'data_policy_enforced');
      expect(reasonsOf(body)).toMatch(/firstName/);
      const listed = (await (await writer.get('students?studentUniqueId=P-1002', 'application/json')).json()) as unknown[];
      expect(listed).toEqual([]);
    });

    it('collection filter: writes visible items, keeps hidden items and unwritable members', async () => {
      const newHome = { ...homeMail, electronicMailAddress: 'new-home@example.org' };
      const res = await profiled.send(
        'PUT',
        `contacts/${contactId}`,
        { contactUniqueId: 'C-2001', firstName: 'Alan M.', lastSurname: 'Turing', electronicMails: [newHome] },
        writable('contact', 'contact-home'),
      );
      expect(res.status).toBe(204);
      const stored = (await (await writer.get(`contacts/${contactId}`, 'application/json')).json()) as Record<string, unknown>;
      expect(stored.firstName).toBe('Alan M.');
      expect(stored.electronicMails).toEqual([newHome, workMail]);
      expect(stored.telephones).toEqual([phone]);
    });

    it('collection filter: refuses an item the profile does not allow (data_policy_enforced)', async () => {
      const res = await profiled.send('PUT', `contacts/${contactId}`, { ...alan, electronicMails: [workMail] }, writable('contact', 'contact-home'));
      const body = await problem(res, 400, 'data_policy_enforced');
      expect(reasonsOf(body)).toMatch(/electronicMails\[0\]\.electronicMailTypeDescriptor/);
    });

    it('judges only what the profile lets through: the descriptor values and members it discards are not reported', async () => {
      const unicorn = 'uri://ed-fi.org/SexDescriptor#Unicorn';
      // Student-MiddleName writes middleName alone: the unusable descriptor values beside it are discarded, not judged.
      const discarded = await profiled.send(
        'PUT',
        `students/${studentId}`,
        { studentUniqueId: 'P-1001', middleName: 'Byron', birthSexDescriptor: unicorn, birthCountryDescriptor: 'XX' },
        writable('student', 'student-middlename'),
      );
      expect(discarded.status).toBe(204);
      expect(await storedStudent()).toMatchObject({ middleName: 'Byron', birthSexDescriptor: ada.birthSexDescriptor });
      // Student-Exclude discards birthCity alone: a birthCity too long is not reported, the descriptor value it lets through is.
      const included = await profiled.send('PUT', `students/${studentId}`, { ...ada, birthCity: 'x'.repeat(300), birthSexDescriptor: unicorn }, writable('student', 'student-exclude'));
      const body = await problem(included, 400, 'data_validation_failed');
      expect(body.validationErrors).toEqual({ '$.birthSexDescriptor': [`SexDescriptor value '${unicorn}' does not exist.`] });
    });
  });

  describe('the error table', () => {
    it('403 profile_required: application/json, */* or no type from a client whose profile covers the resource', async () => {
      for (const accept of ['application/json', '*/*', '']) {
        const res = await nutrition.get('students', accept);
        const body = await problem(res, 403, 'profile_required');
        expect(body.allowedMediaTypes).toEqual([readable('student', 'nutrition')]);
        expect(reasonsOf(body)).toContain(readable('student', 'nutrition'));
      }
    });

    it('403 profile_required on a write names every assigned writable type', async () => {
      for (const contentType of ['application/json', undefined]) {
        const res = await profiled.send('POST', 'students', ada, contentType);
        const body = await problem(res, 403, 'profile_required');
        expect(body.allowedMediaTypes).toEqual([writable('student', 'student-exclude'), writable('student', 'student-middlename'), writable('student', 'student-identity')]);
      }
    });

    it('a profile covering another resource does not constrain this one', async () => {
      const res = await nutrition.get('schools', 'application/json');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    });

    it('403 profile_not_assigned: a client whose assigned profiles cover the resource names another profile', async () => {
      await problem(await nutrition.get('students', readable('student', 'student-exclude')), 403, 'profile_not_assigned');
      await problem(await nutrition.send('POST', 'students', ada, writable('student', 'student-exclude')), 403, 'profile_not_assigned');
    });

    it('lets a client with no profile for the resource opt into any profile, shaped by it', async () => {
      const res = await writer.get(`students/${studentId}`, readable('student', 'student-exclude'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(readable('student', 'student-exclude'));
      const shaped = (await res.json()) as Record<string, unknown>;
      const plain = (await (await writer.get(`students/${studentId}`, 'application/json')).json()) as Record<string, unknown>;
      expect(plain).toHaveProperty('birthDate');
      expect(shaped).toMatchObject({ studentUniqueId: ada.studentUniqueId });
      expect(shaped).not.toHaveProperty('birthDate');
    });

    it('406 on read and 415 on write for an unknown profile', async () => {
      await problem(await nutrition.get('students', readable('student', 'no-such-profile')), 406, 'unknown_profile');
      await problem(await profiled.send('POST', 'students', ada, writable('student', 'no-such-profile')), 415, 'unknown_profile');
    });

    it('400 profile_usage_mismatch: a readable type on a write, a writable type on a read', async () => {
      await problem(await profiled.send('PUT', `students/${studentId}`, ada, readable('student', 'student-exclude')), 400, 'profile_usage_mismatch');
      await problem(await nutrition.get('students', writable('student', 'nutrition')), 400, 'profile_usage_mismatch');
    });

    it('400 invalid_profile_usage: the profile does not cover the resource, or the type names another resource', async () => {
      await problem(await profiled.get('students', readable('student', 'school-lea')), 400, 'invalid_profile_usage');
      await problem(await nutrition.get('students', readable('school', 'nutrition')), 400, 'invalid_profile_usage');
    });

    it('405 profile_method_not_allowed: the profile has no write content type for the resource', async () => {
      await problem(await nutrition.send('POST', 'students', ada, writable('student', 'nutrition')), 405, 'profile_method_not_allowed');
    });

    it('403 profile_not_defined: a client assigned a profile the host does not define reads and writes nothing', async () => {
      const misassigned = await caller(app, { claimSet: 'Ed-Fi Sandbox', profiles: ['Nutriton'] });
      const body = await problem(await misassigned.get('schools', 'application/json'), 403, 'profile_not_defined');
      expect(reasonsOf(body)).toContain('"Nutriton"');
      await problem(await misassigned.send('POST', 'students', ada, 'application/json'), 403, 'profile_not_defined');
    });

    it('400 malformed_profile_media_type for an ed-fi vendor type that is not a profile type', async () => {
      await problem(await nutrition.get('students', 'application/vnd.ed-fi.student.nutrition.editable+json'), 400, 'malformed_profile_media_type');
      await problem(await profiled.send('POST', 'students', ada, 'application/vnd.ed-fi.student+json'), 400, 'malformed_profile_media_type');
    });
  });

  describe('issue 9 §2: what a profile hides stays hidden', () => {
    it('refuses a hidden member as a filter exactly as an unknown one: no yes/no oracle', async () => {
      const asNutrition = readable('student', 'nutrition');
      const answers = [];
      for (const sex of ['Female', 'Male']) {
        const res = await nutrition.get(`students?studentUniqueId=P-1001&birthSexDescriptor=uri://ed-fi.org/SexDescriptor%23${sex}`, asNutrition);
        const body = await problem(res, 400, 'invalid_query');
        answers.push((body.errors as string[])[0]);
      }
      expect(answers[0]).toBe(answers[1]);
      const unknown = await problem(await nutrition.get('students?favouriteColour=blue', asNutrition), 400, 'invalid_query');
      expect(String((unknown.errors as string[])[0]).replace('favouriteColour', 'X')).toBe(String(answers[0]).replace('birthSexDescriptor', 'X'));
      await problem(await nutrition.get('students?birthCity=Grand%20Bend', asNutrition), 400, 'invalid_query');
    });

    it('still filters on the members the profile lets the client read', async () => {
      const { lastSurname } = await storedStudent();
      const res = await nutrition.get(`students?lastSurname=${encodeURIComponent(String(lastSurname))}&studentUniqueId=P-1001`, readable('student', 'nutrition'));
      expect(res.status).toBe(200);
      expect(((await res.json()) as unknown[]).length).toBe(1);
      const excluded = await profiled.get('students?birthDate=2010-05-04', readable('student', 'student-exclude'));
      await problem(excluded, 400, 'invalid_query');
      expect((await profiled.get('students?birthDate=2010-05-04', readable('student', 'student-middlename'))).status).toBe(200);
    });

    it('refuses plain-JSON writes from a client whose profile covers the resource only for reading (405, as the ODS/API), and changes nothing', async () => {
      const before = await storedStudent();
      for (const contentType of ['application/json', undefined]) {
        await problem(await nutrition.send('POST', 'students', { ...ada, firstName: 'Overwritten' }, contentType), 405, 'profile_method_not_allowed');
        await problem(await nutrition.send('PUT', `students/${studentId}`, { ...ada, firstName: 'Overwritten' }, contentType), 405, 'profile_method_not_allowed');
      }
      expect(await storedStudent()).toEqual(before);
    });

    it('with the Read Only claim set the Nutrition vendor writes nothing at all: not even DELETE', async () => {
      const vendor = await caller(app, { edorgIds: [255901], profiles: ['Nutrition'], claimSet: 'Read Only' });
      expect((await vendor.get(`students/${studentId}`, readable('student', 'nutrition'))).status).toBe(200);
      const token = await app.token(await app.client({ edorgIds: [255901], profiles: ['Nutrition'], claimSet: 'Read Only' }));
      const deleted = await app.fetch(`${data}/students/${studentId}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      await problem(deleted, 403, 'authorization_denied');
      expect((await storedStudent()).studentUniqueId).toBe('P-1001');
    });
  });

  it('lists each profile media type per resource in the OpenAPI document', async () => {
    const doc = (await (await app.fetch('/metadata/openapi.json')).json()) as { paths: Record<string, Record<string, { requestBody?: { content: object }; responses: Record<string, { content?: object }> }>> };
    const students = doc.paths[`${data}/students`];
    expect(Object.keys(students.get.responses['200'].content!)).toEqual([
      'application/json',
      readable('student', 'nutrition'),
      readable('student', 'student-exclude'),
      readable('student', 'student-middlename'),
      readable('student', 'student-identity'),
    ]);
    expect(Object.keys(students.post.requestBody!.content)).toEqual([
      'application/json',
      writable('student', 'student-exclude'),
      writable('student', 'student-middlename'),
      writable('student', 'student-identity'),
    ]);
    expect(Object.keys(doc.paths[`${data}/contacts/{id}`].put.requestBody!.content)).toEqual(['application/json', writable('contact', 'contact-home')]);
  });
});

describe('profile definitions at start-up', () => {
  const exec = promisify(execFile);
  const main = fromRoot('dist', 'src', 'app', 'main.js');
  let scratch: string;
  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'edgate-start-'));
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  const env = (extra: Record<string, string>) => ({ ...process.env, DATABASE_URL: `sqlite:${join(scratch, 'edgate.sqlite')}`, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...extra });

  it('keeps serving when a definition names an unknown member: reports file, profile and member, and `profiles check` exits 1', async () => {
    const bad = join(scratch, 'bad-member');
    mkdirSync(bad);
    writeFileSync(
      join(bad, 'lunch.xml'),
      '<Profiles><Profile name="Lunch"><Resource name="Student"><ReadContentType memberSelection="IncludeOnly"><Property name="FavouriteColour"/></ReadContentType></Resource></Profile></Profiles>',
    );
    const port = await freePort();
    const server = spawn(process.execPath, [main], { env: env({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, PROFILES_DIR: bad }), stdio: ['ignore', 'pipe', 'ignore'] });
    let log = '';
    server.stdout!.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      await waitFor(`http://127.0.0.1:${port}/ready`);
      expect(log).toMatch(/lunch\.xml: profile \\?"Lunch\\?", resource \\?"Student\\?", ReadContentType: unknown member \\?"FavouriteColour\\?"/);
    } finally {
      server.kill('SIGTERM');
    }
    const check = await exec(process.execPath, [fromRoot('dist', 'src', 'admin', 'cli.js'), 'profiles', 'check'], { env: env({ PROFILES_DIR: bad }), timeout: 20_000 }).then(
      () => undefined,
      (err: { code: number; stdout: string }) => err,
    );
    expect(check?.code).toBe(1);
    expect(check?.stdout).toMatch(/lunch\.xml: profile "Lunch", resource "Student", ReadContentType: unknown member "FavouriteColour"/);
  }, 120_000);

  it('`profiles check` exits 0 and lists the profiles in service when every definition is good', async () => {
    const { stdout } = await exec(process.execPath, [fromRoot('dist', 'src', 'admin', 'cli.js'), 'profiles', 'check', '--json'], { env: env({}), cwd: fromRoot(), timeout: 20_000 });
    expect(JSON.parse(stdout)).toMatchObject({ profiles: ['Nutrition'], problems: [] });
  }, 60_000);

  it('starts with the shipped config/profiles and serves the Nutrition media type', async () => {
    const port = await freePort();
    const server = spawn(process.execPath, [main], { env: env({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` }), cwd: fromRoot(), stdio: 'ignore' });
    try {
      const doc = await waitFor(`http://127.0.0.1:${port}/metadata/openapi.json`);
      const content = (doc as { paths: Record<string, { get: { responses: { '200': { content: object } } } }> }).paths[`${data}/students`].get.responses['200'].content;
      expect(Object.keys(content)).toContain(readable('student', 'nutrition'));
    } finally {
      server.kill('SIGTERM');
    }
  }, 120_000);
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function waitFor(url: string): Promise<unknown> {
  // Up to 30 s: a server's start takes that long on a loaded 2-core machine.
  for (let attempt = 0; attempt < 300; attempt++) {
    try {
      const res = await fetch(url);
      if (res.ok) return res.json();
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never answered`);
}
