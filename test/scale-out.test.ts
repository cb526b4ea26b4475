import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { freePort, haproxyUnavailable, healthCheck, startHaproxy, type Balancer } from '../bench/haproxy.js';
import { startInstance, type Instance } from '../bench/instances.js';
import { loadConfig } from '../src/config/index.js';
import { createClient } from '../src/db/clients.js';
import { putEdorg } from '../src/db/edorgs.js';
import { createDb, type Db } from '../src/db/knex.js';
import { resolveSecretHashKey } from '../src/db/settings.js';
import { issueSisSecret } from '../src/sis/institution-secrets.js';
import { student } from './edfi-helpers.js';
import { grandBend, issuer, runCli, type TestApp } from './helpers/app.js';
import { engines, redisUrl } from './helpers/engines.js';
import { bearer, within } from './helpers/gateway.js';
import { onboard, signIn } from './helpers/portal.js';
import { configFile, roster } from './sis-helpers.js';

const summary = '/stats/v1/attendance/summary?school_id=255901001';
const mysql = engines.find((engine) => engine.name === 'mysql');
const refreshSeconds = 2;
// Above the balancer's check interval × fall count (500 ms here), with room for a loaded machine.
const drainSeconds = 2;

function skipReason(): string | undefined {
  if (!mysql) return 'TEST_MYSQL_URL is not set (3 instances share one MariaDB)';
  if (!redisUrl) return 'TEST_REDIS_URL is not set (3 instances share one Redis)';
  return haproxyUnavailable();
}
const skipped = skipReason();
// The reason in the run's output, not only in the (skipped) suite's name.
if (skipped) console.warn(`test/scale-out.test.ts skipped: ${skipped}`);

/**
 * Three edgate processes on one MariaDB and one Redis behind a real HAProxy (round-robin, health-checked on /ready):
 * the deployment a state runs. The instances start once for the file; the rolling restart comes last.
 */
