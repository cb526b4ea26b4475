/**
 * The proxied scenario of `npm run bench -- gateway`: the stats service run as its own process
 * (as `edgate serve stats` runs it: assertion checked on every call, schools from the assertion),
 * loaded directly and through edgate's gateway (a second process: token verification, revocation,
 * both limiters, the signed assertion, the undici proxy), alternating rounds in the same run.
 * Two handlers: an empty one (the worst case: the proxy against nothing but HTTP) and the real
 * attendance summary.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import { loadConfig, type Config } from '../src/config/index.js';
import { createDb } from '../src/db/knex.js';
import { migrate } from '../migrations/index.js';
import { ClaimAssertions } from '../src/gateway/assertion.js';
import { startServer } from '../src/app/server.js';
import { createLogger } from '../src/http/logger.js';
import { openServices } from '../src/app/services.js';
import { Keyring } from '../src/keys/keyring.js';
import { loadSigningKeys } from '../src/keys/signing-keys.js';
import { statsApp } from '../src/stats/service.js';
import { seedAttendance } from './attendance.js';
import { benchClientId, benchToken, compare, failToParent, forkServer, load, registerBenchClient, serveToParent, type Figure, type ServerProcess } from './lib.js';

const issuer = 'http://bench.edgate';
const audience = `${issuer}/stats/`;
const school = 255901001;
const schools = ['255901001', '255901044', '255901107'];
const benchTier = { requestsPerMinute: 1_000_000_000, costPerDay: 1_000_000_000_000 };
const paths = { empty: '/stats/v1/bench/empty', stats: `/stats/v1/attendance/summary?school_id=${school}` };

function benchConfig(databaseUrl: string, extra: Partial<Config> = {}): Config {
  return {
    ...loadConfig({ DATABASE_URL: databaseUrl, PUBLIC_URL: issuer, LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: '0', REDIS_PREFIX: `edgate-bench:${randomBytes(4).toString('hex')}:` }),
    tiers: { bench: benchTier },
    ...extra,
  };
}

// ---------------------------------------------------------------- child: the upstream

async function serveUpstream(databaseUrl: string): Promise<void> {
  const config = benchConfig(databaseUrl);
  const db = createDb(databaseUrl);
  await migrate(db);
  // The gateway's keys, as the upstream would fetch them from its JWKS once.
  const keys = await loadSigningKeys(db, config);
  const app = statsApp({ db, logger: createLogger(config), assertion: { issuer, audience, keys: keys.publicJwks } });
  app.use((ctx) => {
    if (ctx.path === paths.empty) ctx.body = { ok: true };
  });
  const server = app.listen(0, '127.0.0.1');
  server.keepAliveTimeout = 65_000;
  await new Promise((resolve) => server.once('listening', resolve));
  serveToParent({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }, { stop: () => db.destroy() });
}

// ---------------------------------------------------------------- child: the gateway

async function serveGateway(databaseUrl: string, upstream: string): Promise<void> {
  const route = { prefix: '/stats/', upstream: new URL(upstream), cost: { GET: 10 }, timeoutMs: 5000, passAuthorization: false, audience, costHeader: false, circuit: { volumeThreshold: 1_000_000, errorThresholdPercentage: 100, resetTimeoutMs: 1000, windowMs: 10_000 } };
  const config = benchConfig(databaseUrl, { routes: [route] });
  const services = await openServices(config);
  await registerBenchClient(services.db);
  const running = await startServer(config, services);
  const token = await benchToken(services.keyring, issuer, schools);
  // Direct calls carry what the gateway would send: a fresh assertion for the same claims, on request.
  const assertions = new ClaimAssertions(services.keyring, issuer);
  serveToParent(
    { url: running.url, token },
    {
      answer: async (m) => (m.assertion ? { assertion: await assertions.assertion(audience, { clientId: benchClientId, tier: 'bench', schools }) } : undefined),
      stop: () => running.close(),
    },
  );
}

/** Attendance for the summary: 30 students, 20 school days each. */
async function seed(databaseUrl: string): Promise<void> {
  const db = createDb(databaseUrl);
  await migrate(db);
  const config = benchConfig(databaseUrl);
  await Keyring.open(db, config).then((ring) => ring.close());
  await seedAttendance(db, school);
  await db.destroy();
}

