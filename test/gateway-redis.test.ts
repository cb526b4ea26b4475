import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { setClientDisabled } from '../src/db/clients.js';
import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines, redisUrl } from './helpers/engines.js';
import { bearer, tiersConfigFile, within } from './helpers/gateway.js';

const summary = '/stats/v1/attendance/summary?school_id=255901001';

describe.skipIf(!redisUrl).each(engines)('gateway on $name + Redis', (engine) => {
  let first: TestApp;
  let second: TestApp;
  let redis: Redis;

  beforeAll(async () => {
    first = await startTestApp(engine, { EDGATE_CONFIG: tiersConfigFile(), REDIS_URL: redisUrl! });
    // A second instance on the same database and the same Redis keys: one deployment, two processes.
    second = await startTestApp(engine, { ...first.env, DATABASE_URL: first.env.DATABASE_URL });
    await first.edorgs(...grandBend);
    redis = new Redis(redisUrl!);
  });
  afterAll(async () => {
    // The day windows would otherwise linger in a shared Redis for 24 hours.
    const keys = await redis.keys(`${first.env.REDIS_PREFIX}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await second?.stop();
    await first?.stop();
  });

  const status = async (app: TestApp, token: string) => (await app.fetch(summary, bearer(token))).status;

  it('admits exactly 10 of 50 concurrent calls against a quota of 10', async () => {
    const token = await first.token(await first.client({ tier: 'tiny', edorgIds: [255901] }));
    const answers = await Promise.all(Array.from({ length: 50 }, async () => {
      const res = await first.fetch(summary, bearer(token));
      return res.status === 200 || res.status === 429 ? res.status : `${res.status} ${await res.text()}`;
    }));
    expect(answers.filter((s) => s === 200)).toHaveLength(10);
    expect(answers.filter((s) => s !== 200 && s !== 429)).toEqual([]);
  });

  it('shares one budget between two instances, also under concurrency', async () => {
    const token = await first.token(await first.client({ tier: 'tiny', edorgIds: [255901] }));
    const statuses = await Promise.all(Array.from({ length: 50 }, (_, i) => status(i % 2 ? second : first, token)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
  });

  it('shares the daily cost quota between instances, with RateLimit headers from either', async () => {
    const token = await first.token(await first.client({ tier: 'thrifty', edorgIds: [255901] }));
    expect(await status(first, token)).toBe(200);
    const res = await second.fetch(summary, bearer(token));
    expect(res.status).toBe(200);
    expect(res.headers.get('ratelimit')).toMatch(/"day";r=5;t=\d+$/);
    const refused = await first.fetch(summary, bearer(token));
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: 'cost_quota_exceeded' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  it('keeps its counters under the configured prefix', async () => {
    const keys = await redis.keys(`${first.env.REDIS_PREFIX}rl:*`);
    expect(keys.some((k) => k.startsWith(`${first.env.REDIS_PREFIX}rl:minute:tiny:`))).toBe(true);
    expect(keys.some((k) => k.startsWith(`${first.env.REDIS_PREFIX}rl:day:thrifty:`))).toBe(true);
  });

  it('stops a disabled client on both instances within 10 s, through the Redis denylist', async () => {
    const victim = await first.client({ tier: 'standard', edorgIds: [255901] });
    const token = await first.token(victim);
    expect(await status(first, token)).toBe(200);
    expect(await status(second, token)).toBe(200);
    const started = Date.now();
    expect(await first.cli('client', 'disable', victim.clientId)).toMatchObject({ code: 0, stderr: '' });
    expect(await redis.sismember(`${first.env.REDIS_PREFIX}revoked-clients`, victim.clientId)).toBe(1);
    const deadline = () => 10_000 - (Date.now() - started);
    await within(deadline(), async () => (await status(first, token)) === 401);
    await within(deadline(), async () => (await status(second, token)) === 401);
    expect(await first.cli('client', 'enable', victim.clientId)).toMatchObject({ code: 0, stderr: '' });
    expect(await redis.sismember(`${first.env.REDIS_PREFIX}revoked-clients`, victim.clientId)).toBe(0);
    await within(10_000, async () => (await status(second, token)) === 200);
  });

  it('copies clients disabled in the database alone into the denylist when an instance connects', async () => {
    const victim = await first.client({ tier: 'standard', edorgIds: [255901] });
    const token = await first.token(victim);
    // As if the CLI had found Redis down: only the database knows.
    await setClientDisabled(first.services.db, victim.clientId, true);
    const third = await startTestApp(engine, { ...first.env });
    try {
      await within(10_000, async () => (await redis.sismember(`${first.env.REDIS_PREFIX}revoked-clients`, victim.clientId)) === 1);
      await within(10_000, async () => (await status(third, token)) === 401);
      await within(10_000, async () => (await status(first, token)) === 401);
    } finally {
      await third.stop();
    }
  });
});
