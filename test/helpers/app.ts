import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { loadConfig, type Config } from '../../src/config/index.js';
import { loadClaimSets } from '../../src/config/claim-sets.js';
import { fromRoot } from '../../src/config/paths.js';
import { createClient, type ClientInput } from '../../src/db/clients.js';
import { putEdorg, type EdorgInput } from '../../src/db/edorgs.js';
import { startServer, type RunningServer } from '../../src/app/server.js';
import type { Engine } from './engines.js';

export const issuer = 'http://edgate.test';

export interface TestApp extends RunningServer {
  config: Config;
  env: Record<string, string>;
  /** Adds ed-orgs straight through the data layer (parents first). */
  edorgs(...rows: EdorgInput[]): Promise<void>;
  /** Creates a client and returns its id and one-time secret. */
  client(input?: ClientInput): Promise<{ clientId: string; secret: string }>;
  /** A fresh access token for a client. */
  token(client: { clientId: string; secret: string }): Promise<string>;
  /** The admin CLI against this app's database, as a new user would run it. */
  cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** fetch() against this app. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export async function startTestApp(engine: Engine, env: Record<string, string> = {}): Promise<TestApp> {
  const database = await engine.createDatabase();
  const fullEnv: Record<string, string> = {
    DATABASE_URL: database.url,
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL: issuer,
    LOG_LEVEL: 'silent',
    REFRESH_SECONDS: '1',
    REDIS_PREFIX: `edgate-test:${randomBytes(4).toString('hex')}:`,
    ...env,
  };
  const config = loadConfig(fullEnv);
  const running = await startServer(config);
  const { db, hashKey } = running.services;
  const app: TestApp = {
    ...running,
    config,
    env: fullEnv,
    async edorgs(...rows) {
      for (const row of rows) await putEdorg(db, row, { upsert: true });
    },
    async client(input = {}) {
      const { client, secret } = await createClient(
        db,
        hashKey,
        { name: 'test client', tier: 'standard', ...input },
        { tiers: Object.keys(config.tiers), claimSets: Object.keys(loadClaimSets()) },
      );
      return { clientId: client.clientId, secret };
    },
    async token({ clientId, secret }) {
      const res = await app.fetch('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: clientId, client_secret: secret, grant_type: 'client_credentials' }),
      });
      if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { access_token: string }).access_token;
    },
    cli: (...args) => runCli(args, fullEnv),
    fetch: (path, init) => fetch(running.url + path, init),
    async stop() {
      await running.close();
      await database.drop();
    },
  };
  return app;
}

const exec = promisify(execFile);

export async function runCli(args: string[], env: Record<string, string>) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [fromRoot('dist', 'src', 'admin', 'cli.js'), ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The demo district: Grand Bend ISD and its three schools. */
export const grandBend: EdorgInput[] = [
  { id: 255901, type: 'lea', name: 'Grand Bend ISD' },
  { id: 255901001, type: 'school', name: 'Grand Bend High School', parentId: 255901 },
  { id: 255901044, type: 'school', name: 'Grand Bend Middle School', parentId: 255901 },
  { id: 255901107, type: 'school', name: 'Grand Bend Elementary School', parentId: 255901 },
];

/** Grand Bend under a state agency (48), for tests of reach up and down a tree deeper than one district. */
export const texasGrandBend: EdorgInput[] = [{ id: 48, type: 'sea', name: 'Texas Education Agency' }, { ...grandBend[0], parentId: 48 }, ...grandBend.slice(1)];

/** A claim-sets file of the given content, for `loadClaimSets(path)`: what start-up refuses or reads. */
export function claimSetsFile(claimSets: unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), 'edgate-claim-sets-')), 'claim-sets.json');
  writeFileSync(path, JSON.stringify(claimSets));
  return path;
}