// ---------------------------------------------------------------- parent

export interface ProxiedFigure extends Figure {
  gatewayCpuMicrosPerRequest: number;
  upstreamCpuMicrosPerRequest: number;
}

type Ready = { url: string; token?: string };

async function measured(gateway: ServerProcess<Ready>, upstream: ServerProcess<Ready>, label: string, url: string, headers: Record<string, string>, durationSec: number, connections: number): Promise<ProxiedFigure> {
  const [g0, u0] = [await gateway.cpuMicros(), await upstream.cpuMicros()];
  const figure = await load(label, { url, headers, durationSec, connections });
  const [g1, u1] = [await gateway.cpuMicros(), await upstream.cpuMicros()];
  const per = (micros: number) => (figure.requests ? Math.round((micros / figure.requests) * 10) / 10 : 0);
  return { ...figure, gatewayCpuMicrosPerRequest: per(g1 - g0), upstreamCpuMicrosPerRequest: per(u1 - u0) };
}

export interface ProxiedSettings {
  rounds: number;
  durationSec: number;
  connections: number;
}

/** Starts the two processes, measures both handlers through the gateway and directly, and stops them. */
export async function proxiedScenario(databaseDir: string, settings: ProxiedSettings) {
  const databaseUrl = `sqlite:${databaseDir}/proxied.sqlite`;
  await seed(databaseUrl);
  const self = fileURLToPath(import.meta.url);
  const upstream = await forkServer<Ready>(self, ['--serve-upstream', databaseUrl]);
  const gateway = await forkServer<Ready>(self, ['--serve-gateway', databaseUrl, upstream.ready.url]);
  try {
    const results: Record<string, Awaited<ReturnType<typeof compare>>> = {};
    for (const [name, path] of Object.entries(paths)) {
      const through = { authorization: `Bearer ${gateway.ready.token}` };
      const direct = async () => ({ 'x-edgate-jwt-assertion': await gateway.ask({ assertion: true }, (m) => m.assertion as string | undefined) });
      await load('warm-up', { url: gateway.ready.url + path, headers: through, durationSec: 2, connections: settings.connections });
      await load('warm-up', { url: upstream.ready.url + path, headers: await direct(), durationSec: 2, connections: settings.connections });
      const label = name === 'empty' ? 'empty handler' : 'attendance summary';
      results[name] = await compare(
        settings.rounds,
        () => measured(gateway, upstream, `${label}, proxied through edgate`, gateway.ready.url + path, through, settings.durationSec, settings.connections),
        async () => measured(gateway, upstream, `${label}, upstream called directly`, upstream.ready.url + path, await direct(), settings.durationSec, settings.connections),
      );
      const refused = [...results[name].rounds.subjects, ...results[name].rounds.baselines].find((f) => f.non2xx);
      if (refused) throw new Error(`${refused.label}: ${refused.non2xx} non-2xx answers; the benchmark is invalid`);
      console.log(`${label}: proxied ${results[name].subject.requestsPerSec}/s vs direct ${results[name].baseline.requestsPerSec}/s → ratio ${results[name].ratio} (goal ≥ 0.8)`);
    }
    return results as { empty: (typeof results)[string]; stats: (typeof results)[string] };
  } finally {
    await gateway.stop();
    await upstream.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = (flag: string) => process.argv[process.argv.indexOf(flag) + 1];
  if (process.argv.includes('--serve-upstream')) serveUpstream(at('--serve-upstream')).catch(failToParent);
  if (process.argv.includes('--serve-gateway')) serveGateway(at('--serve-gateway'), process.argv[process.argv.indexOf('--serve-gateway') + 2]).catch(failToParent);
}
