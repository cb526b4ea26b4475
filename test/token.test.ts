import { createHmac } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, issuer, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});
const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});
const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');

describe.each(engines)('tokens on $name', (engine) => {
  let app: TestApp;
  let client: { clientId: string; secret: string };

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(
      { id: 48, type: 'sea', name: 'Texas Education Agency' },
      { id: 4800, type: 'esc', name: 'Region 99 ESC', parentId: 48 },
      { ...grandBend[0], parentId: 4800 },
      ...grandBend.slice(1),
      { id: 999, type: 'lea', name: 'Other ISD' },
      { id: 999001, type: 'school', name: 'Other High', parentId: 999 },
    );
    client = await app.client({ name: 'Roster vendor', tier: 'standard', edorgIds: [255901], namespacePrefixes: ['uri://ed-fi.org'], profiles: ['Student-Nutrition'] });
  });
  afterAll(() => app.stop());

  async function jwks(): Promise<JSONWebKeySet> {
    return (await (await app.fetch('/.well-known/jwks.json')).json()) as JSONWebKeySet;
  }

  it('issues an RFC 9068 JWT for a JSON body with audience, with tier and schools claims', async () => {
    const res = await app.fetch('/oauth/token', json({ client_id: client.clientId, client_secret: client.secret, audience: issuer, grant_type: 'client_credentials' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    const token = body.access_token as string;
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
    const { payload } = await jwtVerify(token, createLocalJWKSet(await jwks()), { issuer, audience: issuer, typ: 'at+jwt' });
    expect(payload).toMatchObject({ sub: client.clientId, client_id: client.clientId, tier: 'standard', schools: ['255901001', '255901044', '255901107'] });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(typeof payload.jti).toBe('string');
  });

  it('accepts a form body with HTTP Basic client authentication and resource', async () => {
    const res = await app.fetch('/oauth/token', {
      ...form({ grant_type: 'client_credentials', resource: issuer }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.clientId, client.secret) },
    });
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).aud).toBe(issuer);
  });

  it('accepts client credentials in a form body and defaults the audience', async () => {
    const res = await app.fetch('/oauth/token', form({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret }));
    expect(res.status).toBe(200);
    expect(decodeJwt(((await res.json()) as { access_token: string }).access_token).aud).toBe(issuer);
  });

  it('expands schools from every level of the hierarchy at issue time', async () => {
    const sea = await app.client({ edorgIds: [48] });
    expect(decodeJwt(await app.token(sea)).schools).toEqual(['255901001', '255901044', '255901107']);
    const none = await app.client({ edorgIds: [] });
    expect(decodeJwt(await app.token(none)).schools).toEqual([]);
  });

  describe('Ed-Fi scope: an ed-org id the client is assigned', () => {
    const scoped = (credentials: { clientId: string; secret: string }, scope: string) =>
      app.fetch('/oauth/token', {
        ...form({ grant_type: 'client_credentials', scope }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(credentials.clientId, credentials.secret) },
      });

    it('narrows the token to the schools beneath that ed-org and echoes the scope', async () => {
      const both = await app.client({ edorgIds: [255901, 999] });
      expect(decodeJwt(await app.token(both)).schools).toEqual(['999001', '255901001', '255901044', '255901107']);
      const res = await scoped(both, '999');
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string; scope: string };
      expect(body.scope).toBe('999');
      expect(decodeJwt(body.access_token).schools).toEqual(['999001']);
    });

    it('answers 400 invalid_scope for an ed-org the client is not assigned, or a scope that is not a number', async () => {
      const notAssigned = await scoped(client, '255901001');
      expect(notAssigned.status).toBe(400);
      expect(await notAssigned.json()).toMatchObject({
        error: 'invalid_scope',
        error_description: "The client is not explicitly associated with the EducationOrganizationId specified in the requested 'scope'.",
      });
      const notNumber = await scoped(client, 'roster-core.readonly');
      expect(notNumber.status).toBe(400);
      expect(await notNumber.json()).toMatchObject({ error: 'invalid_scope' });
    });
  });

  it('answers 401 for an empty Basic key or secret (invalid_request) and for another scheme than Basic (invalid_client)', async () => {
    const attempt = (authorization: string) =>
      app.fetch('/oauth/token', { ...form({ grant_type: 'client_credentials' }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization } });
    const empty = await attempt(basic('', ''));
    expect(empty.status).toBe(401);
    expect(await empty.json()).toMatchObject({ error: 'invalid_request' });
    const other = await attempt('Test Test');
    expect(other.status).toBe(401);
    expect(await other.json()).toMatchObject({ error: 'invalid_client' });
  });

  it('answers 401 invalid_client for a wrong secret and an unknown client', async () => {
    for (const body of [
      { client_id: client.clientId, client_secret: 'wrong', grant_type: 'client_credentials' },
      { client_id: 'nobody', client_secret: 'whatever', grant_type: 'client_credentials' },
    ]) {
      const res = await app.fetch('/oauth/token', json(body));
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    }
  });

  it('answers 400 unsupported_grant_type for any other grant, 400 invalid_request without one', async () => {
    const other = await app.fetch('/oauth/token', json({ client_id: client.clientId, client_secret: client.secret, grant_type: 'password' }));
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ error: 'unsupported_grant_type', error_description: expect.any(String) });
    const missing = await app.fetch('/oauth/token', json({ client_id: client.clientId, client_secret: client.secret }));
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('answers 400 invalid_target for an audience that is not this API', async () => {
    const res = await app.fetch('/oauth/token', json({ client_id: client.clientId, client_secret: client.secret, grant_type: 'client_credentials', audience: 'https://elsewhere.example' }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_target' });
  });

  it('answers malformed JSON with an RFC 6749 invalid_request', async () => {
    const res = await app.fetch('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":' });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });

  it('gives a disabled client no token, and a re-enabled one a token again', async () => {
    const victim = await app.client();
    expect((await app.cli('client', 'disable', victim.clientId)).code).toBe(0);
    // The client cache holds records for at most 2 s.
    await new Promise((r) => setTimeout(r, 2100));
    const res = await app.fetch('/oauth/token', json({ client_id: victim.clientId, client_secret: victim.secret, grant_type: 'client_credentials' }));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'invalid_client' });
    expect((await app.cli('client', 'enable', victim.clientId)).code).toBe(0);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await app.token(victim)).toMatch(/^ey/);
  });

  it('stores secrets only as a keyed hash', async () => {
    const rows = await app.services.db('clients').select();
    const dump = JSON.stringify(rows);
    expect(dump).not.toContain(client.secret);
    const row = rows.find((r: { client_id: string }) => r.client_id === client.clientId);
    expect(row.secret_hash).toBe(createHmac('sha256', app.services.hashKey).update(client.secret).digest('hex'));
  });

  describe('token_info', () => {
    it('describes the token, the client and its ed-orgs with every ancestor id', async () => {
      const token = await app.token(client);
      const res = await app.fetch('/oauth/token_info', json({ token }, { authorization: `Bearer ${token}` }));
      expect(res.status).toBe(200);
      const { resources, services, education_organizations: edorgs, ...info } = (await res.json()) as Record<string, unknown> & { education_organizations: Array<Record<string, unknown>> };
      // The assigned ed-org first, then the ed-orgs beneath it, as DMS lists them.
      expect(edorgs.slice(1).map((o) => o.education_organization_id)).toEqual([255901001, 255901044, 255901107]);
      expect(edorgs[1]).toMatchObject({ type: 'edfi.School', school_id: 255901001, local_education_agency_id: 255901, state_education_agency_id: 48 });
      expect(resources).toContainEqual({ resource: '/ed-fi/students', operations: ['Create', 'Read', 'Update', 'Delete'] });
      expect(resources).toContainEqual({ resource: '/ed-fi/schools', operations: ['Read'] });
      expect(services).toEqual([{ service: 'attendance-statistics', operations: ['Read'] }]);
      expect({ ...info, education_organizations: edorgs.slice(0, 1) }).toEqual({
        active: true,
        client_id: client.clientId,
        tier: 'standard',
        exp: decodeJwt(token).exp,
        schools: ['255901001', '255901044', '255901107'],
        namespace_prefixes: ['uri://ed-fi.org'],
        education_organizations: [
          {
            education_organization_id: 255901,
            name_of_institution: 'Grand Bend ISD',
            type: 'edfi.LocalEducationAgency',
            local_education_agency_id: 255901,
            education_service_center_id: 4800,
            state_education_agency_id: 48,
          },
        ],
        assigned_profiles: ['Student-Nutrition'],
        claim_set: { name: 'SIS Vendor' },
      });
    });

    it('accepts the token field in any case ({"Token": …}), as the ODS/API binds it', async () => {
      const token = await app.token(client);
      const res = await app.fetch('/oauth/token_info', json({ Token: token }, { authorization: `Bearer ${token}` }));
      expect(res.status).toBe(200);
    });

    it('answers its errors as ODS problem details, keeping the error code', async () => {
      const token = await app.token(client);
      const missing = await app.fetch('/oauth/token_info', json({}, { authorization: `Bearer ${token}` }));
      expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await missing.json()).toMatchObject({
        type: 'urn:ed-fi:api:bad-request',
        title: 'Bad Request',
        status: 400,
        detail: 'An invalid token was provided',
        errors: ['The token was not present, or was not processable as a GUID value.'],
        error: 'invalid_request',
      });
      const other = await app.token(client);
      const mismatch = await app.fetch('/oauth/token_info', json({ token: other }, { authorization: `Bearer ${token}` }));
      expect(await mismatch.json()).toMatchObject({ detail: 'The authentication token and the token to inspect must match.', error: 'invalid_request' });
    });

    it('accepts the token in a form body', async () => {
      const token = await app.token(client);
      const res = await app.fetch('/oauth/token_info', { ...form({ token }), headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
    });

    it('answers 400 invalid_request when the body token is missing or differs', async () => {
      const token = await app.token(client);
      const other = await app.token(client);
      for (const body of [{}, { token: other }]) {
        const res = await app.fetch('/oauth/token_info', json(body, { authorization: `Bearer ${token}` }));
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: 'invalid_request' });
      }
    });

    it('answers 401 for a missing or bad bearer', async () => {
      const token = await app.token(client);
      const missing = await app.fetch('/oauth/token_info', json({ token }));
      expect(missing.status).toBe(401);
      const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
      const bad = await app.fetch('/oauth/token_info', json({ token: forged }, { authorization: `Bearer ${forged}` }));
      expect(bad.status).toBe(401);
      expect(await bad.json()).toMatchObject({ error: 'invalid_token' });
      expect(bad.headers.get('www-authenticate')).toContain('error="invalid_token"');
    });
  });

  it('rotates keys: a new token uses the new key and an old token still verifies', async () => {
    const before = await app.token(client);
    const oldKid = decodeProtectedHeader(before).kid;
    const rotated = await app.cli('keys', 'rotate', '--json');
    expect(rotated.code).toBe(0);
    const newKid = JSON.parse(rotated.stdout).active_kid as string;
    expect(newKid).not.toBe(oldKid);
    // Instances notice a rotation made elsewhere within REFRESH_SECONDS (1 s in tests).
    await expect.poll(async () => decodeProtectedHeader(await app.token(client)).kid, { timeout: 5000, interval: 250 }).toBe(newKid);
    const keys = await jwks();
    expect(keys.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    await jwtVerify(before, createLocalJWKSet(keys), { issuer, audience: issuer });
    const after = await app.token(client);
    await jwtVerify(after, createLocalJWKSet(keys), { issuer, audience: issuer });
    const info = await app.fetch('/oauth/token_info', json({ token: before }, { authorization: `Bearer ${before}` }));
    expect(info.status).toBe(200);
    const listed = JSON.parse((await app.cli('keys', 'list', '--json')).stdout).keys as Array<{ kid: string; status: string }>;
    expect(listed.find((k) => k.kid === oldKid)?.status).toBe('retired (published)');
    expect(listed.find((k) => k.kid === newKid)?.status).toBe('active');
  });

  it('publishes discovery with the issuer, token endpoint and JWKS', async () => {
    const doc = (await (await app.fetch('/.well-known/openid-configuration')).json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer,
      token_endpoint: expect.stringMatching(/\/oauth\/token$/),
      jwks_uri: expect.stringMatching(/\/\.well-known\/jwks\.json$/),
      // client_credentials for API clients; authorization_code for the developer portal's sign-in.
      grant_types_supported: ['authorization_code', 'client_credentials'],
    });
    const keys = await jwks();
    expect(keys.keys.every((k) => k.d === undefined && k.p === undefined)).toBe(true);
  });
});
