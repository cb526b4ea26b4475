/**
 * `npm run bench -- gateway [--rounds N] [--duration S] [--connections C] [--redis]`
 *
 * The same trivial handler, in the same run, behind the full gateway (token verification,
 * revocation check, both rate limiters, claim forwarding) and unguarded; both apps keep edgate's
 * request context and error handler, so the difference is the gateway alone. The servers run in a
 * child process so the load generator does not share their event loop. Then raw verifications per
 * second: the gateway's verifier with and without its cache, and `jose.jwtVerify` in a loop.
 * `--redis` puts the limiters and the denylist on REDIS_URL.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT } from 'jose';
import Koa, { type Context } from 'koa';

import { loadConfig } from '../src/config/index.js';
import { gateway } from '../src/gateway/index.js';
import { TokenVerifier } from '../src/gateway/verifier.js';
import { errorHandler } from '../src/http/errors.js';
import { requestContext } from '../src/http/request-context.js';
import { openServices, type Services } from '../src/http/services.js';
import { signingAlg } from '../src/oidc/keys.js';
import { compare, load, machine, writeReport, type Figure } from './lib.js';

const issuer = 'http://bench.edgate';
/** Quotas no run can reach, so every call is admitted and the figures measure the checks alone. */
const benchTier = { requestsPerMinute: 1_000_000_000, costPerDay: 1_000_000_000_000 };

interface Ready {
  guarded: string;
  unguarded: string;
  token: string;
}

interface VerifyFigures {
  cached: number;
  uncached: number;
  jose: number;
  /** The gateway middleware alone, without HTTP: microseconds per admitted call. */
  middlewareMicros: number;
}

// ---------------------------------------------------------------- child: the two servers

async function benchToken(services: Services): Promise<string> {
  const jwk = services.keyring.current.privateJwks[0];
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: 'bench-client', tier: 'bench', schools: ['255901001', '255901044', '255901107'], jti: randomUUID() })
    .setProtectedHeader({ alg: signingAlg, typ: 'at+jwt', kid: jwk.kid })
    .setIssuer(issuer)
    .setAudience(issuer)
    .setSubject('bench-client')
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(await importJWK(jwk, signingAlg));
}

function trivialApp(services: Services, guarded: boolean): Koa {
  const app = new Koa();
  app.use(requestContext(services.logger, services.metrics));
  app.use(errorHandler(services.logger));
  if (guarded) app.use(gateway(services));
  app.use((ctx) => {
    ctx.body = { ok: true };
  });
  return app;
}

