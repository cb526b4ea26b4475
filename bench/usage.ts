/**
 * `npm run bench -- usage [--rounds N] [--ms M]`
 *
 * The gateway middleware called directly in a loop (as the gateway scenario's middleware figure),
 * once with the portal's per-client usage counter and once with a counter that does nothing,
 * alternating rounds in one process: the ratio is what counting costs the hot path. In memory
 * (the Redis variant buffers the same way and flushes off the hot path, once a second).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Context } from 'koa';

import { loadConfig } from '../src/config/index.js';
import { gateway } from '../src/gateway/index.js';
import { memoryUsage, type UsageMeter } from '../src/gateway/usage.js';
import { openServices, type Services } from '../src/app/services.js';
import { benchToken, machine, medianOf, registerBenchClient, writeReport } from './lib.js';

const issuer = 'http://bench.edgate';
const noCounter: UsageMeter = { record() {}, snapshot: async () => ({ thisMinute: 0, hours: [] }), close() {} };


/** Microseconds per admitted call of the gateway middleware with this usage counter. */
async function microsPerCall(services: Services, usage: UsageMeter, bearer: string, ms: number): Promise<number> {
  const guard = gateway({ ...services, usage });
  const next = async () => undefined;
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    const headers: Record<string, string> = { authorization: `Bearer ${bearer}` };
    const ctx = { method: 'GET', path: '/stats/v1/bench', state: {}, req: { headers }, get: (name: string) => headers[name] ?? '', set: () => undefined };
    await guard(ctx as unknown as Context, next);
    n++;
  }
  return ((performance.now() - started) * 1000) / n;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { rounds: { type: 'string', default: '7' }, ms: { type: 'string', default: '1500' } } });
  const rounds = Number(values.rounds);
  const ms = Number(values.ms);
  const dir = mkdtempSync(join(tmpdir(), 'edgate-bench-'));
  const config = {
    ...loadConfig({ DATABASE_URL: `sqlite:${join(dir, 'bench.sqlite')}`, PUBLIC_URL: issuer, LOG_LEVEL: 'silent', REDIS_PREFIX: `edgate-bench:${randomBytes(4).toString('hex')}:` }),
    tiers: { bench: { requestsPerMinute: 1_000_000_000, costPerDay: 1_000_000_000_000 } },
  };
  const services = await openServices(config);
  await registerBenchClient(services.db);
  try {
    const bearer = await benchToken(services.keyring, issuer, ['255901001']);
    const counted = memoryUsage();
    await microsPerCall(services, counted, bearer, ms); // warm-up: JIT, token cache, revocation snapshot
    const withCounter: number[] = [];
    const without: number[] = [];
    for (let round = 0; round < rounds; round++) {
      withCounter.push(await microsPerCall(services, counted, bearer, ms));
      without.push(await microsPerCall(services, noCounter, bearer, ms));
    }
    const a = medianOf(withCounter);
    const b = medianOf(without);
    writeReport({
      scenario: 'usage',
      date: new Date().toISOString(),
      machine: machine(),
      rounds,
      rows: [
        { 'gateway middleware': 'with the usage counter', 'µs per call (median)': a.toFixed(2) },
        { 'gateway middleware': 'without (no-op counter)', 'µs per call (median)': b.toFixed(2) },
        { 'gateway middleware': 'ratio with / without', 'µs per call (median)': (a / b).toFixed(3) },
      ],
    });
  } finally {
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
