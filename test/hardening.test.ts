import { request } from 'node:http';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../src/config/index.js';
import { startServer, type RunningServer } from '../src/app/server.js';
import { openServices } from '../src/app/services.js';
import { apiClient, assessment, type ApiClient } from './edfi-helpers.js';
import { grandBend, issuer, startTestApp, type TestApp } from './helpers/app.js';
import { engines, redisUrl } from './helpers/engines.js';
import { accessClaims, bearer, serverSigningJwk, signWith, tiersConfigFile } from './helpers/gateway.js';
import { secretFor, sync } from './sis-helpers.js';

const summary = '/stats/v1/attendance/summary?school_id=255901001';
const students = '/data/v3/ed-fi/students';

/** A TCP port nothing listens on: a service "down" from the first connection. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** GET with a Host header of our choosing (fetch does not let a caller set Host). */
function getWithHost(url: string, path: string, host: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(engines)('issue 9 §4: smaller holes on $name', (engine) => {
  let app: TestApp;
  let vendor: { clientId: string; secret: string };
  let token: string;

  beforeAll(async () => {
    app = await startTestApp(engine, { EDGATE_CONFIG: tiersConfigFile() });
    await app.edorgs(...grandBend);
    vendor = await app.client({ name: 'Roster vendor', tier: 'standard', edorgIds: [255901], namespacePrefixes: ['uri://gb.example'] });
    token = await app.token(vendor);
  });
  afterAll(() => app.stop());

  describe('guard and router agree', () => {
    it('answers 404 for upper-case /DATA/ and /STATS/, with or without a token, and meters nothing', async () => {
      for (const path of ['/DATA/v3/ed-fi/students', '/Data/v3/ed-fi/students', '/STATS/v1/attendance/summary?school_id=255901001']) {
        for (const init of [{}, bearer(token)]) {
          const res = await app.fetch(path, init);
          expect({ path, status: res.status }).toEqual({ path, status: 404 });
          expect(res.headers.get('ratelimit')).toBeNull();
        }
      }
    });

    it('routes resource names in any case, as the ODS/API does, behind the same guard and the same reach', async () => {
      const schools = (await (await app.fetch('/data/v3/ed-fi/schools', bearer(token))).json()) as unknown[];
      expect(schools.length).toBeGreaterThan(0);
      for (const path of ['/data/v3/ed-fi/SCHOOLS', '/data/v3/Ed-Fi/Schools', '/data/v3/ed-fi/STUDENTS']) {
        expect({ path, status: (await app.fetch(path)).status }).toEqual({ path, status: 401 });
        const res = await app.fetch(path, bearer(token));
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        expect(res.headers.get('ratelimit')).toMatch(/"minute";r=\d+/);
        if (path.endsWith('chools')) expect(await res.json()).toEqual(schools);
      }
    });

    it('still guards the lower-case paths', async () => {
      expect((await app.fetch(students)).status).toBe(401);
      const res = await app.fetch(students, bearer(token));
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toMatch(/"minute";r=\d+/);
    });
  });

  describe('discovery', () => {
    it('advertises PUBLIC_URL whatever the Host header says, and says how long to cache it', async () => {
      const res = await getWithHost(app.url, '/.well-known/openid-configuration', 'evil.example');
      expect(res.status).toBe(200);
      expect(res.body).not.toContain('evil.example');
      const doc = JSON.parse(res.body) as Record<string, unknown>;
      expect(doc.issuer).toBe(issuer);
      expect(doc.token_endpoint).toBe(`${issuer}/oauth/token`);
      expect(doc.jwks_uri).toBe(`${issuer}/.well-known/jwks.json`);
      const urls = Object.values(doc).filter((v): v is string => typeof v === 'string' && /^https?:/.test(v));
      for (const url of urls) expect(url.startsWith(`${issuer}/`) || url === issuer).toBe(true);
      expect(res.headers['cache-control']).toMatch(/max-age=\d+/);
    });
  });

  describe('token claims', () => {
    const signed = (overrides: Record<string, unknown>, clientId = vendor.clientId) => signWith(serverSigningJwk(app), accessClaims(clientId, overrides));
    const now = () => Math.floor(Date.now() / 1000);

    it('refuses an iat in the future beyond the clock skew, and allows a small skew', async () => {
      const future = await app.fetch(summary, bearer(await signed({ iat: now() + 3600, exp: now() + 7200 })));
      expect(future.status).toBe(401);
      expect(await future.json()).toMatchObject({ error: 'invalid_token' });
      expect((await app.fetch(summary, bearer(await signed({ iat: now() + 20 })))).status).toBe(200);
    });

    it('refuses a token whose client_id names no client, on /stats as on /data', async () => {
      const ghost = await signed({}, 'NoSuchClient0000');
      for (const path of [summary, students]) {
        const res = await app.fetch(path, bearer(ghost));
        expect({ path, status: res.status }).toEqual({ path, status: 401 });
        expect(await res.json()).toMatchObject({ error: 'invalid_token' });
      }
    });

    it('refuses a schools claim whose items are not ids (a comma would split downstream)', async () => {
      for (const schools of [['255901001,255901044'], ['255901001', ' 255901044'], ['255901001', '']]) {
        const res = await app.fetch(summary, bearer(await signed({ schools })));
        expect({ schools, status: res.status }).toEqual({ schools, status: 401 });
      }
    });
  });

  describe('namespace prefixes', () => {
    let owner: ApiClient;
    beforeAll(async () => {
      owner = await apiClient(app, { edorgIds: [255901], namespacePrefixes: ['uri://gb.example'] });
    });

    it('match at a path boundary: uri://gb.example admits uri://gb.example/… but not uri://gb.example.evil.example/…', async () => {
      const evil = await owner.post('assessments', assessment('NS-1', 'uri://gb.example.evil.example/assessments'));
      expect(evil.status).toBe(403);
      expect(await evil.json()).toMatchObject({ error: 'namespace_not_permitted' });
      expect((await owner.post('assessments', assessment('NS-2', 'uri://gb.examplex'))).status).toBe(403);
      expect((await owner.post('assessments', assessment('NS-3', 'uri://gb.example/assessments'))).status).toBe(201);
      expect((await owner.post('assessments', assessment('NS-4', 'uri://gb.example'))).status).toBe(201);
    });
  });

  describe('content types on JSON writes', () => {
    const body = JSON.stringify({ studentUniqueId: 'CT-1', firstName: 'Ada', lastSurname: 'Lovelace', birthDate: '2010-12-10' });
    const post = (path: string, auth: string, contentType?: string) =>
      app.fetch(path, { method: 'POST', headers: { authorization: auth, ...(contentType === undefined ? {} : { 'content-type': contentType }) }, body });

    it('refuses text/plain, a missing Content-Type and charset=utf-16 with 415 on the Ed-Fi API, writing nothing', async () => {
      for (const contentType of ['text/plain', undefined, 'application/json; charset=utf-16', 'application/x-www-form-urlencoded']) {
        const res = await post(students, `Bearer ${token}`, contentType);
        expect({ contentType, status: res.status }).toEqual({ contentType, status: 415 });
        expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
      }
      const [{ n }] = await app.services.db('edfi_documents').where({ resource: 'students' }).count({ n: '*' });
      expect(Number(n)).toBe(0);
      expect((await post(students, `Bearer ${token}`, 'application/json; charset=UTF-8')).status).toBe(201);
    });

    it('refuses them with 415 on SIS sync too', async () => {
      const secret = await secretFor(app, 255901);
      for (const contentType of ['text/plain', undefined, 'application/json;charset=utf-16']) {
        const res = await app.fetch('/api/sis/sync', { method: 'POST', headers: { authorization: `Bearer ${secret}`, ...(contentType ? { 'content-type': contentType } : {}) }, body: '{"students":[]}' });
        expect({ contentType, status: res.status }).toEqual({ contentType, status: 415 });
        expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
      }
      expect((await sync(app, secret, { students: [] })).status).toBe(200);
    });
  });

  describe('access log', () => {
    let logged: RunningServer;
    const lines: Record<string, unknown>[] = [];

    beforeAll(async () => {
      const sink = new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
          done();
        },
      });
      const config = loadConfig({ ...app.env, LOG_LEVEL: 'info' });
      logged = await startServer(config, await openServices(config, pino({ level: 'info' }, sink)));
    });
    afterAll(() => logged.close());

    it('names the client of every /oauth/token request (Basic or body), never its secret', async () => {
      const basic = Buffer.from(`${vendor.clientId}:${vendor.secret}`).toString('base64');
      const viaBasic = await fetch(`${logged.url}/oauth/token`, { method: 'POST', headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      expect(viaBasic.status).toBe(200);
      const viaBody = await fetch(`${logged.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: vendor.clientId, client_secret: 'wrong', grant_type: 'client_credentials' }),
      });
      expect(viaBody.status).toBe(401);
      const tokenLines = lines.filter((l) => l.msg === 'request' && l.path === '/oauth/token');
      expect(tokenLines).toHaveLength(2);
      for (const line of tokenLines) expect(line.client).toBe(vendor.clientId);
      expect(JSON.stringify(lines)).not.toContain(vendor.secret);
    });
  });
});

describe.each(engines)('issue 9 §4: Redis down on $name: one rule for the gateway and SIS sync', (engine) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(engine, { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    await app.edorgs(...grandBend);
  });
  afterAll(() => app.stop());

  it('fails closed on both: 503 rate_limit_unavailable with Retry-After', async () => {
    const token = await app.token(await app.client({ edorgIds: [255901] }));
    const api = await app.fetch(summary, bearer(token));
    expect(api.status).toBe(503);
    expect(await api.json()).toMatchObject({ error: expect.stringMatching(/^(rate_limit|revocation)_unavailable$/) });
    const res = await sync(app, await secretFor(app, 255901), { students: [] });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toMatchObject({ error: 'rate_limit_unavailable' });
  });
});

describe.skipIf(!redisUrl)('issue 9 §4: RateLimit headers on Redis', () => {
  let app: TestApp;
  let redis: Redis;
  beforeAll(async () => {
    app = await startTestApp(engines[0], { EDGATE_CONFIG: tiersConfigFile(), REDIS_URL: redisUrl! });
    await app.edorgs(...grandBend);
    redis = new Redis(redisUrl!);
  });
  afterAll(async () => {
    const keys = await redis.keys(`${app.env.REDIS_PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await app.stop();
  });

  it('reports the day budget truly on every answer of a first concurrent burst', async () => {
    // tiny: 10 requests a minute, 1,000,000 cost a day; the summary costs 10.
    const client = await app.client({ tier: 'tiny', edorgIds: [255901] });
    const token = await app.token(client);
    const answers = await Promise.all(Array.from({ length: 40 }, () => app.fetch(summary, bearer(token))));
    const refused = answers.filter((res) => res.status === 429);
    expect(answers.filter((res) => res.status === 200).length).toBeLessThanOrEqual(10);
    expect(refused.length).toBeGreaterThanOrEqual(20);
    // The minute admits the first 10 and they spend 10 each before any call is refused; a refused
    // call holds no cost, so every refusal reports what the day really has left.
    const spent = Number(await redis.get(`${app.env.REDIS_PREFIX}rl:day:tiny:${client.clientId}`));
    expect(spent).toBe(100);
    for (const res of refused) expect(res.headers.get('ratelimit')).toMatch(new RegExp(`"day";r=${1_000_000 - spent};`));
  });
});
