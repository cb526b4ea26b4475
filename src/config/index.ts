import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import { namesCluster, parseClusterUrl, RedisUrlError } from './redis-url.js';
import { parseRoutes, RouteConfigError, type UpstreamRoute } from './routes.js';

export type TierName = string;

export interface Tier {
  requestsPerMinute: number;
  costPerDay: number;
}

export interface Config {
  production: boolean;
  port: number;
  host: string;
  /** Base URL clients use; also the token issuer (`iss`). */
  publicUrl: string;
  /** The API's resource identifier (`aud`). */
  audience: string;
  databaseUrl: string;
  /** Bound on every database step (connect, pool acquire, statement); past it the API answers 503. */
  databaseTimeoutMs: number;
  /** One server (`redis://`) or a Redis Cluster (`redis-cluster://host:port,host:port,...`). */
  redisUrl?: string;
  /** Prefix for every Redis key, so several deployments (or test runs) can share one Redis. */
  redisPrefix: string;
  tokenTtlSeconds: number;
  tiers: Record<TierName, Tier>;
  sisSync: { requestsPerMinute: number; maxBatch: number };
  profilesDir: string;
  /**
   * The Ed-Fi model: ApiSchema files (the core, then extensions), in Meadowlark's or the Data
   * Management Service's format. Empty means edgate's own embedded model (config/edfi/).
   */
  edfiApiSchema: string[];
  /** HMAC key for client and SIS secrets; unset in development means one generated and kept in the database. */
  secretHashKey?: string;
  /** Encrypts signing keys at rest; production refuses to start without it. */
  keyEncryptionSecret?: string;
  /** A gateway run as its own process verifies against this JWKS instead of the database's keys. */
  gatewayJwksUrl?: string;
  /** How often an instance looks for rotated signing keys and disabled clients. */
  refreshSeconds: number;
  /**
   * On SIGTERM, how long the instance keeps serving while failing /ready, so a load balancer stops sending it new
   * requests before it stops listening. 0 (one instance, nothing to tell) closes at once.
   */
  drainSeconds: number;
  logLevel: string;
  /** Prefixes the gateway forwards to other processes (config file `routes`); none by default. */
  routes: UpstreamRoute[];
  portal: PortalConfig;
}

/** The developer portal's settings (config file key `portal`; SMTP_URL and MAIL_FROM from the environment). */
export interface PortalConfig {
  /** Tiers an admin must approve (`edgate client approve`) before an application on them gets a token. */
  approvalTiers: TierName[];
  /** Invite links are mailed too when set (`smtp://user:pass@host:587`, `smtps://…`); else only printed. */
  smtpUrl?: string;
  mailFrom: string;
  /** A portal session ends this long after sign-in. */
  sessionHours: number;
}

/** The contract's default tier table (API.md section 4). */
export const defaultTiers: Record<TierName, Tier> = {
  free: { requestsPerMinute: 60, costPerDay: 5_000 },
  standard: { requestsPerMinute: 600, costPerDay: 100_000 },
  premium: { requestsPerMinute: 6_000, costPerDay: 2_000_000 },
};

type Env = Record<string, string | undefined>;
type FileConfig = Partial<Record<string, unknown>>;

function readConfigFile(path: string | undefined): FileConfig {
  if (!path) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as FileConfig;
  } catch (err) {
    throw new ConfigError(`EDGATE_CONFIG=${path} could not be read as JSON: ${(err as Error).message}`);
  }
}

export class ConfigError extends Error {}

