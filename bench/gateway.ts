/**
 * `npm run bench -- gateway [--rounds N] [--duration S] [--connections C] [--redis]`
 *
 * The same handler, in the same run, behind the full gateway (token verification, revocation
 * check, both rate limiters, claim forwarding) and unguarded; both apps keep edgate's request
 * context and error handler, so the difference is the gateway alone. Two handlers: an empty one
 * (the worst case: the gateway against nothing but HTTP) and the real attendance summary (a SQL
 * aggregate over 600 events, what an API call costs). The servers run in a child process so the
 * load generator does not share their event loop. Then raw verifications per second: the
 * gateway's verifier with and without its cache, and `jose.jwtVerify` in a loop.
 * `--redis` puts the limiters and the denylist on REDIS_URL.
 *
 * First, the proxied scenario (bench/proxied.ts): the stats service as its own process, through the
 * gateway's upstream route and called directly. `--proxied-only` runs just that one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLocalJWKSet, jwtVerify } from 'jose';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';

import { loadConfig } from '../src/config/index.js';
import { gateway } from '../src/gateway/index.js';
import { TokenVerifier } from '../src/gateway/verifier.js';
import { errorHandler } from '../src/http/error-response.js';
import { requestContext } from '../src/http/request-context.js';
import { openServices, type Services } from '../src/app/services.js';
import { signingAlg } from '../src/keys/signing-keys.js';
import { statsRoutes } from '../src/stats/routes.js';
import { seedAttendance } from './attendance.js';
import { proxiedScenario, type ProxiedFigure } from './proxied.js';
import { benchToken, compare, failToParent, forkServer, load, loadWithCpu, machine, registerBenchClient, serveToParent, writeReport, type Measured, type ServerProcess } from './lib.js';

const issuer = 'http://bench.edgate';
/** Quotas no run can reach, so every call is admitted and the figures measure the checks alone. */
const benchTier = { requestsPerMinute: 1_000_000_000, costPerDay: 1_000_000_000_000 };

interface Ready {
  empty: { guarded: string; unguarded: string };
  stats: { guarded: string; unguarded: string };
  token: string;
}

const school = 255901001;

interface VerifyFigures {
  cached: number;
  uncached: number;
  jose: number;
  /** The gateway middleware alone, without HTTP: microseconds per admitted call. */
  middlewareMicros: number;
}

// ---------------------------------------------------------------- child: the two servers


type Handler = (app: Koa, services: Services) => void;

const emptyHandler: Handler = (app) =>
  app.use((ctx) => {
    ctx.body = { ok: true };
  });

const attendanceHandler: Handler = (app, services) => {
  const router = new Router();
  statsRoutes(router, services);
  app.use(router.routes());
};

/**
 * edgate's request context and error handler, then the gateway or — unguarded — a stand-in that
 * forwards the same school claim, then the handler.
 */
function benchApp(services: Services, guarded: boolean, handler: Handler): Koa {
  const app = new Koa();
  app.use(requestContext(services.logger, services.metrics));
  app.use(errorHandler(services.logger));
  if (guarded) app.use(gateway(services));
  else
    app.use((ctx, next) => {
      ctx.req.headers['x-claim-schools'] = String(school);
      return next();
    });
  handler(app, services);
  return app;
}

async function listen(app: Koa, path: string): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  server.keepAliveTimeout = 65_000;
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

/** Verifications a second of `verify`, awaited one after another for `ms`. */
async function perSecond(ms: number, verify: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const started = performance.now();
  while (performance.now() - started < ms) {
    await verify();
    n++;
  }
  return Math.round(n / ((performance.now() - started) / 1000));
}

/**
 * The gateway middleware called directly in a loop, with just the context members it touches:
 * its own cost, free of the HTTP noise a shared machine adds to the load figures.
 */
async function middlewareMicros(services: Services, token: string, ms: number): Promise<number> {
  const guard = gateway(services);
  const next = async () => undefined;
  const call = () => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    // A stand-in for Koa's context: only what the gateway reads and writes.
    const ctx = { method: 'GET', path: '/stats/v1/bench', state: {}, req: { headers }, get: (name: string) => headers[name] ?? '', set: () => undefined };
    return guard(ctx as unknown as Context, next);
  };
  return Math.round((1e6 / (await perSecond(ms, call))) * 100) / 100;
}

