import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';

import { loadConfig } from '../src/config/index.js';
import { createClient } from '../src/db/clients.js';
import { putEdorg } from '../src/db/edorgs.js';
import { createDb } from '../src/db/knex.js';
import { resolveSecretHashKey } from '../src/db/settings.js';
import { flag, mysqlDatabase } from './databases.js';
import { freePort, haproxyUnavailable, startHaproxy, type Balancer } from './haproxy.js';
import { startInstance, type Instance } from './instances.js';
import { load, machine, medianOf, writeReport, type Figure, type LoadOptions } from './lib.js';

const publicUrl = 'http://edgate.bench';
const summary = '/stats/v1/attendance/summary?school_id=255901001';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The shared limit checked under load: a quota the load is sure to pass within the minute. */
const quota = 500;
const tiers = {
  bulk: { requestsPerMinute: 100_000_000, costPerDay: 1_000_000_000 },
  quota: { requestsPerMinute: quota, costPerDay: 1_000_000_000 },
};

interface Path {
  label: string;
  url: string;
  /** The balancer on this path, whose CPU per request is its overhead; none when direct. */
  balancer?: Balancer;
}

type Measured = Figure & { balancerCpuMicrosPerRequest?: number };

/** One load per path per round, alternating, so a slow moment of the shared machine hurts every path alike. */
async function roundsOf(rounds: number, paths: Path[], options: (url: string) => LoadOptions): Promise<Map<string, Measured[]>> {
  const figures = new Map(paths.map((path) => [path.label, [] as Measured[]]));
  for (let round = 0; round < rounds; round++) {
    for (const path of paths) {
      const before = path.balancer?.cpuMicros() ?? 0;
      const figure: Measured = await load(path.label, options(path.url));
      if (path.balancer) figure.balancerCpuMicrosPerRequest = Math.round(((path.balancer.cpuMicros() - before) / figure.requests) * 10) / 10;
      figures.get(path.label)!.push(figure);
    }
  }
  for (const [label, list] of figures) {
    const refused = list.find((f) => f.non2xx);
    if (refused) throw new Error(`${label}: ${refused.non2xx} non-2xx answers; the benchmark is invalid`);
  }
  return figures;
}

function rowsOf(load: string, figures: Map<string, Measured[]>, direct: string): Array<Record<string, string | number>> {
  const med = (list: Measured[], pick: (f: Measured) => number) => medianOf(list.map(pick));
  const directFigures = figures.get(direct)!;
  return [...figures].map(([label, list]) => ({
    load,
    path: label,
    'req/s': med(list, (f) => f.requestsPerSec),
    'p50 ms': med(list, (f) => f.p50Ms),
    'p99 ms': med(list, (f) => f.p99Ms),
    'p50 added ms': Math.round((med(list, (f) => f.p50Ms) - med(directFigures, (f) => f.p50Ms)) * 100) / 100,
    'ratio (req/s) to direct': Math.round((med(list, (f) => f.requestsPerSec) / med(directFigures, (f) => f.requestsPerSec)) * 1000) / 1000,
    'HAProxy CPU µs/req': list[0].balancerCpuMicrosPerRequest === undefined ? '' : med(list, (f) => f.balancerCpuMicrosPerRequest!),
  }));
}

/** A burst through the balancer at 3 instances against one client's quota: how many did the instances admit together? */
async function sharedLimitUnderLoad(url: string, token: string, seconds: number) {
  const result = await autocannon({ url: url + summary, headers: { authorization: `Bearer ${token}` }, connections: 30, duration: seconds });
  return { sent: result.requests.total, admitted: result['2xx'], refused429: result.non2xx, errors: result.errors };
}