describe.skipIf(skipped)(`3 instances behind HAProxy on MariaDB + Redis${skipped ? `: skipped, ${skipped}` : ''}`, () => {
  let db: Db;
  let hashKey: Buffer;
  let dropDatabase: () => Promise<void>;
  let env: Record<string, string>;
  let instances: Instance[] = [];
  let balancer: Balancer;
  const ports: Record<string, number> = {};

  const newClient = async (tier = 'standard', claimSet = 'SIS Vendor') => {
    const { client, secret } = await createClient(db, hashKey, { name: 'scale client', tier, claimSet, edorgIds: [255901] }, { tiers: ['standard', 'tiny', 'bulk'], claimSets: ['SIS Vendor', 'Ed-Fi Sandbox'] });
    return { clientId: client.clientId, secret };
  };
  const tokenFrom = async (base: string, client: { clientId: string; secret: string }) => {
    const res = await fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: client.clientId, client_secret: client.secret, grant_type: 'client_credentials' }),
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { access_token: string }).access_token;
  };
  const status = async (base: string, token: string) => (await fetch(base + summary, bearer(token))).status;

  beforeAll(async () => {
    const database = await mysql!.createDatabase();
    dropDatabase = database.drop;
    env = {
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl!,
      REDIS_PREFIX: `edgate-scale:${Date.now()}:`,
      PUBLIC_URL: issuer,
      REFRESH_SECONDS: String(refreshSeconds),
      DRAIN_SECONDS: String(drainSeconds),
      LOG_LEVEL: 'info',
      EDGATE_CONFIG: configFile({
        tiers: {
          standard: { requestsPerMinute: 600, costPerDay: 100_000 },
          tiny: { requestsPerMinute: 10, costPerDay: 1_000_000 },
          bulk: { requestsPerMinute: 1_000_000, costPerDay: 1_000_000_000 },
        },
      }),
    };
    for (const name of ['e1', 'e2', 'e3']) ports[name] = await freePort();
    // The first migrates the new database alone; the other two then start side by side.
    instances = [await startInstance('e1', ports.e1, env)];
    instances.push(...(await Promise.all(['e2', 'e3'].map((name) => startInstance(name, ports[name], env)))));
    db = createDb(env.DATABASE_URL);
    hashKey = await resolveSecretHashKey(db, loadConfig(env));
    for (const row of grandBend) await putEdorg(db, row, { upsert: true });
    // No retries: a request HAProxy sent to an instance that had stopped listening would reach the client as an error.
    balancer = await startHaproxy(ports, { retries: false });
    await balancer.waitFor('UP');
  }, 300_000);

  afterAll(async () => {
    await balancer?.stop();
    await Promise.all(instances.map((instance) => instance.stop()));
    if (env?.REDIS_PREFIX) {
      const redis = new Redis(redisUrl!);
      const keys = await redis.keys(`${env.REDIS_PREFIX}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    await db?.destroy();
    await dropDatabase?.();
  }, 60_000);

  it('spreads calls round-robin over the three', async () => {
    const client = await newClient();
    const token = await tokenFrom(balancer.url, client);
    const before = await balancer.answered();
    for (let i = 0; i < 6; i++) expect(await status(balancer.url, token)).toBe(200);
    const after = await balancer.answered();
    expect(Object.keys(after).map((server) => after[server] - before[server])).toEqual([2, 2, 2]);
  });

  it('verifies a token from any instance on every one', async () => {
    const client = await newClient();
    for (const issuerInstance of instances) {
      const token = await tokenFrom(issuerInstance.url, client);
      for (const verifier of instances) expect({ from: issuerInstance.name, on: verifier.name, status: await status(verifier.url, token) }).toEqual({ from: issuerInstance.name, on: verifier.name, status: 200 });
    }
  });

  it(`picks up \`edgate keys rotate\` on all within REFRESH_SECONDS (${refreshSeconds} s), with no 401 for either key`, async () => {
    const client = await newClient();
    const before = await tokenFrom(balancer.url, client);
    const rotated = await runCli(['keys', 'rotate', '--json'], env);
    expect(rotated.code).toBe(0);
    const rotatedAt = Date.now();
    const newKid = JSON.parse(rotated.stdout).active_kid as string;
    expect(decodeProtectedHeader(before).kid).not.toBe(newKid);
    const statuses: number[] = [];
    // Each instance, polled on its own: how long until it signs with the new key? Meanwhile every token it issues,
    // and the one from before the rotation, must verify on all three.
    const switchedAfterMs = await Promise.all(
      instances.map(async (instance) => {
        for (;;) {
          const token = await tokenFrom(instance.url, client);
          for (const verifier of instances) statuses.push(await status(verifier.url, token), await status(verifier.url, before));
          if (decodeProtectedHeader(token).kid === newKid) return Date.now() - rotatedAt;
          if (Date.now() - rotatedAt > refreshSeconds * 1000 + 10_000) return Infinity;
        }
      }),
    );
    // REFRESH_SECONDS, plus a second of slack for a loaded machine (a poll is a token request and six calls).
    expect(Math.max(...switchedAfterMs)).toBeLessThanOrEqual(refreshSeconds * 1000 + 1_000);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  }, 30_000);

  it('holds a quota exactly: 50 concurrent calls through the balancer against 10 a minute admit 10', async () => {
    const token = await tokenFrom(balancer.url, await newClient('tiny'));
    const statuses = await Promise.all(Array.from({ length: 50 }, () => status(balancer.url, token)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
  });

  it('stops a disabled client on every instance within 10 s', async () => {
    const client = await newClient();
    const token = await tokenFrom(balancer.url, client);
    for (const instance of instances) expect(await status(instance.url, token)).toBe(200);
    const started = Date.now();
    expect(await runCli(['client', 'disable', client.clientId], env)).toMatchObject({ code: 0 });
    for (const instance of instances) await within(10_000 - (Date.now() - started), async () => (await status(instance.url, token)) === 401);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('stays idempotent when the same SIS batch lands on two instances at once', async () => {
    const { secret } = await issueSisSecret(db, hashKey, 255901);
    const batch = JSON.stringify({ students: roster(200, 'HA') });
    const send = (instance: Instance) =>
      fetch(`${instance.url}/api/sis/sync`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` }, body: batch });
    const answers = await Promise.all([send(instances[0]), send(instances[1])]);
    const counts = (await Promise.all(answers.map((res) => res.json()))) as Array<{ received: number; created: number; unchanged: number }>;
    expect(answers.map((res) => res.status)).toEqual([200, 200]);
    expect(counts.map((c) => c.received)).toEqual([200, 200]);
    const [{ n }] = await db('edfi_documents').where({ resource: 'students' }).count({ n: '*' });
    expect(Number(n)).toBe(200);
    // Sent once more, anywhere: nothing new, nothing changed.
    const again = await send(instances[2]);
    expect(await again.json()).toMatchObject({ received: 200, created: 0, updated: 0, unchanged: 200 });
  });

  it('issues change versions that only grow across the three: each once, committed in order, none lost', async () => {
    const writes = 30;
    const writer = await tokenFrom(balancer.url, await newClient('bulk'));
    // A sandbox client reads every student, enrolled or not (a SIS vendor's reach needs an enrolment).
    const reader = await tokenFrom(balancer.url, await newClient('bulk', 'Ed-Fi Sandbox'));
    const read = async (instance: Instance, path: string) => {
      const res = await fetch(instance.url + path, bearer(reader));
      expect(res.status, `${instance.name} ${path}`).toBe(200);
      return res;
    };
    const newestOn = async (instance: Instance) => ((await (await read(instance, '/changeQueries/v1/availableChangeVersions')).json()) as { newestChangeVersion: number }).newestChangeVersion;
    const before = await newestOn(instances[0]);

    // While the writes land, three readers go from instance to instance: the newest version one shows, and how many
    // of the new students up to it the next one lists. Versions are committed in order only if that is all of them.
    const seen: Array<Array<{ newest: number; listed: number }>> = [[], [], []];
    const look = async (reader: number, i: number) => {
      const newest = await newestOn(instances[i % 3]);
      const res = await read(instances[(i + 1) % 3], `/data/v3/ed-fi/students?minChangeVersion=${before + 1}&maxChangeVersion=${newest}&totalCount=true&limit=1`);
      await res.arrayBuffer();
      seen[reader].push({ newest, listed: Number(res.headers.get('total-count')) });
    };
    let writing = true;
    const reading = Promise.all(
      seen.map(async (_, reader) => {
        for (let i = reader; writing; i++) await look(reader, i);
      }),
    );
    const answeredBefore = await balancer.answered();
    const post = (i: number) =>
      fetch(`${balancer.url}/data/v3/ed-fi/students`, {
        method: 'POST',
        headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/json' },
        body: JSON.stringify(student(`CV${String(i).padStart(3, '0')}`)),
      });
    const answers = await Promise.all(Array.from({ length: writes }, (_, i) => post(i)));
    const answeredAfter = await balancer.answered();
    writing = false;
    await reading;
    await look(0, 0);

    const looks = seen.flat();
    const midway = looks.filter((s) => s.newest > before && s.newest < before + writes).length;
    console.info(`change versions: ${writes} writes through HAProxy, ${looks.length} reads meanwhile (${midway} while some of them had landed)`);
    expect(answers.map((res) => res.status)).toEqual(Array(writes).fill(201));
    // The reader calls the instances directly, so the balancer counts the writes alone: a third on each.
    expect(Object.keys(answeredAfter).map((server) => answeredAfter[server] - answeredBefore[server])).toEqual([10, 10, 10]);
    // Each committed write holds one version of its own: the 30 after the start, no gap, no repeat.
    const versions = (await db('edfi_documents').where({ resource: 'students' }).where('change_version', '>', before).pluck('change_version')).map(Number).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: writes }, (_, i) => before + 1 + i));
    // Every instance's newest is the largest of them.
    for (const instance of instances) expect(await newestOn(instance)).toBe(Math.max(...versions));
    // No reader's newest ever went down, and every version up to it was already there to list.
    for (const one of seen) {
      const newests = one.map((s) => s.newest);
      expect(newests).toEqual([...newests].sort((a, b) => a - b));
    }
    expect(looks.filter((s) => s.listed !== s.newest - before)).toEqual([]);
    expect(seen[0].at(-1)!.newest).toBe(before + writes);
  }, 60_000);

  it('keeps a portal session signed in through one instance valid on the others', async () => {
    const through = (instance: Instance) =>
      ({ config: { publicUrl: issuer }, services: { db, hashKey }, fetch: (path: string, init?: RequestInit) => fetch(instance.url + path, init) }) as unknown as TestApp;
    await onboard(through(instances[0]), 'scale@example.com');
    const { browser, landed } = await signIn(through(instances[0]), 'scale@example.com');
    expect(landed).toBe('/portal/apps');
    const cookie = `edgate_portal=${browser.cookies.get('edgate_portal')!.value}`;
    for (const other of instances.slice(1)) {
      const page = await fetch(`${other.url}/portal/apps`, { headers: { cookie }, redirect: 'manual' });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('scale@example.com');
    }
  });

  it('loses no request in a rolling restart of all three under steady load', async () => {
    const token = await tokenFrom(balancer.url, await newClient('bulk'));
    let run!: autocannon.Instance;
    const result = new Promise<autocannon.Result>((resolve, reject) => {
      run = autocannon({ url: balancer.url + summary, headers: { authorization: `Bearer ${token}` }, connections: 8, overallRate: 150, duration: 240 }, (err, res) => (err ? reject(err) : resolve(res)));
    });
    await new Promise((r) => setTimeout(r, 1_000));
    const restarts: Array<{ name: string; exitCode: number | null; downAfterMs: number; outForMs: number }> = [];
    for (const [i, old] of instances.entries()) {
      const started = Date.now();
      // The drain fails /ready at once: HAProxy takes the instance out within its check interval × fall count.
      const exitCode = old.terminate();
      await balancer.waitFor('DOWN', [old.name]);
      const downAfterMs = Date.now() - started;
      restarts.push({ name: old.name, exitCode: await exitCode, downAfterMs, outForMs: 0 });
      instances[i] = await startInstance(old.name, old.port, env);
      await balancer.waitFor('UP', [old.name]);
      restarts[i].outForMs = Date.now() - started;
    }
    await new Promise((r) => setTimeout(r, 1_000));
    run.stop();
    const { requests, non2xx, errors, timeouts } = await result;
    // The figures the README quotes: how much load went through, how long each instance was out of rotation.
    console.info(`rolling restart: ${requests.total} requests, ${non2xx} non-2xx, ${errors} errors; taken out after / back after ${restarts.map((r) => `${r.name} ${r.downAfterMs}/${r.outForMs} ms`).join(', ')}`);
    expect(restarts.map((r) => r.exitCode)).toEqual([0, 0, 0]);
    expect({ non2xx, errors, timeouts }).toEqual({ non2xx: 0, errors: 0, timeouts: 0 });
    expect(requests.total).toBeGreaterThan(100);
    expect(healthCheck.interMs * healthCheck.fall).toBeLessThan(drainSeconds * 1000);
  }, 300_000);
});
