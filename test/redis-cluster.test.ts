import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { bearer, tiersConfigFile, within } from './helpers/gateway.js';
import { onboard, signIn } from './helpers/portal.js';
import { clusterUnavailable, startRedisCluster, type RedisClusterHandle } from './helpers/redis-cluster.js';
import { configFile, roster, secretFor, sync } from './sis-helpers.js';

const summary = '/stats/v1/attendance/summary?school_id=255901001';
const unavailable = clusterUnavailable();
if (unavailable) console.warn(`test/redis-cluster.test.ts skipped: ${unavailable}`);
// Redis features do not depend on the database: one engine, the one a scaled-out deployment runs (MariaDB when set).
const engine = engines[engines.length - 1];
const sisPerMinute = 3;

describe.skipIf(unavailable)(`edgate on a real Redis Cluster (3 masters, 3 replicas)${unavailable ? `: skipped, ${unavailable}` : ''}`, () => {
  let cluster: RedisClusterHandle;
  let first: TestApp;
  let second: TestApp;

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const { tiers } = JSON.parse(readFileSync(tiersConfigFile(), 'utf8')) as { tiers: unknown };
    const config = configFile({ tiers, sisSync: { requestsPerMinute: sisPerMinute } });
    first = await startTestApp(engine, { EDGATE_CONFIG: config, REDIS_URL: cluster.url });
    second = await startTestApp(engine, { ...first.env });
    await first.edorgs(...grandBend);
    // The cluster client connects in the background: wait until both instances' limits answer.
    const probe = await first.token(await first.client({ tier: 'standard', edorgIds: [255901] }));
    for (const app of [first, second]) await within(20_000, async () => (await status(app, probe)) === 200);
  }, 120_000);
  afterAll(async () => {
    await second?.stop();
    await first?.stop();
    await cluster?.stop();
  });

  const status = async (app: TestApp, token: string) => (await app.fetch(summary, bearer(token))).status;
  const prefix = () => first.env.REDIS_PREFIX;

  it('admits exactly 10 of 50 concurrent calls across two instances against a quota of 10', async () => {
    const token = await first.token(await first.client({ tier: 'tiny', edorgIds: [255901] }));
    const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => status(i % 2 ? second : first, token)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
  });

  it("spreads clients' counters over the masters, each client's keys in one slot (its id as hash tag)", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const client = await first.client({ tier: 'standard', edorgIds: [255901] });
      ids.push(client.clientId);
      expect(await status(i % 2 ? second : first, await first.token(client))).toBe(200);
    }
    const masters = new Set<number>();
    for (const id of ids) {
      const minute = await cluster.masterOf(`${prefix()}rl:minute:standard:{${id}}`);
      expect(await cluster.masterOf(`${prefix()}rl:day:standard:{${id}}`)).toBe(minute);
      expect(await cluster.cli(minute, 'exists', `${prefix()}rl:day:standard:{${id}}`)).toMatch(/^1/);
      masters.add(minute);
    }
    expect(masters.size).toBeGreaterThan(1);
  });

  it('stops a disabled client on both instances within 10 s (the CLI writes the revocation set on the cluster)', async () => {
    const victim = await first.client({ tier: 'standard', edorgIds: [255901] });
    const token = await first.token(victim);
    expect(await status(second, token)).toBe(200);
    const started = Date.now();
    expect(await first.cli('client', 'disable', victim.clientId)).toMatchObject({ code: 0, stderr: '' });
    const left = () => 10_000 - (Date.now() - started);
    await within(left(), async () => (await status(first, token)) === 401);
    await within(left(), async () => (await status(second, token)) === 401);
    expect(await first.cli('client', 'enable', victim.clientId)).toMatchObject({ code: 0, stderr: '' });
    await within(10_000, async () => (await status(second, token)) === 200);
  });

  it('keeps a portal session signed in through one instance valid on the other, in the cluster only', async () => {
    await onboard(first, 'cluster@example.com');
    const { browser, landed } = await signIn(first, 'cluster@example.com');
    expect(landed).toBe('/portal/apps');
    const cookie = `edgate_portal=${browser.cookies.get('edgate_portal')!.value}`;
    const elsewhere = await second.fetch('/portal/apps', { headers: { cookie }, redirect: 'manual' });
    expect(elsewhere.status).toBe(200);
    expect(await elsewhere.text()).toContain('cluster@example.com');
    expect(Number((await first.services.db('portal_sessions').count({ n: '*' }).first())!.n)).toBe(0);
  });

  it("adds up a client's usage from both instances", async () => {
    const client = await first.client({ tier: 'standard', edorgIds: [255901] });
    const token = await first.token(client);
    for (let i = 0; i < 6; i++) expect(await status(i % 2 ? second : first, token)).toBe(200);
    // Each instance flushes its counts once a second; either instance reads the sum.
    await within(5_000, async () => (await second.services.usage.snapshot(client.clientId)).thisMinute === 6);
    const { hours } = await first.services.usage.snapshot(client.clientId);
    expect(hours.at(-1)).toMatchObject({ admitted: 6, limited: 0 });
  });

  it(`holds the SIS limit (${sisPerMinute} a minute) across both instances, under concurrency`, async () => {
    const secret = await secretFor(first, 255901);
    const batch = { students: roster(2, 'C') };
    const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => sync(i % 2 ? second : first, secret, batch).then((res) => res.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(sisPerMinute);
    expect(statuses.filter((s) => s === 429)).toHaveLength(8 - sisPerMinute);
  });

  it('survives a failover: a master killed, its replica promoted, limits, revocation and sessions carry on', async () => {
    const victim = await first.client({ tier: 'standard', edorgIds: [255901] });
    const victimToken = await first.token(victim);
    expect(await first.cli('client', 'disable', victim.clientId)).toMatchObject({ code: 0 });
    await onboard(first, 'failover@example.com');
    const { browser } = await signIn(first, 'failover@example.com');
    const cookie = `edgate_portal=${browser.cookies.get('edgate_portal')!.value}`;
    // Replication is asynchronous: let the replicas catch up before their master dies.
    await new Promise((r) => setTimeout(r, 500));

    const master = await cluster.masterOf(`${prefix()}revoked-clients`);
    const { tookMs } = await cluster.failOver(master);
    expect(tookMs).toBeLessThan(30_000);

    const tiny = await first.token(await first.client({ tier: 'tiny', edorgIds: [255901] }));
    const healthy = await first.token(await first.client({ tier: 'standard', edorgIds: [255901] }));
    // Until the clients have learned the new slot map, calls are refused closed (503), never a 500 nor an admission.
    for (const app of [first, second]) {
      await within(20_000, async () => {
        const s = await status(app, healthy);
        expect([200, 503]).toContain(s);
        return s === 200;
      });
    }
    expect(await status(first, victimToken)).toBe(401);
    expect(await status(second, victimToken)).toBe(401);
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => status(i % 2 ? second : first, tiny)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(20);
    expect((await second.fetch('/portal/apps', { headers: { cookie }, redirect: 'manual' })).status).toBe(200);
  }, 90_000);
});