/** `npm run bench -- scale [--rounds 3] [--seconds 5]`: token and gateway loads through HAProxy to 1, then 3 instances. */
export async function run(args: string[]): Promise<void> {
  const rounds = flag(args, 'rounds', 3);
  const seconds = flag(args, 'seconds', 5);
  const missing = haproxyUnavailable();
  if (missing) throw new Error(`scale needs HAProxy: ${missing}`);
  const database = await mysqlDatabase();
  if (!database) throw new Error('scale needs MariaDB/MySQL (BENCH_MYSQL_URL): 3 instances share one database');
  const prefix = `edgate-bench-scale:${Date.now()}:`;
  const configFile = join(mkdtempSync(join(tmpdir(), 'edgate-bench-scale-')), 'config.json');
  writeFileSync(configFile, JSON.stringify({ tiers }));
  const env = { DATABASE_URL: database.url, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, PUBLIC_URL: publicUrl, LOG_LEVEL: 'info', EDGATE_CONFIG: configFile };

  const instances: Instance[] = [];
  const balancers: Balancer[] = [];
  const db = createDb(database.url);
  try {
    const ports = { e1: await freePort(), e2: await freePort(), e3: await freePort() };
    instances.push(await startInstance('e1', ports.e1, env));
    instances.push(...(await Promise.all((['e2', 'e3'] as const).map((name) => startInstance(name, ports[name], env)))));
    const hashKey = await resolveSecretHashKey(db, loadConfig(env));
    await putEdorg(db, { id: 255901, type: 'lea', name: 'Grand Bend ISD' }, { upsert: true });
    await putEdorg(db, { id: 255901001, type: 'school', name: 'Grand Bend High School', parentId: 255901 }, { upsert: true });
    const newClient = (tier: string) => createClient(db, hashKey, { name: `bench ${tier}`, tier, edorgIds: [255901] }, { tiers: Object.keys(tiers), claimSets: ['SIS Vendor'] });
    const bulk = await newClient('bulk');
    const basic = 'Basic ' + Buffer.from(`${bulk.client.clientId}:${bulk.secret}`).toString('base64');
    const tokenOf = async (base: string, authorization: string) => {
      const res = await fetch(`${base}/oauth/token`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      return ((await res.json()) as { access_token: string }).access_token;
    };

    const toOne = await startHaproxy({ e1: ports.e1 });
    balancers.push(toOne);
    const toThree = await startHaproxy(ports);
    balancers.push(toThree);
    await toOne.waitFor('UP');
    await toThree.waitFor('UP');
    const paths: Path[] = [
      { label: 'direct to 1 instance', url: instances[0].url },
      { label: 'HAProxy → 1 instance', url: toOne.url, balancer: toOne },
      { label: 'HAProxy → 3 instances', url: toThree.url, balancer: toThree },
    ];
    const token = await tokenOf(toThree.url, basic);

    console.log(`tokens: ${rounds} rounds × ${paths.length} paths × ${seconds} s`);
    const tokens = await roundsOf(rounds, paths, (url) => ({
      url: `${url}/oauth/token`,
      method: 'POST',
      headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
      connections: 10,
      durationSec: seconds,
    }));
    console.log(`gateway: ${rounds} rounds × ${paths.length} paths × ${seconds} s`);
    const gateway = await roundsOf(rounds, paths, (url) => ({ url: url + summary, headers: { authorization: `Bearer ${token}` }, connections: 10, durationSec: seconds }));
    // The balancer alone: an answer that costs edgate next to nothing, so what HAProxy adds is most of what differs.
    console.log(`health: ${rounds} rounds × ${paths.length} paths × ${seconds} s`);
    const health = await roundsOf(rounds, paths, (url) => ({ url: `${url}/health`, connections: 10, durationSec: seconds }));

    const limited = await newClient('quota');
    const limitedToken = await tokenOf(toThree.url, 'Basic ' + Buffer.from(`${limited.client.clientId}:${limited.secret}`).toString('base64'));
    const shared = await sharedLimitUnderLoad(toThree.url, limitedToken, seconds);
    console.log(`shared limit under load, HAProxy → 3 instances: ${shared.admitted} admitted of ${shared.sent} against a quota of ${quota} a minute (${shared.refused429} refused, ${shared.errors} errors)`);
    if (shared.admitted !== quota) throw new Error(`the shared quota admitted ${shared.admitted}, not ${quota}: limits are not exact across instances`);

    writeReport({
      scenario: 'scale',
      date: new Date().toISOString(),
      machine: machine(),
      rounds,
      secondsPerRound: seconds,
      method:
        '3 edgate processes (dist/src/app/main.js, LOG_LEVEL=info) on one MariaDB and one Redis; two HAProxy processes (round-robin, /ready checks), one over the first instance, one over all three; token grants (Basic auth), gateway calls (attendance summary, SQL aggregate) and GET /health (next to no work: the balancer’s own cost) by autocannon with 10 connections, alternating paths each round; medians. On 2 cores shared with the load generator, HAProxy and MariaDB, 3 instances cannot add throughput: the figures to read are the balancer’s added latency, its CPU per request (/proc) and the shared limit’s exactness.',
      sharedLimit: { quota, ...shared },
      rows: [...rowsOf('tokens', tokens, paths[0].label), ...rowsOf('gateway', gateway, paths[0].label), ...rowsOf('health', health, paths[0].label)],
      details: { tokens: Object.fromEntries(tokens), gateway: Object.fromEntries(gateway), health: Object.fromEntries(health) },
    });
  } finally {
    for (const balancer of balancers) await balancer.stop();
    await Promise.all(instances.map((instance) => instance.stop()));
    await db.destroy();
    const redis = new Redis(redisUrl);
    const keys = await redis.keys(`${prefix}*`).catch(() => []);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await database.drop();
  }
}
