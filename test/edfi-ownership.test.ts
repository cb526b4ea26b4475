/**
 * Ownership-based authorisation (the ODS/API's OwnershipBased strategy): items carry the creating client's creator
 * ownership token, and a client reaches them under the `ownership` strategy only when it holds that token. Alone
 * ("Ownership Based Test") and combined with the namespace and relationship strategies ("Multiple Auth Test").
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadClaimSets, strategiesFor } from '../src/config/claim-sets.js';
import { fromRoot } from '../src/config/paths.js';
import { loadDocuments } from '../src/edfi/seed.js';
import { claimSetsFile, startTestApp, texasGrandBend, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, courseOffering, enrolment, json, student, type ApiClient } from './edfi-helpers.js';

type Item = Record<string, unknown>;

/** The whole Data Standard (educationContents, sections) as Meadowlark publishes it; kept beside the project. */
const fullStandard = resolve(fromRoot('..', 'shared', 'edfi', 'api-schema', 'DataStandard-5.0.0-pre.1.json'));

const notOwned = 'Access to the requested data could not be authorized. The item is not owned by the caller.';
const mismatchType = 'urn:ed-fi:api:security:authorization:ownership:access-denied:ownership-mismatch';
const uninitializedType = 'urn:ed-fi:api:security:authorization:ownership:invalid-data:ownership-uninitialized';

const ids = (items: Item[]) => items.map((i) => i.id);

/** A 403 naming the ownership mismatch, worded as the ODS/API words it, with no reasons in `errors`. */
async function expectNotOwned(res: Response): Promise<void> {
  expect(res.status).toBe(403);
  const problem = await json(res);
  expect(problem).toMatchObject({ error: 'ownership_mismatch', type: mismatchType, title: 'Authorization Denied', detail: notOwned, status: 403 });
  expect(problem.errors ?? []).toEqual([]);
}

describe('claim sets combining strategies', () => {
  it('checks a list in a fixed order, namespace, ownership, relationships, whatever order it is written in', () => {
    const claimSets = loadClaimSets();
    expect(strategiesFor(claimSets, 'Multiple Auth Test', { name: 'educationContents' }, 'read')).toEqual(['namespace', 'ownership']);
    expect(strategiesFor(claimSets, 'Multiple Auth Test', { name: 'studentSectionAssociations' }, 'delete')).toEqual(['ownership', 'relationships']);
    const reordered = loadClaimSets(claimSetsFile({ X: { students: { read: ['relationships', 'ownership', 'namespace'] } } }));
    expect(strategiesFor(reordered, 'X', { name: 'students' }, 'read')).toEqual(['namespace', 'ownership', 'relationships']);
  });

  it('refuses, at load, an unknown strategy, an empty list, or none beside another strategy', () => {
    expect(() => loadClaimSets(claimSetsFile({ X: { students: { read: 'owner' } } }))).toThrow(/unknown strategy "owner"/);
    expect(() => loadClaimSets(claimSetsFile({ X: { students: { read: [] } } }))).toThrow(/no strategy/);
    expect(() => loadClaimSets(claimSetsFile({ X: { students: { read: ['none', 'ownership'] } } }))).toThrow(/cannot be combined/);
    expect(() => loadClaimSets(claimSetsFile({ X: { students: { list: 'none' } } }))).toThrow(/unknown action/);
  });
});

