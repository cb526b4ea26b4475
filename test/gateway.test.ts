import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import {
  accessClaims,
  bearer,
  hs256WithPublicKey,
  serverSigningJwk,
  signWith,
  strangerJwk,
  tiersConfigFile,
  unsignedToken,
  within,
} from './helpers/gateway.js';

const summary = (school = '255901001') => `/stats/v1/attendance/summary?school_id=${school}`;
const standardPolicy = '"minute";q=600;w=60, "day";q=100000;w=86400;edgate-unit="cost"';

async function expectRefusal(res: Response, status: number, error: string): Promise<Record<string, unknown>> {
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, error: body.error }).toEqual({ status, error });
  expect(body.request_id).toBe(res.headers.get('x-request-id'));
  return body;
}

describe.each(engines)('gateway on $name', (engine) => {
  let app: TestApp;
  let vendor: { clientId: string; secret: string };

  beforeAll(async () => {
    app = await startTestApp(engine, { EDGATE_CONFIG: tiersConfigFile() });
    await app.edorgs(...grandBend);
    vendor = await app.client({ name: 'Roster vendor', tier: 'standard', edorgIds: [255901] });
  });
  afterAll(() => app.stop());

  const get = (path: string, token: string, headers: Record<string, string> = {}) =>
    app.fetch(path, { headers: { authorization: `Bearer ${token}`, ...headers } });

  describe('authentication', () => {
    async function expectInvalidToken(token: string) {
      const res = await get(summary(), token);
      await expectRefusal(res, 401, 'invalid_token');
      expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    }

    it('admits a token from the token endpoint', async () => {
      const res = await get(summary(), await app.token(vendor));
      expect(res.status).toBe(200);
    });

    it('admits a well-formed token signed with the server key (so the forgeries below differ in one thing only)', async () => {
      const res = await get(summary(), await signWith(serverSigningJwk(app), accessClaims(vendor.clientId)));
      expect(res.status).toBe(200);
    });

    it('answers 401 missing_token without an Authorization header, under /data/ as a problem document', async () => {
      const stats = await app.fetch(summary());
      await expectRefusal(stats, 401, 'missing_token');
      // RFC 6750 §3.1: no credentials, no error code in the challenge.
      expect(stats.headers.get('www-authenticate')).toBe('Bearer realm="edgate"');
      const data = await app.fetch('/data/v3/ed-fi/students');
      expect(data.status).toBe(401);
      expect(data.headers.get('content-type')).toContain('application/problem+json');
      const body = (await data.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ status: 401, error: 'missing_token', correlationId: data.headers.get('x-request-id') });
      expect(data.headers.get('www-authenticate')).toBe('Bearer realm="edgate"');
    });

    it('refuses a header that is not a bearer token, and a token that is not a JWT', async () => {
      const basic = await app.fetch(summary(), { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      await expectRefusal(basic, 401, 'invalid_token');
      await expectInvalidToken('not-a-jwt');
    });

    it('refuses alg: none', async () => {
      await expectInvalidToken(unsignedToken(accessClaims(vendor.clientId), serverSigningJwk(app).kid!));
    });

    it('refuses HS256 signed with the server public key as the secret', async () => {
      await expectInvalidToken(await hs256WithPublicKey(serverSigningJwk(app), accessClaims(vendor.clientId)));
    });

    it('refuses a signature that does not verify', async () => {
      const token = await app.token(vendor);
      const [header, payload] = token.split('.');
      const other = (await app.token(vendor)).split('.')[2];
      await expectInvalidToken(`${header}.${payload}.${other}`);
    });

    it('refuses claims edited under the signature of a token it already verified and cached', async () => {
      const middle = await app.client({ tier: 'standard', edorgIds: [255901044] });
      const token = await app.token(middle);
      expect((await get(summary('255901044'), token)).status).toBe(200);
      const [header, payload, signature] = token.split('.');
      const widened = { ...JSON.parse(Buffer.from(payload, 'base64url').toString()), schools: ['255901001', '255901044'] };
      await expectInvalidToken(`${header}.${Buffer.from(JSON.stringify(widened)).toString('base64url')}.${signature}`);
    });

    it('refuses an unknown kid, and a token signed by a key the server never published', async () => {
      const jwk = serverSigningJwk(app);
      await expectInvalidToken(await signWith(jwk, accessClaims(vendor.clientId), { kid: 'no-such-kid' }));
      const stranger = await strangerJwk();
      await expectInvalidToken(await signWith(stranger, accessClaims(vendor.clientId)));
      await expectInvalidToken(await signWith(stranger, accessClaims(vendor.clientId), { kid: jwk.kid }));
    });

    it('refuses a wrong aud and a wrong iss', async () => {
      const jwk = serverSigningJwk(app);
      await expectInvalidToken(await signWith(jwk, accessClaims(vendor.clientId, { aud: 'https://elsewhere.example' })));
      await expectInvalidToken(await signWith(jwk, accessClaims(vendor.clientId, { iss: 'https://evil.example' })));
    });

    it('refuses an expired token', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expectInvalidToken(await signWith(serverSigningJwk(app), accessClaims(vendor.clientId, { iat: now - 7200, exp: now - 3600 })));
    });

    it('refuses a token whose typ is not at+jwt (an ID token, say)', async () => {
      await expectInvalidToken(await signWith(serverSigningJwk(app), accessClaims(vendor.clientId), { typ: 'JWT' }));
    });

    it.each(['tier', 'schools', 'client_id', 'exp'])('refuses a token without the %s claim', async (claim) => {
      await expectInvalidToken(await signWith(serverSigningJwk(app), accessClaims(vendor.clientId, { [claim]: undefined })));
    });

    it('refuses an unknown tier and a schools claim that is not a list of strings', async () => {
      const jwk = serverSigningJwk(app);
      await expectInvalidToken(await signWith(jwk, accessClaims(vendor.clientId, { tier: 'platinum' })));
      await expectInvalidToken(await signWith(jwk, accessClaims(vendor.clientId, { schools: '255901001' })));
      await expectInvalidToken(await signWith(jwk, accessClaims(vendor.clientId, { schools: [255901001] })));
    });

    it('refuses a token once its exp passes, even after it was verified and cached', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await signWith(serverSigningJwk(app), accessClaims(vendor.clientId, { exp: now + 2 }));
      expect((await get(summary(), token)).status).toBe(200);
      await new Promise((r) => setTimeout(r, (now + 2) * 1000 - Date.now() + 50));
      await expectInvalidToken(token);
    });
  });

  describe('revocation', () => {
    it('stops a disabled client\'s live (and cached) tokens within 10 s, and an enabled one works again', async () => {
      const victim = await app.client({ tier: 'standard', edorgIds: [255901] });
      const token = await app.token(victim);
      expect((await get(summary(), token)).status).toBe(200);
      const started = Date.now();
      expect(await app.cli('client', 'disable', victim.clientId)).toMatchObject({ code: 0, stderr: '' });
      await within(10_000 - (Date.now() - started), async () => (await get(summary(), token)).status === 401);
      await expectRefusal(await get(summary(), token), 401, 'invalid_token');
      expect(await app.cli('client', 'enable', victim.clientId)).toMatchObject({ code: 0, stderr: '' });
      await within(10_000, async () => (await get(summary(), token)).status === 200);
    });
  });

  describe('rate limits', () => {
    it('sends RateLimit-Policy and RateLimit on admitted calls and on handler refusals', async () => {
      const client = await app.client({ tier: 'standard', edorgIds: [255901] });
      const token = await app.token(client);
      const ok = await get(summary(), token);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit-policy')).toBe(standardPolicy);
      expect(ok.headers.get('ratelimit')).toMatch(/^"minute";r=599;t=([1-9]|[1-5]\d|60), "day";r=99990;t=\d+$/);
      const forbidden = await get(summary('999999'), token);
      await expectRefusal(forbidden, 403, 'school_not_approved');
      expect(forbidden.headers.get('ratelimit-policy')).toBe(standardPolicy);
      expect(forbidden.headers.get('ratelimit')).toMatch(/^"minute";r=598;t=\d+, "day";r=99980;t=\d+$/);
    });

    it('answers 429 rate_limited with an honest Retry-After past the minute quota', async () => {
      const client = await app.client({ tier: 'tiny', edorgIds: [255901] });
      const token = await app.token(client);
      for (let i = 0; i < 10; i++) expect((await get(summary(), token)).status).toBe(200);
      const res = await get(summary(), token);
      await expectRefusal(res, 429, 'rate_limited');
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      expect(res.headers.get('ratelimit-policy')).toBe('"minute";q=10;w=60, "day";q=1000000;w=86400;edgate-unit="cost"');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"minute";r=0;t=${retryAfter}, "day";r=999900;t=\\d+$`));
    });

    it('answers 429 cost_quota_exceeded past the daily cost, and a refused call spends nothing', async () => {
      const client = await app.client({ tier: 'thrifty', edorgIds: [255901] });
      const token = await app.token(client);
      expect((await get(summary(), token)).status).toBe(200);
      expect((await get(summary(), token)).status).toBe(200);
      const res = await get(summary(), token);
      await expectRefusal(res, 429, 'cost_quota_exceeded');
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 86_400).toBe(true);
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`"day";r=5;t=${retryAfter}$`));
      // 5 cost remain: an item read (cost 1) still fits; it reaches routing and finds nothing.
      const cheap = await get('/data/v3/ed-fi/students/0123456789abcdef0123456789abcdef', token);
      expect(cheap.status).toBe(404);
      expect(cheap.headers.get('ratelimit')).toMatch(/"day";r=4;t=\d+$/);
    });

    it('admits exactly 10 of 50 concurrent calls against a quota of 10', async () => {
      const client = await app.client({ tier: 'tiny', edorgIds: [255901] });
      const token = await app.token(client);
      const statuses = await Promise.all(Array.from({ length: 50 }, async () => (await get(summary(), token)).status));
      expect(statuses.filter((s) => s === 200)).toHaveLength(10);
      expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    });

    it('counts outcomes per tier in Prometheus', async () => {
      const text = await (await app.fetch('/metrics')).text();
      expect(text).toMatch(/edgate_gateway_requests_total\{tier="tiny",outcome="rate_limited"\} ([4-9]\d|\d{3,})/);
      expect(text).toMatch(/edgate_gateway_requests_total\{tier="thrifty",outcome="cost_quota_exceeded"\} [1-9]/);
      expect(text).toMatch(/edgate_gateway_requests_total\{tier="standard",outcome="admitted"\} [1-9]/);
      expect(text).toMatch(/edgate_gateway_authentication_failures_total\{result="missing_token"\} [1-9]/);
    });
  });

  describe('school-level authorisation', () => {
    it('answers 403 school_not_approved for a school outside the token\'s schools', async () => {
      const middle = await app.client({ tier: 'standard', edorgIds: [255901044] });
      const token = await app.token(middle);
      expect(decodeJwt(token).schools).toEqual(['255901044']);
      expect((await get(summary('255901044'), token)).status).toBe(200);
      await expectRefusal(await get(summary('255901001'), token), 403, 'school_not_approved');
    });

    it('never lets a client-supplied X-Claim-* header widen access', async () => {
      const middle = await app.client({ tier: 'standard', edorgIds: [255901044] });
      const token = await app.token(middle);
      const spoof = { 'x-claim-schools': '255901001,255901044,255901107', 'X-Claim-Client-Id': vendor.clientId };
      await expectRefusal(await get(summary('255901001'), token, spoof), 403, 'school_not_approved');
      // Replaced, not merged: the client's own school still answers.
      expect((await get(summary('255901044'), token, spoof)).status).toBe(200);
      const nowhere = await app.client({ tier: 'standard', edorgIds: [] });
      await expectRefusal(await get(summary('255901001'), await app.token(nowhere), spoof), 403, 'school_not_approved');
    });
  });
});

describe('gateway with Redis unreachable', () => {
  let app: TestApp;
  beforeAll(async () => {
    // Port 1: nothing listens, so every Redis command fails at once.
    app = await startTestApp(engines[0], { EDGATE_CONFIG: tiersConfigFile(), REDIS_URL: 'redis://127.0.0.1:1' });
    await app.edorgs(...grandBend);
  });
  afterAll(() => app.stop());

  it('fails closed: 503 with Retry-After, never an unchecked admission', async () => {
    const client = await app.client({ tier: 'standard', edorgIds: [255901] });
    const res = await app.fetch(summary(), bearer(await app.token(client)));
    const body = await expectRefusal(res, 503, 'revocation_unavailable');
    expect(body.detail).toMatch(/try again/);
    expect(res.headers.get('retry-after')).toBe('1');
  });

  it('makes `client disable` fail loudly when Redis cannot be told, after recording it in the database', async () => {
    const client = await app.client({ tier: 'standard', edorgIds: [255901] });
    const result = await app.cli('client', 'disable', client.clientId, '--json');
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ error: 'redis_unavailable', detail: expect.stringMatching(/database now says disabled/) });
    expect(Boolean((await app.services.db('clients').where({ client_id: client.clientId }).first()).disabled)).toBe(true);
  });

  it('still answers 401 for a missing token', async () => {
    await expectRefusal(await app.fetch(summary()), 401, 'missing_token');
  });
});