async function verifications(services: Services, token: string, ms: number): Promise<VerifyFigures> {
  const options = { issuer, audience: issuer, tiers: ['bench'], keys: services.keyring };
  const cachedVerifier = new TokenVerifier(options);
  const uncachedVerifier = new TokenVerifier({ ...options, cacheSize: 0 });
  const keySet = createLocalJWKSet({ keys: services.keyring.current.publicJwks });
  const joseOptions = { algorithms: [signingAlg], issuer, audience: issuer, typ: 'at+jwt' };
  return {
    cached: await perSecond(ms, () => cachedVerifier.verify(token)),
    uncached: await perSecond(ms, () => uncachedVerifier.verify(token)),
    jose: await perSecond(ms, () => jwtVerify(token, keySet, joseOptions)),
    middlewareMicros: await middlewareMicros(services, token, ms),
  };
}

/** The counters this run left in a shared Redis (a day's window would otherwise linger). */
async function removeBenchKeys({ redis }: Services, prefix: string): Promise<void> {
  const keys = redis ? await redis.keys(`${prefix}*`) : [];
  if (keys.length) await redis!.del(...keys);
}

async function serve(redisUrl: string | undefined): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-bench-'));
  const config = {
    ...loadConfig({
      DATABASE_URL: `sqlite:${join(dir, 'bench.sqlite')}`,
      PUBLIC_URL: issuer,
      LOG_LEVEL: 'silent',
      REDIS_PREFIX: `edgate-bench:${randomBytes(4).toString('hex')}:`,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    }),
    tiers: { bench: benchTier },
  };
  const services = await openServices(config);
  await registerBenchClient(services.db);
  await seedAttendance(services.db, school);
  const token = await benchToken(services.keyring, issuer, ['255901001', '255901044', '255901107']);
  const pair = async (handler: Handler, path: string) => ({
    guarded: await listen(benchApp(services, true, handler), path),
    unguarded: await listen(benchApp(services, false, handler), path),
  });
  const ready: Ready = {
    empty: await pair(emptyHandler, '/stats/v1/bench'),
    stats: await pair(attendanceHandler, `/stats/v1/attendance/summary?school_id=${school}`),
    token,
  };
  serveToParent(ready, {
    answer: async (m) => (typeof m.verify === 'number' ? { figures: await verifications(services, token, m.verify) } : undefined),
    stop: async () => {
      await removeBenchKeys(services, config.redisPrefix);
      await services.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

// ---------------------------------------------------------------- parent: load and report

const row = (f: Measured) => ({ case: f.label, 'req/s': f.requestsPerSec, 'p50 ms': f.p50Ms, 'p99 ms': f.p99Ms, 'server CPU µs/req': f.serverCpuMicrosPerRequest, 'autocannon CPU µs/req': f.generatorCpuMicrosPerRequest, requests: f.requests, non2xx: f.non2xx });

/** A one-number row in the same table. */
const figureRow = (label: string, value: number) => ({ case: label, 'req/s': value, 'p50 ms': '', 'p99 ms': '', 'server CPU µs/req': '', 'autocannon CPU µs/req': '', requests: '', non2xx: '' });

interface Settings {
  rounds: number;
  durationSec: number;
  connections: number;
}

/** One handler behind the gateway and unguarded, alternating rounds, after a warm-up of each. */
async function gatewayVersusUnguarded(server: ServerProcess<Ready>, name: string, urls: Ready['empty'], settings: Settings) {
  const options = { headers: { authorization: `Bearer ${server.ready.token}` }, connections: settings.connections, durationSec: settings.durationSec };
  // Both apps share one process, so the first one measured would otherwise pay for the JIT.
  await load('warm-up', { url: urls.guarded, ...options, durationSec: 2 });
  await load('warm-up', { url: urls.unguarded, ...options, durationSec: 2 });
  const result = await compare(
    settings.rounds,
    () => loadWithCpu(server, `${name}, behind the gateway`, { url: urls.guarded, ...options }),
    () => loadWithCpu(server, `${name}, unguarded`, { url: urls.unguarded, ...options }),
  );
  const refused = [...result.rounds.subjects, ...result.rounds.baselines].find((f) => f.non2xx);
  if (refused) throw new Error(`${refused.label}: ${refused.non2xx} non-2xx answers; the benchmark is invalid`);
  console.log(`${name}: gateway ${result.subject.requestsPerSec}/s vs unguarded ${result.baseline.requestsPerSec}/s → ratio ${result.ratio} (goal ≥ 0.85)`);
  return result;
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      connections: { type: 'string', default: '10' },
      redis: { type: 'boolean', default: false },
      'proxied-only': { type: 'boolean', default: false },
    },
  });
  const redisUrl = values.redis ? process.env.REDIS_URL : undefined;
  if (values.redis && !redisUrl) throw new Error('--redis needs REDIS_URL');
  const settings = { rounds: Number(values.rounds), durationSec: Number(values.duration), connections: Number(values.connections), store: redisUrl ? 'redis' : 'memory' };

  await proxied(settings);
  if (values['proxied-only']) return;
  const server = await forkServer<Ready>(fileURLToPath(import.meta.url), ['--serve', ...(redisUrl ? ['--redis-url', redisUrl] : [])]);
  try {
    const empty = await gatewayVersusUnguarded(server, 'empty handler', server.ready.empty, settings);
    const stats = await gatewayVersusUnguarded(server, 'attendance summary', server.ready.stats, settings);
    const verify = await server.ask({ verify: 2000 }, (m) => m.figures as VerifyFigures | undefined);
    const rounds = (result: typeof empty) => ({
      gateway: result.rounds.subjects.map((f) => [f.requestsPerSec, (f as Measured).serverCpuMicrosPerRequest]),
      unguarded: result.rounds.baselines.map((f) => [f.requestsPerSec, (f as Measured).serverCpuMicrosPerRequest]),
    });
    writeReport({
      scenario: 'gateway',
      date: new Date().toISOString(),
      machine: machine(),
      settings,
      ratio: { emptyHandler: empty.ratio, attendanceSummary: stats.ratio },
      goal: 0.85,
      rows: [
        row(stats.subject as Measured),
        row(stats.baseline as Measured),
        figureRow('ratio, attendance summary (gateway / unguarded)', stats.ratio),
        row(empty.subject as Measured),
        row(empty.baseline as Measured),
        figureRow('ratio, empty handler (gateway / unguarded)', empty.ratio),
        figureRow('verifier, cache hit (verifications/s)', verify.cached),
        figureRow('verifier, no cache (verifications/s)', verify.uncached),
        figureRow('jose.jwtVerify loop (verifications/s)', verify.jose),
        figureRow('gateway middleware alone, no HTTP (µs per call)', verify.middlewareMicros),
      ],
      rounds: { attendanceSummary: rounds(stats), emptyHandler: rounds(empty) },
    });
  } finally {
    await server.stop();
  }
}