async function listen(app: Koa): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  server.keepAliveTimeout = 65_000;
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/stats/v1/bench`;
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

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
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
  const token = await benchToken(services);
  const ready: Ready = { guarded: await listen(trivialApp(services, true)), unguarded: await listen(trivialApp(services, false)), token };
  process.on('message', (message: { verify?: number; cpu?: boolean }) => {
    if (message.verify) void verifications(services, token, message.verify).then((figures) => process.send!({ figures }));
    if (message.cpu) process.send!({ cpuMicros: cpuMicros() });
  });
  process.on('disconnect', () => {
    void removeBenchKeys(services, config.redisPrefix)
      .then(() => services.close())
      .finally(() => {
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
  });
  process.send!(ready);
}

// ---------------------------------------------------------------- parent: load and report

function nextMessage<T>(child: ChildProcess, pick: (m: unknown) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      const value = pick(m);
      if (value === undefined) return;
      child.off('message', onMessage);
      resolve(value);
    };
    child.on('message', onMessage);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
}

/** A load figure plus the server process's CPU time per request: robust when the load generator, not the server, is the bottleneck. */
type Measured = Figure & { cpuMicrosPerRequest: number; generatorCpuMicrosPerRequest: number };

const row = (f: Measured) => ({ case: f.label, 'req/s': f.requestsPerSec, 'p50 ms': f.p50Ms, 'p99 ms': f.p99Ms, 'server CPU µs/req': f.cpuMicrosPerRequest, 'autocannon CPU µs/req': f.generatorCpuMicrosPerRequest, requests: f.requests, non2xx: f.non2xx });

const cpuOf = (child: ChildProcess) => {
  child.send({ cpu: true });
  return nextMessage(child, (m) => (m && typeof m === 'object' && 'cpuMicros' in m ? (m as { cpuMicros: number }).cpuMicros : undefined));
};

const perRequest = (micros: number, requests: number) => Math.round((micros / Math.max(1, requests)) * 10) / 10;

async function measured(child: ChildProcess, measure: () => Promise<Figure>): Promise<Measured> {
  const before = await cpuOf(child);
  const generatorBefore = cpuMicros();
  const figure = await measure();
  const generator = cpuMicros() - generatorBefore;
  const used = (await cpuOf(child)) - before;
  return { ...figure, cpuMicrosPerRequest: perRequest(used, figure.requests), generatorCpuMicrosPerRequest: perRequest(generator, figure.requests) };
}

/** A one-number row in the same table. */
const figureRow = (label: string, value: number) => ({ case: label, 'req/s': value, 'p50 ms': '', 'p99 ms': '', 'server CPU µs/req': '', 'autocannon CPU µs/req': '', requests: '', non2xx: '' });

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { rounds: { type: 'string', default: '3' }, duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '10' }, redis: { type: 'boolean', default: false } },
  });
  const redisUrl = values.redis ? process.env.REDIS_URL : undefined;
  if (values.redis && !redisUrl) throw new Error('--redis needs REDIS_URL');
  const settings = { rounds: Number(values.rounds), durationSec: Number(values.duration), connections: Number(values.connections), store: redisUrl ? 'redis' : 'memory' };

  const child = fork(fileURLToPath(import.meta.url), ['--serve', ...(redisUrl ? ['--redis-url', redisUrl] : [])], { stdio: 'inherit' });
  try {
    const ready = await nextMessage(child, (m) => (m && typeof m === 'object' && 'token' in m ? (m as Ready) : undefined));
    const options = { headers: { authorization: `Bearer ${ready.token}` }, connections: settings.connections, durationSec: settings.durationSec };
    // Warm both up first: they share one process, so the first measured would pay for the JIT.
    await load('warm-up', { url: ready.guarded, ...options, durationSec: 2 });
    await load('warm-up', { url: ready.unguarded, ...options, durationSec: 2 });
    const result = await compare(
      settings.rounds,
      () => measured(child, () => load('behind the gateway', { url: ready.guarded, ...options })),
      () => measured(child, () => load('unguarded', { url: ready.unguarded, ...options })),
    );
    child.send({ verify: 2000 });
    const verify = await nextMessage(child, (m) => (m && typeof m === 'object' && 'figures' in m ? (m as { figures: VerifyFigures }).figures : undefined));
    writeReport({
      scenario: 'gateway',
      date: new Date().toISOString(),
      machine: machine(),
      settings,
      ratio: result.ratio,
      goal: 0.85,
      rows: [
        row(result.subject as Measured),
        row(result.baseline as Measured),
        figureRow('ratio (gateway / unguarded)', result.ratio),
        figureRow('verifier, cache hit (verifications/s)', verify.cached),
        figureRow('verifier, no cache (verifications/s)', verify.uncached),
        figureRow('jose.jwtVerify loop (verifications/s)', verify.jose),
        figureRow('gateway middleware alone, no HTTP (µs per call)', verify.middlewareMicros),
      ],
      rounds: {
        gateway: result.rounds.subjects.map((f) => [f.requestsPerSec, (f as Measured).cpuMicrosPerRequest]),
        unguarded: result.rounds.baselines.map((f) => [f.requestsPerSec, (f as Measured).cpuMicrosPerRequest]),
      },
    });
  } finally {
    child.disconnect();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--serve')) {
  const at = process.argv.indexOf('--redis-url');
  serve(at > 0 ? process.argv[at + 1] : undefined).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
