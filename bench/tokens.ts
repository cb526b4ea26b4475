import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

import { loadConfig } from '../src/config/index.js';
import { createClient } from '../src/db/clients.js';
import { putEdorg } from '../src/db/edorgs.js';
import { startServer } from '../src/app/server.js';
import { signingAlg } from '../src/keys/signing-keys.js';
import { benchDatabases, flag } from './databases.js';
import { compare, failToParent, forkServer, loadWithCpu, machine, medianOf, serveToParent, writeReport, type Measured, type ServerProcess } from './lib.js';

const audience = 'http://edgate.bench';
const credentials = { clientId: 'bench-client', secret: 'bench-secret-'.padEnd(43, 'x') };

/** The baseline: oidc-provider with an in-memory client, the same algorithm and JWT format. */
async function serveBareProvider(): Promise<void> {
  const { privateKey } = await generateKeyPair(signingAlg, { modulusLength: 2048, extractable: true });
  const provider = new Provider(audience, {
    clients: [{ client_id: credentials.clientId, client_secret: credentials.secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'bare', alg: signingAlg, use: 'sig' }] as never },
    responseTypes: ['none'],
    ttl: { ClientCredentials: 3600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== audience) throw new errors.InvalidTarget();
          return { scope: '', audience, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: signingAlg } } };
        },
      },
    },
    routes: { token: '/oauth/token' },
  });
  const server = provider.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  serveToParent({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, auth: `${credentials.clientId}:${credentials.secret}` });
}

/** edgate with a database-backed client (hashed secret, reach of three schools). */
async function serveEdgate(databaseUrl: string): Promise<void> {
  const config = loadConfig({ DATABASE_URL: databaseUrl, PORT: '0', HOST: '127.0.0.1', PUBLIC_URL: audience, LOG_LEVEL: 'silent' });
  const running = await startServer(config);
  const { db, hashKey } = running.services;
  await putEdorg(db, { id: 255901, type: 'lea', name: 'Grand Bend ISD' }, { upsert: true });
  for (const id of [255901001, 255901044, 255901107]) await putEdorg(db, { id, type: 'school', name: `School ${id}`, parentId: 255901 }, { upsert: true });
  const { client, secret } = await createClient(db, hashKey, { name: 'bench', tier: 'premium', edorgIds: [255901] }, { tiers: ['premium'], claimSets: ['SIS Vendor'] });
  serveToParent({ url: running.url, auth: `${client.clientId}:${secret}` }, { stop: () => running.close() });
}

interface TokenServer {
  url: string;
  auth: string;
}

function tokenLoad(label: string, server: ServerProcess<TokenServer>, seconds: number): () => Promise<Measured> {
  const { url, auth } = server.ready;
  return () =>
    loadWithCpu(server, label, {
      url: `${url}/oauth/token`,
      method: 'POST',
      headers: { authorization: 'Basic ' + Buffer.from(auth).toString('base64'), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
      connections: 10,
      durationSec: seconds,
    });
}

const row = (engine: string, server: string, f: Measured, rounds: Measured[], ratio: number, cpuRatio: number) => ({
  engine,
  server,
  'tokens/s': f.requestsPerSec,
  'p50 ms': f.p50Ms,
  'p99 ms': f.p99Ms,
  'CPU µs/token': medianOf(rounds.map((r) => r.serverCpuMicrosPerRequest)),
  'ratio (tokens/s)': ratio,
  'ratio (CPU)': cpuRatio,
});

/** `npm run bench -- tokens [--engine sqlite|mysql] [--rounds 3] [--seconds 8]` */
export async function run(args: string[]): Promise<void> {
  const rounds = flag(args, 'rounds', 3);
  const seconds = flag(args, 'seconds', 8);
  const self = fileURLToPath(import.meta.url);
  const bare = await forkServer<TokenServer>(self, ['--serve', 'bare']);
  const rows: Array<Record<string, string | number>> = [];
  const details: Record<string, unknown> = {};
  try {
    for (const database of await benchDatabases(args)) {
      const edgate = await forkServer<TokenServer>(self, ['--serve', 'edgate', database.url]);
      try {
        const result = await compare(rounds, tokenLoad(`edgate (${database.engine})`, edgate, seconds), tokenLoad('bare oidc-provider', bare, seconds));
        const all = [...result.rounds.subjects, ...result.rounds.baselines] as Measured[];
        const refused = all.find((f) => f.non2xx);
        if (refused) throw new Error(`${refused.label}: ${refused.non2xx} non-2xx answers; the benchmark is invalid`);
        const edgateCpu = medianOf((result.rounds.subjects as Measured[]).map((f) => f.serverCpuMicrosPerRequest));
        const bareCpu = medianOf((result.rounds.baselines as Measured[]).map((f) => f.serverCpuMicrosPerRequest));
        const cpuRatio = Math.round((bareCpu / edgateCpu) * 1000) / 1000;
        rows.push(
          row(database.engine, 'edgate', result.subject as Measured, result.rounds.subjects as Measured[], result.ratio, cpuRatio),
          row(database.engine, 'bare oidc-provider', result.baseline as Measured, result.rounds.baselines as Measured[], 1, 1),
        );
        details[database.engine] = result.rounds;
        console.log(`${database.engine}: edgate ${result.subject.requestsPerSec}/s vs bare ${result.baseline.requestsPerSec}/s → ratio ${result.ratio}; CPU per token ${edgateCpu} µs vs ${bareCpu} µs → ratio ${cpuRatio} (goal ≥ 0.9)`);
      } finally {
        await edgate.stop();
        await database.drop();
      }
    }
  } finally {
    await bare.stop();
  }
  writeReport({
    scenario: 'tokens',
    date: new Date().toISOString(),
    machine: machine(),
    rounds,
    secondsPerRound: seconds,
    goal: 'ratio ≥ 0.9 of bare oidc-provider',
    method: 'each server in its own process; alternating rounds of 10 connections; medians; CPU = the server process’s user+system time per token',
    rows,
    details,
  });
}

// Forked as a server under test: `tokens.js --serve bare|edgate [DATABASE_URL]`.
if (process.argv[2] === '--serve') {
  (process.argv[3] === 'bare' ? serveBareProvider() : serveEdgate(process.argv[4])).catch(failToParent);
}