describe.skipIf(!existsSync(fullStandard)).each(engines)('ownership-based authorisation on $name', (engine) => {
  let app: TestApp;
  let sandbox: ApiClient;
  /** Ownership Based Test clients: A holds its own token; B creates with its own and may reach A's too; C only its own. */
  let a: ApiClient;
  let b: ApiClient;
  let c: ApiClient;

  beforeAll(async () => {
    app = await startTestApp(engine, { EDFI_API_SCHEMA: fullStandard });
    await app.edorgs(...texasGrandBend);
    await app.edorgs({ id: 999, type: 'lea', name: 'Other ISD', parentId: 48 }, { id: 999001, type: 'school', name: 'Other High', parentId: 999 });
    sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    const owned = { claimSet: 'Ownership Based Test', edorgIds: [255901], namespacePrefixes: ['uri://ed-fi.org'] };
    a = await apiClient(app, { ...owned, creatorToken: 'Token_One' });
    b = await apiClient(app, { ...owned, creatorToken: 'Token_Two', ownershipTokens: ['Token_One'] });
    c = await apiClient(app, { ...owned, creatorToken: 'Token_Three' });
  }, 60_000);
  afterAll(() => app.stop());

  it('lets only clients holding the creator\'s token read, list, update and delete an item', async () => {
    const mine = await a.create('students', student('OWN-A'));
    const theirs = await b.create('students', student('OWN-B'));

    // C holds neither token: every verb is refused, and its list holds neither item.
    await expectNotOwned(await c.get(`students/${mine}`));
    await expectNotOwned(await c.put(`students/${mine}`, student('OWN-A', { firstName: 'Taken' })));
    await expectNotOwned(await c.post('students', student('OWN-A', { firstName: 'Taken' })));
    await expectNotOwned(await c.del(`students/${mine}`));
    const cList = await c.get('students?totalCount=true');
    expect(ids(await json<Item[]>(cList))).toEqual([]);
    expect(cList.headers.get('total-count')).toBe('0');

    // A holds its own token only: B's item is refused and left out of its list.
    await expectNotOwned(await a.get(`students/${theirs}`));
    expect(ids(await json<Item[]>(await a.get('students')))).toEqual([mine]);

    // B holds both tokens: it reaches A's item as its own.
    const bList = await b.get('students?totalCount=true');
    expect(ids(await json<Item[]>(bList)).sort()).toEqual([mine, theirs].sort());
    expect(bList.headers.get('total-count')).toBe('2');
    expect((await b.get(`students/${mine}`)).status).toBe(200);
    expect((await b.put(`students/${mine}`, student('OWN-A', { firstName: 'Updated' }))).status).toBe(204);
    expect((await b.post('students', student('OWN-A', { firstName: 'Upserted' }))).status).toBe(200);
    // An update keeps the creator's token: A still reaches the item B changed.
    expect(await json(await a.get(`students/${mine}`))).toMatchObject({ firstName: 'Upserted' });
    expect((await b.del(`students/${mine}`)).status).toBe(204);
    expect((await b.del(`students/${theirs}`)).status).toBe(204);
  });

  it('stamps the creating client\'s creator token on the stored item, as an integer id', async () => {
    const id = await a.create('students', student('OWN-STAMP'));
    const { db } = app.services;
    const row = (await db('edfi_documents').where({ id }).first('created_by_ownership_token_id')) as { created_by_ownership_token_id: number | string };
    const token = (await db('ownership_tokens').where({ name: 'Token_One' }).first('id')) as { id: number | string };
    expect(Number(row.created_by_ownership_token_id)).toBe(Number(token.id));
    expect((await a.del(`students/${id}`)).status).toBe(204);
  });

  it('reaches an item no client created (seeded) through ownership for no one: 403 ownership_uninitialized', async () => {
    await loadDocuments(app.services.db, app.services.model, { students: [student('OWN-SEED')] });
    const [seeded] = await json<Item[]>(await sandbox.get('students?studentUniqueId=OWN-SEED'));
    for (const res of [await a.get(`students/${seeded.id}`), await b.put(`students/${seeded.id}`, student('OWN-SEED')), await b.del(`students/${seeded.id}`)]) {
      expect(res.status).toBe(403);
      const problem = await json(res);
      expect(problem).toMatchObject({ error: 'ownership_uninitialized', type: uninitializedType, title: 'Authorization Denied', detail: notOwned });
      expect(problem.errors).toEqual([
        "The existing resource item has no 'CreatedByOwnershipTokenId' value assigned and thus will never be accessible to clients using the 'OwnershipBased' authorization strategy.",
      ]);
    }
    expect(ids(await json<Item[]>(await b.get('students')))).not.toContain(seeded.id);
  });

  it('refuses a create under ownership to a client with no creator token (fail closed): 403 ownership_uninitialized', async () => {
    const tokenless = await apiClient(app, { claimSet: 'Ownership Based Test', edorgIds: [255901] });
    await app.services.db('clients').where({ client_id: tokenless.clientId }).update({ creator_ownership_token_id: null });
    app.services.directory.forget(tokenless.clientId);
    const res = await tokenless.post('students', student('OWN-NONE'));
    expect(res.status).toBe(403);
    expect(await json(res)).toMatchObject({ error: 'ownership_uninitialized', type: uninitializedType });
  });

  it('leaves clients whose claim sets do not use ownership as they were', async () => {
    const id = await a.create('students', student('OWN-SANDBOX'));
    // Ed-Fi Sandbox: no further authorisation, whoever created the item.
    expect((await sandbox.get(`students/${id}`)).status).toBe(200);
    expect(ids(await json<Item[]>(await sandbox.get('students?studentUniqueId=OWN-SANDBOX')))).toEqual([id]);
    // SIS Vendor: relationships, which a student with no enrolment does not have, whatever tokens the client holds.
    const vendor = await apiClient(app, { edorgIds: [255901], creatorToken: 'Token_One' });
    expect((await vendor.get(`students/${id}`)).status).toBe(403);
    expect((await json(await vendor.get(`students/${id}`))).error).toBe('authorization_denied');
    expect((await a.del(`students/${id}`)).status).toBe(204);
  });

  it('gives every client a token of its own by default, and sets tokens from the CLI', async () => {
    const plain = await app.client({});
    const shown = await app.cli('client', 'show', plain.clientId, '--json');
    expect(JSON.parse(shown.stdout)).toMatchObject({ creator_ownership_token: `client:${plain.clientId}`, ownership_tokens: [`client:${plain.clientId}`] });

    const created = await app.cli('client', 'create', '--name', 'Owner', '--tier', 'standard', '--claim-set', 'Ownership Based Test', '--creator-token', 'CLI_One', '--ownership-token', 'CLI_Shared', '--json');
    expect(created.code).toBe(0);
    const view = JSON.parse(created.stdout) as { client_id: string; creator_ownership_token: string; ownership_tokens: string[] };
    expect(view).toMatchObject({ creator_ownership_token: 'CLI_One' });
    expect(view.ownership_tokens.sort()).toEqual(['CLI_One', 'CLI_Shared']);

    // Replacing the reachable tokens keeps the creator token among them.
    const updated = await app.cli('client', 'update', view.client_id, '--ownership-token', 'CLI_Other', '--json');
    expect((JSON.parse(updated.stdout) as { ownership_tokens: string[] }).ownership_tokens.sort()).toEqual(['CLI_One', 'CLI_Other']);
    const moved = await app.cli('client', 'update', view.client_id, '--creator-token', 'CLI_Two', '--json');
    expect(JSON.parse(moved.stdout)).toMatchObject({ creator_ownership_token: 'CLI_Two' });
    expect((JSON.parse(moved.stdout) as { ownership_tokens: string[] }).ownership_tokens.sort()).toEqual(['CLI_One', 'CLI_Other', 'CLI_Two']);

    const refused = await app.cli('client', 'update', view.client_id, '--creator-token', 'has space', '--json');
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: 'invalid_field' });
  });

  describe('Multiple Auth Test: namespace and ownership (educationContents)', () => {
    const content = (contentIdentifier: string, namespace = 'uri://ed-fi.org/Content', extra: Item = {}) => ({
      contentIdentifier,
      namespace,
      learningResourceMetadataURI: 'http://example.org',
      shortDescription: contentIdentifier,
      ...extra,
    });
    let owner: ApiClient;
    let neighbour: ApiClient;
    let otherNamespace: ApiClient;

    beforeAll(async () => {
      const multi = { claimSet: 'Multiple Auth Test', edorgIds: [255901] };
      owner = await apiClient(app, { ...multi, namespacePrefixes: ['uri://ed-fi.org'], creatorToken: 'MA_EdFi' });
      neighbour = await apiClient(app, { ...multi, namespacePrefixes: ['uri://ed-fi.org'], creatorToken: 'MA_Neighbour' });
      // The owner's token, but another namespace: the namespace check answers first.
      otherNamespace = await apiClient(app, { ...multi, namespacePrefixes: ['uri://other.org'], creatorToken: 'MA_EdFi' });
    });

    it('needs both the namespace and the token, and names the namespace first when both fail', async () => {
      const refused = await otherNamespace.post('educationContents', content('MA-WRONG'));
      expect(refused.status).toBe(403);
      expect(String((await json(refused)).detail)).toMatch(/The proposed 'Namespace' value of the data does not start with/);
      const id = await owner.create('educationContents', content('MA-1'));

      for (const res of [await otherNamespace.get(`educationContents/${id}`), await otherNamespace.put(`educationContents/${id}`, content('MA-1')), await otherNamespace.del(`educationContents/${id}`)]) {
        expect(res.status).toBe(403);
        const problem = await json(res);
        expect(problem).toMatchObject({ error: 'namespace_not_permitted', type: 'urn:ed-fi:api:security:authorization:namespace:access-denied:namespace-mismatch' });
        expect(String(problem.detail)).toMatch(/The existing 'Namespace' value of the data does not start with any of the caller's associated namespace prefixes \('uri:\/\/other.org'\)\./);
      }
      await expectNotOwned(await neighbour.get(`educationContents/${id}`));
      await expectNotOwned(await neighbour.post('educationContents', content('MA-1', undefined, { shortDescription: 'Taken' })));
      await expectNotOwned(await neighbour.put(`educationContents/${id}`, content('MA-1', undefined, { shortDescription: 'Taken' })));
      await expectNotOwned(await neighbour.del(`educationContents/${id}`));
      expect(ids(await json<Item[]>(await neighbour.get('educationContents')))).toEqual([]);
      expect(ids(await json<Item[]>(await otherNamespace.get('educationContents')))).toEqual([]);

      expect(ids(await json<Item[]>(await owner.get('educationContents')))).toEqual([id]);
      expect((await owner.get(`educationContents/${id}`)).status).toBe(200);
      expect((await owner.post('educationContents', content('MA-1', undefined, { shortDescription: 'Again' }))).status).toBe(200);
      expect((await owner.put(`educationContents/${id}`, content('MA-1', undefined, { shortDescription: 'Once more' }))).status).toBe(204);
      expect((await owner.del(`educationContents/${id}`)).status).toBe(204);
    });
  });

  describe('Multiple Auth Test: relationships and ownership (studentSectionAssociations)', () => {
    const session = { schoolId: 255901001, schoolYear: 2026, sessionName: 'Ownership Fall' };
    const association = (beginDate: string) => ({
      studentReference: { studentUniqueId: 'OWN-SEC' },
      sectionReference: { localCourseCode: 'OWN-ALG-A', sectionIdentifier: 'OWN-ALG-A-1', ...session },
      beginDate,
    });
    let school: ApiClient;
    let district: ApiClient;
    let elsewhere: ApiClient;

    beforeAll(async () => {
      await courseOffering(sandbox, session, 'OWN-ALG', 'OWN-ALG-A');
      await sandbox.create('sections', { sectionIdentifier: 'OWN-ALG-A-1', courseOfferingReference: { localCourseCode: 'OWN-ALG-A', ...session } });
      await sandbox.create('students', student('OWN-SEC'));
      await sandbox.create('studentSchoolAssociations', enrolment('OWN-SEC', 255901001));
      const multi = { claimSet: 'Multiple Auth Test', namespacePrefixes: ['uri://ed-fi.org'] };
      school = await apiClient(app, { ...multi, edorgIds: [255901001], creatorToken: 'MA_School' });
      district = await apiClient(app, { ...multi, edorgIds: [255901], creatorToken: 'MA_District' });
      // The school client's token, and no relationship with the student.
      elsewhere = await apiClient(app, { ...multi, edorgIds: [999], creatorToken: 'MA_School' });
    });

    it('needs both the token and a relationship, and names ownership first', async () => {
      const schools = await school.create('studentSectionAssociations', association('2025-08-20'));
      const districts = await district.create('studentSectionAssociations', association('2025-08-21'));

      // A relationship without the token: refused as not owned.
      await expectNotOwned(await school.get(`studentSectionAssociations/${districts}`));
      await expectNotOwned(await school.put(`studentSectionAssociations/${districts}`, association('2025-08-21')));
      await expectNotOwned(await school.del(`studentSectionAssociations/${districts}`));
      // The token without a relationship: refused by relationship.
      const far = await elsewhere.get(`studentSectionAssociations/${schools}`);
      expect(far.status).toBe(403);
      expect((await json(far)).error).toBe('authorization_denied');
      // Neither token nor relationship: ownership answers first.
      await expectNotOwned(await elsewhere.get(`studentSectionAssociations/${districts}`));

      expect(ids(await json<Item[]>(await school.get('studentSectionAssociations')))).toEqual([schools]);
      expect(ids(await json<Item[]>(await district.get('studentSectionAssociations')))).toEqual([districts]);
      expect(ids(await json<Item[]>(await elsewhere.get('studentSectionAssociations')))).toEqual([]);

      expect((await school.get(`studentSectionAssociations/${schools}`)).status).toBe(200);
      expect((await school.put(`studentSectionAssociations/${schools}`, { ...association('2025-08-20'), endDate: '2025-12-20' })).status).toBe(204);
      expect((await school.del(`studentSectionAssociations/${schools}`)).status).toBe(204);
      expect((await district.del(`studentSectionAssociations/${districts}`)).status).toBe(204);
    });
  });
});
