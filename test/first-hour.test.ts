import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../src/config/index.js';
import { pushRoster, readRoster } from '../src/integrator/sis-push.js';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { tiersConfigFile } from './helpers/gateway.js';

/** What a newcomer stumbled over in their first hour: each answer is now the one they should have got. */
describe.each(engines)('a newcomer’s first requests on $name', (engine) => {
  let app: TestApp;
  let client: { clientId: string; secret: string };

  beforeAll(async () => {
    app = await startTestApp(engine, { EDGATE_CONFIG: tiersConfigFile() });
    await app.edorgs(...grandBend);
    client = await app.client({ name: 'Newcomer', edorgIds: [255901] });
  });
  afterAll(() => app.stop());

  const tokenRequest = (body: string, contentType?: string) =>
    app.fetch('/oauth/token', { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });

  it('puts the request id in token endpoint errors, oidc-provider’s own included', async () => {
    const own = await app.fetch('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'first-hour-1' }, body: 'grant_type=password' });
    expect(own.status).toBe(400);
    expect(await own.json()).toEqual({ error: 'unsupported_grant_type', error_description: expect.any(String), request_id: 'first-hour-1' });
    const provider = await app.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'first-hour-2' },
      body: `grant_type=client_credentials&client_id=${client.clientId}&client_secret=wrong`,
    });
    expect(provider.status).toBe(401);
    expect(await provider.json()).toMatchObject({ error: 'invalid_client', request_id: 'first-hour-2' });
  });

  it('answers every unknown path with one 404 shape, under /oauth/ too', async () => {
    // /oauth/me (userinfo) is one of oidc-provider's paths edgate does not serve; /oauth/authorize is served (the portal's sign-in).
    for (const path of ['/nope', '/oauth/nope', '/oauth/me']) {
      const res = await app.fetch(path, { headers: { 'x-request-id': 'first-hour-404' } });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'not_found', detail: `no route for GET ${path}`, request_id: 'first-hour-404' });
    }
  });

  it('answers a token request that is neither a form nor JSON with 415', async () => {
    const res = await tokenRequest('grant_type=client_credentials', 'text/plain');
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('says so when a JSON token request is sent as a form (curl -d without a content type)', async () => {
    const res = await tokenRequest(JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret }), 'application/x-www-form-urlencoded');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toContain('send Content-Type: application/json');
  });

  it('labels a refused API call with its route template in the request metrics', async () => {
    expect((await app.fetch('/stats/v1/attendance/summary?school_id=255901001')).status).toBe(401);
    expect((await app.fetch('/data/v3/ed-fi/students/0123456789abcdef0123456789abcdef')).status).toBe(401);
    const scrape = await (await app.fetch('/metrics')).text();
    expect(scrape).toMatch(/edgate_http_requests_total\{method="GET",route="\/stats\/v1\/attendance\/summary",status="401"\} 1/);
    expect(scrape).toMatch(/edgate_http_requests_total\{method="GET",route="\/data\/v3\/:project\/:resource\/:id",status="401"\} 1/);
  });

  it('serves a scrape that keeps Prometheus naming rules (what `promtool check metrics` checks)', async () => {
    const scrape = await (await app.fetch('/metrics')).text();
    const types = [...scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => ({ name, type }));
    const helped = new Set([...scrape.matchAll(/^# HELP (\S+) \S/gm)].map(([, name]) => name));
    expect(types.length).toBeGreaterThan(10);
    for (const { name, type } of types) {
      expect(name, name).toMatch(/^[a-z_:][a-z0-9_:]*$/);
      expect(helped.has(name), `${name} has HELP`).toBe(true);
      // Only counters end in _total; a counter always does.
      expect(name.endsWith('_total'), `${type} ${name}`).toBe(type === 'counter');
    }
  });

  it('answers no credentials with a bare Bearer challenge, and a 429 with the draft’s quota-exceeded problem type', async () => {
    const anonymous = await app.fetch('/data/v3/ed-fi/students');
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="edgate"');
    expect(await anonymous.json()).toMatchObject({ error: 'missing_token' });

    const tiny = await app.client({ tier: 'tiny', edorgIds: [255901] });
    const token = await app.token(tiny);
    let res: Response | undefined;
    for (let i = 0; i < 11; i++) res = await app.fetch('/data/v3/ed-fi/schools', { headers: { authorization: `Bearer ${token}` } });
    expect(res!.status).toBe(429);
    expect(res!.headers.get('ratelimit-policy')).toBe('"minute";q=10;w=60, "day";q=1000000;w=86400;edgate-unit="cost"');
    expect(await res!.json()).toMatchObject({
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      status: 429,
      error: 'rate_limited',
      'violated-policies': ['minute'],
    });
  });
});

describe('a mistyped DATABASE_URL', () => {
  it('refuses a sqlite: path in a folder that does not exist, instead of creating an empty database there', () => {
    const typo = join(tmpdir(), `edgate-no-such-folder-${process.pid}`, 'edgate.sqlite');
    expect(() => loadConfig({ DATABASE_URL: `sqlite:${typo}` })).toThrow(ConfigError);
    expect(() => loadConfig({ DATABASE_URL: `sqlite:${typo}` })).toThrow(/does not exist \(a typo\?\)/);
    expect(existsSync(dirname(typo))).toBe(false);
    // Development may create it; the default path is always created on first start.
    expect(loadConfig({ DATABASE_URL: `sqlite:${typo}`, NODE_ENV: 'development' }).databaseUrl).toBe(`sqlite:${typo}`);
    expect(loadConfig({}).databaseUrl).toBe('sqlite:./data/edgate.sqlite');
  });

  it('refuses a scheme that is neither sqlite: nor mysql:// as configuration (exit 78), not as a start failure', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysq://root@127.0.0.1/edgate' })).toThrow(/must start with sqlite: or mysql:\/\//);
  });
});

describe('sis push while rate limited', () => {
  it('announces each wait with its length, so a terminal can count it down', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls += 1;
      if (calls === 1) {
        res.writeHead(429, { 'retry-after': '2', 'content-type': 'application/json' }).end('{"error":"rate_limited"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":1,"created":1,"updated":0,"unchanged":0}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dir = mkdtempSync(join(tmpdir(), 'edgate-push-wait-'));
    try {
      const file = join(dir, 'roster.csv');
      writeFileSync(file, 'studentUniqueId,firstName,lastSurname,birthDate,schoolId,entryDate,entryGradeLevelDescriptor\n604901,Ana,Diaz,2010-05-04,255901001,2025-08-20,uri://ed-fi.org/GradeLevelDescriptor#Ninth grade\n');
      const waits: Array<[number, string]> = [];
      const { port } = server.address() as AddressInfo;
      const summary = await pushRoster(readRoster(file), { url: `http://127.0.0.1:${port}`, secret: 's', batchSize: 10, concurrency: 1, onWait: (ms, reason) => waits.push([ms, reason]) });
      expect(waits).toEqual([[2000, 'rate limited']]);
      expect(summary).toMatchObject({ created: 1, rate_limited: 1 });
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
