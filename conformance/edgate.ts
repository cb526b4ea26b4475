/** A throw-away edgate for the conformance run: its own database, the suites' clients, a server in a child process. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';

import { loadConfig } from '../src/config/index.js';
import { fromRoot } from '../src/config/paths.js';
import { loadClaimSets } from '../src/config/claim-sets.js';
import { createClient, setClientDisabled } from '../src/db/clients.js';
import { missingEdorgs } from '../src/db/edorgs.js';
import { createDb } from '../src/db/knex.js';
import { ensureDescriptors } from '../src/edfi/descriptors.js';
import { loadEdfiModel } from '../src/edfi/model/index.js';
import { migrate } from '../migrations/index.js';
import { resolveSecretHashKey } from '../src/db/settings.js';

interface SuiteClient {
  name: string;
  edorgs: Array<number | { start: number; count: number }>;
  claimSet: string;
  profiles?: string[];
  namespaces: string[];
  disabled?: boolean;
  /** The harness's OwnershipToken (the creator token) and ApiClientOwnershipTokens. */
  ownershipToken?: string;
  ownershipTokens?: string[];
}

export interface Credentials {
  key: string;
  secret: string;
}

export interface PreparedClients {
  credentials: Map<string, Credentials>;
  /** What could not be given as the suites expect, one line each. */
  notes: string[];
}

const cli = fromRoot('dist', 'src', 'admin', 'cli.js');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * The environment every edgate process of the run shares: database, keys, profiles, and the model. The suites are
 * written against the whole Data Standard, so that is the model measured (`dataStandard`: Ed-Fi's ApiSchema beside
 * the project); `CONFORMANCE_MODEL=embedded` measures edgate's embedded model instead.
 */
export async function edgateEnvironment(databaseUrl: string, profilesDir: string, dataStandard: string): Promise<NodeJS.ProcessEnv> {
  const port = await freePort();
  const embedded = process.env.CONFORMANCE_MODEL === 'embedded';
  return {
    ...process.env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    AUDIENCE: `http://127.0.0.1:${port}`,
    DATABASE_URL: databaseUrl,
    SECRET_HASH_KEY: randomBytes(32).toString('base64url'),
    PROFILES_DIR: profilesDir,
    EDFI_API_SCHEMA: embedded ? '' : dataStandard,
    LOG_LEVEL: process.env.CONFORMANCE_LOG_LEVEL ?? 'warn',
    REDIS_URL: '',
  };
}

/**
 * The descriptor values the suites name (`uri://ed-fi.org/TermDescriptor#Fall Semester`), written before the run as
 * the ODS/API's populated template ships them: its database holds every published Ed-Fi descriptor value and Grand
 * Bend's own, and the suites rely on that. Only the values they use are written, read from the suites' own text.
 */
export async function seedSuiteDescriptors(env: NodeJS.ProcessEnv, postmanDir: string): Promise<number> {
  // The template's namespaces: Ed-Fi's, and Grand Bend's own (`uri://gbisd.edu/IndicatorDescriptor#Retention Rate`).
  const values: Record<string, Record<string, Set<string>>> = {};
  for (const file of readdirSync(postmanDir).filter((f) => f.endsWith('.json'))) {
    const text = readFileSync(join(postmanDir, file), 'utf8');
    for (const [, namespace, descriptor, code] of text.matchAll(/(uri:\/\/(?:ed-fi\.org|gbisd\.edu))\/(\w+Descriptor)#([^"\\{}]{1,50})(?=["\\])/g)) {
      ((values[namespace] ??= {})[descriptor] ??= new Set()).add(code);
    }
  }
  const config = loadConfig(env);
  const db = createDb(config.databaseUrl);
  try {
    const model = loadEdfiModel(config.edfiApiSchema);
    let written = 0;
    for (const [namespace, descriptors] of Object.entries(values)) {
      written += await ensureDescriptors(db, model, { namespace, values: Object.fromEntries(Object.entries(descriptors).map(([d, codes]) => [d, [...codes]])) });
    }
    return written;
  } finally {
    await db.destroy();
  }
}

export function seedDemoDistrict(env: NodeJS.ProcessEnv): void {
  const run = spawnSync(process.execPath, [cli, 'db', 'seed', '--json'], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`edgate db seed failed: ${run.stderr || run.stdout}`);
}

const expand = (edorgs: SuiteClient['edorgs']) =>
  edorgs.flatMap((e) => (typeof e === 'number' ? [e] : Array.from({ length: e.count }, (_, i) => e.start + i)));

/**
 * Creates the suites' clients, with the ed-orgs they name whether or not those exist yet (`--edorg-later`), as the
 * ODS harness configures them. Claim sets edgate lacks become the sandbox mapping.
 */
export async function createSuiteClients(env: NodeJS.ProcessEnv): Promise<PreparedClients> {
  const file = JSON.parse(readFileSync(fromRoot('conformance', 'clients.json'), 'utf8')) as { sandboxClaimSet: string; clients: SuiteClient[] };
  const config = loadConfig(env);
  const db = createDb(config.databaseUrl);
  const credentials = new Map<string, Credentials>();
  const notes: string[] = [];
  try {
    await migrate(db);
    const hashKey = await resolveSecretHashKey(db, config);
    const claimSets = Object.keys(loadClaimSets());
    for (const client of file.clients) {
      const wanted = expand(client.edorgs);
      // The suites create many of these ed-orgs as they run; they are assigned ahead, as the ODS/API allows.
      const later = (await missingEdorgs(db, wanted)).length;
      if (later) notes.push(`client ${client.name}: ${later} ed-org(s) assigned before they exist`);
      const claimSet = client.claimSet !== 'Ed-Fi Sandbox' && claimSets.includes(client.claimSet) ? client.claimSet : file.sandboxClaimSet;
      const { client: created, secret } = await createClient(
        db,
        hashKey,
        {
          name: client.name,
          tier: 'premium',
          claimSet,
          edorgIds: wanted,
          edorgsLater: true,
          profiles: client.profiles ?? [],
          namespacePrefixes: client.namespaces,
          creatorToken: client.ownershipToken,
          ownershipTokens: client.ownershipTokens,
        },
        { tiers: Object.keys(config.tiers), claimSets },
      );
      if (client.disabled) await setClientDisabled(db, created.clientId, true);
      credentials.set(client.name, { key: created.clientId, secret });
    }
  } finally {
    await db.destroy();
  }
  return { credentials, notes };
}

export interface RunningEdgate {
  baseUrl: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts `node dist/src/app/main.js` and waits for /ready; its stderr is passed through so start-up problems show. */
export async function startEdgate(env: NodeJS.ProcessEnv): Promise<RunningEdgate> {
  const child = spawn(process.execPath, [fromRoot('dist', 'src', 'app', 'main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const baseUrl = env.PUBLIC_URL!;
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`edgate exited with ${code} before it was ready`))));
  const ready = (async () => {
    for (let attempt = 0; attempt < 300; attempt++) {
      try {
        if ((await fetch(`${baseUrl}/ready`)).ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('edgate was not ready within 30 s');
  })();
  await Promise.race([ready, exited]);
  return {
    baseUrl,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