function int(name: string, raw: unknown, min: number): number {
  const value = typeof raw === 'number' ? raw : Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new ConfigError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function parseTiers(raw: unknown): Record<TierName, Tier> {
  if (raw === undefined) return defaultTiers;
  if (!raw || typeof raw !== 'object') throw new ConfigError('tiers must be an object of {requestsPerMinute, costPerDay}');
  const tiers: Record<TierName, Tier> = {};
  for (const [name, tier] of Object.entries(raw as Record<string, Partial<Tier>>)) {
    tiers[name] = {
      requestsPerMinute: int(`tiers.${name}.requestsPerMinute`, tier?.requestsPerMinute, 1),
      costPerDay: int(`tiers.${name}.costPerDay`, tier?.costPerDay, 1),
    };
  }
  if (Object.keys(tiers).length === 0) throw new ConfigError('tiers must name at least one tier');
  return tiers;
}

function upstreamRoutes(raw: unknown, publicUrl: string): UpstreamRoute[] {
  try {
    return parseRoutes(raw, publicUrl);
  } catch (err) {
    if (err instanceof RouteConfigError) throw new ConfigError(err.message);
    throw err;
  }
}

/** EDFI_API_SCHEMA lists files separated by commas (or the platform's path separator); the config file may give an array. */
function schemaFiles(fromEnv: string | undefined, fromFile: unknown): string[] {
  if (fromEnv) return fromEnv.split(/[,:;]/).map((f) => f.trim()).filter(Boolean);
  if (Array.isArray(fromFile)) return fromFile.map(String);
  if (typeof fromFile === 'string' && fromFile) return [fromFile];
  return [];
}

function parsePortal(raw: unknown, tiers: Record<TierName, Tier>, env: Env): PortalConfig {
  const portal = (raw ?? {}) as Partial<PortalConfig>;
  // Premium by default: the tier with the largest quotas is the one worth a human look.
  const approvalTiers = portal.approvalTiers ?? ['premium'].filter((name) => name in tiers);
  if (!Array.isArray(approvalTiers) || approvalTiers.some((name) => !(name in tiers))) {
    throw new ConfigError(`portal.approvalTiers must list configured tiers (${Object.keys(tiers).join(', ')}), got ${JSON.stringify(approvalTiers)}`);
  }
  return {
    approvalTiers,
    smtpUrl: env.SMTP_URL || portal.smtpUrl || undefined,
    mailFrom: env.MAIL_FROM || portal.mailFrom || 'edgate <no-reply@localhost>',
    sessionHours: int('portal.sessionHours', portal.sessionHours ?? 8, 1),
  };
}

/** Env wins over the file named by EDGATE_CONFIG, which wins over the defaults. */
export function loadConfig(env: Env = process.env): Config {
  const file = readConfigFile(env.EDGATE_CONFIG);
  const pick = (envName: string, fileKey: string): string | undefined => {
    const fromEnv = env[envName];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const fromFile = file[fileKey];
    return fromFile === undefined ? undefined : String(fromFile);
  };
  const port = int('PORT', pick('PORT', 'port') ?? 3000, 0);
  const publicUrl = (pick('PUBLIC_URL', 'publicUrl') ?? `http://localhost:${port}`).replace(/\/$/, '');
  const sisSync = (file.sisSync ?? {}) as Partial<Config['sisSync']>;
  const tiers = parseTiers(file.tiers);
  const config: Config = {
    production: env.NODE_ENV === 'production',
    port,
    host: pick('HOST', 'host') ?? '0.0.0.0',
    publicUrl,
    audience: pick('AUDIENCE', 'audience') ?? publicUrl,
    databaseUrl: pick('DATABASE_URL', 'databaseUrl') ?? 'sqlite:./data/edgate.sqlite',
    databaseTimeoutMs: int('DATABASE_TIMEOUT_MS', pick('DATABASE_TIMEOUT_MS', 'databaseTimeoutMs') ?? 10_000, 100),
    redisUrl: pick('REDIS_URL', 'redisUrl'),
    redisPrefix: pick('REDIS_PREFIX', 'redisPrefix') ?? 'edgate:',
    tokenTtlSeconds: int('TOKEN_TTL_SECONDS', pick('TOKEN_TTL_SECONDS', 'tokenTtlSeconds') ?? 3600, 1),
    tiers,
    sisSync: {
      requestsPerMinute: int('sisSync.requestsPerMinute', sisSync.requestsPerMinute ?? 20, 1),
      maxBatch: int('sisSync.maxBatch', sisSync.maxBatch ?? 5_000, 1),
    },
    profilesDir: pick('PROFILES_DIR', 'profilesDir') ?? 'config/profiles',
    edfiApiSchema: schemaFiles(env.EDFI_API_SCHEMA, file.edfiApiSchema),
    secretHashKey: pick('SECRET_HASH_KEY', 'secretHashKey'),
    keyEncryptionSecret: pick('KEY_ENCRYPTION_SECRET', 'keyEncryptionSecret'),
    gatewayJwksUrl: pick('GATEWAY_JWKS_URL', 'gatewayJwksUrl'),
    refreshSeconds: int('REFRESH_SECONDS', pick('REFRESH_SECONDS', 'refreshSeconds') ?? 5, 1),
    drainSeconds: int('DRAIN_SECONDS', pick('DRAIN_SECONDS', 'drainSeconds') ?? 0, 0),
    logLevel: pick('LOG_LEVEL', 'logLevel') ?? 'info',
    routes: upstreamRoutes(file.routes, publicUrl),
    portal: parsePortal(file.portal, tiers, env),
  };
  const databaseUrl = pick('DATABASE_URL', 'databaseUrl');
  if (databaseUrl !== undefined) checkDatabaseUrl(databaseUrl, env);
  if (config.redisUrl !== undefined) checkRedisUrl(config.redisUrl);
  if (config.production) refuseInsecureDefaults(config, env);
  return config;
}

/**
 * A mistyped DATABASE_URL must stop the start, not quietly open a new, empty SQLite database in new folders. The
 * default (`./data/edgate.sqlite`) is created on first start; a path given explicitly must be in an existing folder,
 * unless NODE_ENV=development.
 */
function checkDatabaseUrl(url: string, env: Env): void {
  if (!/^(sqlite:|mysql:\/\/)/.test(url)) throw new ConfigError(`DATABASE_URL must start with sqlite: or mysql://, got ${url.split(':')[0]}:`);
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : ':memory:';
  if (path === ':memory:' || env.NODE_ENV === 'development') return;
  const folder = dirname(resolve(path));
  if (!existsSync(folder)) {
    throw new ConfigError(`DATABASE_URL ${url}: the folder ${folder} does not exist (a typo?). Create it, or set NODE_ENV=development to let edgate create it.`);
  }
}

/** A REDIS_URL that cannot be connected to as written stops the start, rather than failing every request closed. */
function checkRedisUrl(url: string): void {
  if (!/^(rediss?|rediss?-cluster):\/\//.test(url)) {
    throw new ConfigError(`REDIS_URL must start with redis://, rediss:// or redis-cluster:// (a cluster), got ${url.split(':')[0]}:`);
  }
  try {
    if (namesCluster(url)) parseClusterUrl(url);
  } catch (err) {
    if (err instanceof RedisUrlError) throw new ConfigError(err.message);
    throw err;
  }
}

/** Production must not silently run on development conveniences. */
function refuseInsecureDefaults(config: Config, env: Env): void {
  const problems: string[] = [];
  if (!env.DATABASE_URL && !config.databaseUrl.startsWith('mysql')) problems.push('set DATABASE_URL to a mysql:// URL');
  else if (config.databaseUrl.startsWith('sqlite')) problems.push('DATABASE_URL is SQLite; production needs MySQL/MariaDB');
  if (!config.keyEncryptionSecret || config.keyEncryptionSecret.length < 32) {
    problems.push('set KEY_ENCRYPTION_SECRET (≥ 32 characters) so signing keys are encrypted at rest');
  }
  if (!config.secretHashKey || config.secretHashKey.length < 32) {
    problems.push('set SECRET_HASH_KEY (≥ 32 characters), the HMAC key for client and SIS secrets');
  }
  if (problems.length) {
    throw new ConfigError(`NODE_ENV=production refuses insecure defaults:\n  - ${problems.join('\n  - ')}`);
  }
}
