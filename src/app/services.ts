import type { Logger } from 'pino';

import type { Config } from '../config/index.js';
import { createDb, type Db } from '../db/knex.js';
import { connectedWithin, connectRedis, type RedisClient } from '../db/redis.js';
import { migrate } from '../../migrations/index.js';
import { resolveSecretHashKey } from '../db/settings.js';
import { loadProfiles, type ProfileRegistry } from '../edfi/profiles/registry.js';
import { loadEdfiModel, type EdfiModel } from '../edfi/model/index.js';
import { ensureDescriptors } from '../edfi/descriptors.js';
import { RateLimits } from '../gateway/rate-limit.js';
import { memoryUsage, redisUsage, type UsageMeter } from '../gateway/usage.js';
import { TokenVerifier } from '../gateway/verifier.js';
import { ClientDirectory } from '../clients/directory.js';
import { Keyring } from '../keys/keyring.js';
import { createLogger } from '../http/logger.js';
import { createMetrics, type Metrics } from '../http/metrics.js';

/** Everything the route modules receive; nothing reaches for a global. */
export interface Services {
  config: Config;
  db: Db;
  logger: Logger;
  metrics: Metrics;
  hashKey: Buffer;
  keyring: Keyring;
  directory: ClientDirectory;
  verifier: TokenVerifier;
  /** The Ed-Fi model (an ApiSchema) every resource is served from. */
  model: EdfiModel;
  /** API profiles loaded from profilesDir and checked against the resources at start. */
  profiles: ProfileRegistry;
  /** The gateway's per-client limits by tier (the portal reads today's cost from them). */
  limits: RateLimits;
  /** Per-client call counts for the portal's usage page, kept by the gateway. */
  usage: UsageMeter;
  /** Shared state for several instances; absent means in-process state. */
  redis?: RedisClient;
  /** Set once SIGTERM starts the drain: /ready fails and no connection is kept alive, so a balancer moves away. */
  lifecycle: { draining: boolean };
  close(): Promise<void>;
}

/** How long a Redis connection may take, and how long start-up waits for the first one. */
const redisConnectMs = 2000;

export async function openServices(config: Config, logger = createLogger(config)): Promise<Services> {
  // Before the database: a missing profilesDir stops start-up without touching anything.
  const model = loadEdfiModel(config.edfiApiSchema);
  logger.info({ sources: model.sources, resources: model.resources.length }, 'Ed-Fi model loaded');
  const profiles = loadProfiles(config.profilesDir, model.metas);
  if (profiles.skipped.length) logger.warn({ skipped: profiles.skipped }, 'profilesDir: only .xml and .json files are definitions; skipped the others');
  // A bad definition no longer stops the host (the ODS/API keeps serving): it is reported here and answers 406.
  for (const problem of profiles.problems) logger.warn({ problem }, 'API profile not served: requests naming it answer 406');
  logger.info({ dir: profiles.dir, profiles: profiles.registry.profiles.map((p) => p.name) }, 'API profiles loaded');
  // Migrations may take long on large tables: they run on their own connection, without the request bound.
  const migrator = createDb(config.databaseUrl, { timeoutMs: 0 });
  try {
    await migrate(migrator);
  } finally {
    await migrator.destroy();
  }
  const db = createDb(config.databaseUrl, { timeoutMs: config.databaseTimeoutMs });
  await ensureDescriptors(db, model);
  const keyring = await Keyring.open(db, config);
  const redis = config.redisUrl
    ? // A Redis that accepts and then stays silent must not hold requests: every command has a deadline.
      connectRedis(config.redisUrl, { connectTimeoutMs: redisConnectMs, commandTimeoutMs: 2000, offlineQueue: false, reconnect: true })
    : undefined;
  redis?.on('error', (err) => logger.warn({ err: err.message }, 'redis error'));
  if (redis && !(await connectedWithin(redis, redisConnectMs))) {
    logger.warn('Redis does not answer yet: calls that need it are refused (503) and /ready fails until it does');
  }
  const directory = new ClientDirectory(db);
  const verifier = new TokenVerifier({
    issuer: config.publicUrl,
    audience: config.audience,
    tiers: Object.keys(config.tiers),
    keys: config.gatewayJwksUrl ? new URL(config.gatewayJwksUrl) : keyring,
  });
  const usage = redis ? redisUsage(redis, config.redisPrefix) : memoryUsage();
  return {
    config,
    db,
    limits: new RateLimits(config.tiers, { redis, prefix: config.redisPrefix }),
    usage,
    logger,
    metrics: createMetrics(),
    hashKey: await resolveSecretHashKey(db, config),
    keyring,
    directory,
    verifier,
    model,
    profiles: profiles.registry,
    redis,
    lifecycle: { draining: false },
    async close() {
      keyring.close();
      usage.close();
      redis?.disconnect();
      await db.destroy();
    },
  };
}