const proxiedRow = (f: ProxiedFigure) => ({ case: f.label, 'req/s': f.requestsPerSec, 'p50 ms': f.p50Ms, 'p99 ms': f.p99Ms, 'gateway CPU µs/req': f.gatewayCpuMicrosPerRequest, 'upstream CPU µs/req': f.upstreamCpuMicrosPerRequest, requests: f.requests, non2xx: f.non2xx });

const proxiedRatioRow = (label: string, value: number) => ({ case: label, 'req/s': value, 'p50 ms': '', 'p99 ms': '', 'gateway CPU µs/req': '', 'upstream CPU µs/req': '', requests: '', non2xx: '' });

/** The same upstream handler through edgate's gateway and called directly: bench/results/gateway-proxied.json. */
async function proxied(settings: Settings & { store: string }): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-bench-proxied-'));
  try {
    const { empty, stats } = await proxiedScenario(dir, settings);
    const rounds = (result: typeof empty) => ({
      proxied: result.rounds.subjects.map((f) => f.requestsPerSec),
      direct: result.rounds.baselines.map((f) => f.requestsPerSec),
    });
    writeReport({
      scenario: 'gateway-proxied',
      date: new Date().toISOString(),
      machine: `${machine()}, load average ${loadavg()[0].toFixed(1)} at the end`,
      settings: { ...settings, store: 'memory' },
      ratio: { attendanceSummary: stats.ratio, emptyHandler: empty.ratio },
      goal: 0.8,
      rows: [
        proxiedRow(stats.subject as ProxiedFigure),
        proxiedRow(stats.baseline as ProxiedFigure),
        proxiedRatioRow('ratio, attendance summary (proxied / direct)', stats.ratio),
        proxiedRow(empty.subject as ProxiedFigure),
        proxiedRow(empty.baseline as ProxiedFigure),
        proxiedRatioRow('ratio, empty handler (proxied / direct)', empty.ratio),
      ],
      rounds: { attendanceSummary: rounds(stats), emptyHandler: rounds(empty) },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--serve')) {
  const at = process.argv.indexOf('--redis-url');
  serve(at > 0 ? process.argv[at + 1] : undefined).catch(failToParent);
}
