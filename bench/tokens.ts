import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

import { loadConfig } from '../src/config/index.js';
import { createClient } from '../src/db/clients.js';
import { putEdorg } from '../src/db/edorgs.js';
import { startServer } from '../src/http/server.js';
import { signingAlg } from '../src/oidc/keys.js';
import { benchDatabases, flag, type BenchDatabase } from './databases.js';
import { compare, load, machine, writeReport, type Figure } from './lib.js';

const audience = 'http://edgate.bench';

/** The baseline: oidc-provider with an in-memory client, the same algorithm and JWT format. */
async function bareProvider(): Promise<{ url: string; close(): void; clientId: string; secret: string }> {
  const { privateKey } = await generateKeyPair(signingAlg, { modulusLength: 2048, extractable: true });
  const clientId = 'bare-client';
  const secret = 'bare-secret-'.padEnd(43, 'x');
  const provider = new Provider(audience, {
    clients: [{ client_id: clientId, client_secret: secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] }],
    jwks: { keys: [{ ...(await exportJWK(privateKey)), kid: 'bare', alg: signingAlg, use: 'sig' }] as never },
    responseTypes: ['none'],
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
    ttl: { ClientCredentials: 3600 },
  });
  const server = provider.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close(), clientId, secret };
}

async function edgate(database: BenchDatabase) {
  const config = loadConfig({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', PUBLIC_URL: audience, LOG_LEVEL: 'silent' });
  const running = await startServer(config);
  const { db, hashKey } = running.services;
  await putEdorg(db, { id: 255901, type: 'lea', name: 'Grand Bend ISD' }, { upsert: true });
  for (const id of [255901001, 255901044, 255901107]) await putEdorg(db, { id, type: 'school', name: `School ${id}`, parentId: 255901 }, { upsert: true });
  const { client, secret } = await createClient(db, hashKey, { name: 'bench', tier: 'premium', edorgIds: [255901] }, { tiers: ['premium'], claimSets: ['SIS Vendor'] });
  return { running, clientId: client.clientId, secret };
}

function tokenRequest(label: string, url: string, clientId: string, secret: string, seconds: number): () => Promise<Figure> {
  return () =>
    load(label, {
      url: `${url}/oauth/token`,
      method: 'POST',
      headers: {
        authorization: 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
      connections: 10,
      durationSec: seconds,
    });
}

/** `npm run bench -- tokens [--engine sqlite|mysql] [--rounds 3] [--seconds 8]` */
export async function run(args: string[]): Promise<void> {
  const rounds = flag(args, 'rounds', 3);
  const seconds = flag(args, 'seconds', 8);
  const bare = await bareProvider();
  const rows: Array<Record<string, string | number>> = [];
  const details: Record<string, unknown> = {};
  for (const database of await benchDatabases(args)) {
    const subject = await edgate(database);
    try {
      const result = await compare(
        rounds,
        tokenRequest(`edgate (${database.engine})`, subject.running.url, subject.clientId, subject.secret, seconds),
        tokenRequest('bare oidc-provider', bare.url, bare.clientId, bare.secret, seconds),
      );
      for (const figure of [result.subject, result.baseline]) {
        if (figure.non2xx) throw new Error(`${figure.label}: ${figure.non2xx} non-2xx answers; the benchmark is invalid`);
      }
      rows.push(
        { engine: database.engine, server: 'edgate', 'tokens/s': result.subject.requestsPerSec, 'p50 ms': result.subject.p50Ms, 'p99 ms': result.subject.p99Ms, ratio: result.ratio },
        { engine: database.engine, server: 'bare oidc-provider', 'tokens/s': result.baseline.requestsPerSec, 'p50 ms': result.baseline.p50Ms, 'p99 ms': result.baseline.p99Ms, ratio: 1 },
      );
      details[database.engine] = result;
      console.log(`${database.engine}: edgate ${result.subject.requestsPerSec}/s vs bare ${result.baseline.requestsPerSec}/s → ratio ${result.ratio} (goal ≥ 0.9)`);
    } finally {
      await subject.running.close();
      await database.drop();
    }
  }
  bare.close();
  writeReport({ scenario: 'tokens', date: new Date().toISOString(), machine: machine(), rounds, secondsPerRound: seconds, goal: 'ratio ≥ 0.9', rows, details });
}
