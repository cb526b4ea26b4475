import type { Logger } from 'pino';

import { disabledClientIds } from '../db/clients.js';
import type { Db } from '../db/knex.js';
import { connectRedis, type RedisClient } from '../db/redis.js';
import { ApiError } from '../errors.js';

/** Whether a client's outstanding tokens are revoked (the client is disabled). */
export interface Revocations {
  /** The answer when it can be given at once from a fresh enough list, else undefined. */
  knownRevoked(clientId: string): boolean | undefined;
  /** Waits for a fresh list if need be; a 503 when it cannot be had: the gateway fails closed. */
  isRevoked(clientId: string): Promise<boolean>;
}

/** The contract: a disable stops the client's tokens on every instance within this long. */
export const revocationDeadlineMs = 10_000;

export const revokedClientsKey = (redisPrefix: string) => `${redisPrefix}revoked-clients`;

function unavailable(): ApiError {
  return new ApiError('revocation_unavailable', 'token revocations cannot be checked right now; try again shortly', {}, { 'Retry-After': '1' });
}

/**
 * A snapshot of the revoked client ids, read from `source`. A call finding the snapshot older than
 * `refreshMs` starts a reload and is answered from the snapshot; past twice that (well inside the
 * 10 s deadline) calls wait for a fresh one, and if the source cannot give one they are refused.
 * Checking a set in memory keeps the hot path free of a database or Redis round trip.
 */
export class RevocationSnapshot implements Revocations {
  private revoked = new Set<string>();
  private takenAt = -Infinity;
  private reload?: Promise<void>;
  private readonly refreshMs: number;

  constructor(
    private readonly source: () => Promise<string[]>,
    refreshMs: number,
  ) {
    this.refreshMs = Math.min(refreshMs, revocationDeadlineMs / 2);
  }

  knownRevoked(clientId: string): boolean | undefined {
    const age = Date.now() - this.takenAt;
    if (age >= 2 * this.refreshMs) return undefined;
    if (age >= this.refreshMs) this.refresh().catch(() => undefined);
    return this.revoked.has(clientId);
  }

  async isRevoked(clientId: string): Promise<boolean> {
    const known = this.knownRevoked(clientId);
    if (known !== undefined) return known;
    await this.refresh().catch(() => Promise.reject(unavailable()));
    return this.revoked.has(clientId);
  }

  /** One reload at a time however many calls notice the snapshot is old. */
  private refresh(): Promise<void> {
    this.reload ??= this.load().finally(() => {
      this.reload = undefined;
    });
    return this.reload;
  }

  private async load(): Promise<void> {
    // Stamp the start: a disable committed during the read may be missing from its answer.
    const started = Date.now();
    this.revoked = new Set(await this.source());
    this.takenAt = started;
  }
}

/** Without Redis: the database's disabled clients, re-read every `refreshSeconds`. */
export function databaseRevocations(db: Db, refreshSeconds: number): Revocations {
  return new RevocationSnapshot(() => disabledClientIds(db), refreshSeconds * 1000);
}

/** One SMEMBERS a second is cheap for Redis and keeps a disable's delay near a second. */
const redisRefreshMs = 1000;

/**
 * With Redis: the set of revoked client ids that `edgate client disable|enable` writes, read by
 * every instance every second. The database stays the record: each (re)connection to Redis copies
 * its disabled clients into the set, which heals a flushed Redis or a disable made while Redis was
 * unreachable.
 */
export function redisRevocations(redis: RedisClient, redisPrefix: string, db: Db, logger: Logger): Revocations {
  const key = revokedClientsKey(redisPrefix);
  const copyFromDatabase = async () => {
    try {
      const ids = await disabledClientIds(db);
      if (ids.length) await redis.sadd(key, ...ids);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'could not copy disabled clients into the Redis revocation set');
    }
  };
  redis.on('ready', () => void copyFromDatabase());
  if (redis.status === 'ready') void copyFromDatabase();
  return new RevocationSnapshot(() => redis.smembers(key), redisRefreshMs);
}

/**
 * What the admin CLI calls after changing a client's `disabled` flag in the database: tells every
 * instance sharing Redis at once. Without Redis there is nothing to do: instances read the database.
 */
export async function announceRevocation(redisUrl: string | undefined, redisPrefix: string, clientId: string, revoked: boolean): Promise<void> {
  if (!redisUrl) return;
  const redis = connectRedis(redisUrl, { connectTimeoutMs: 3000, commandTimeoutMs: 3000, offlineQueue: true, reconnect: false, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    if (revoked) await redis.sadd(revokedClientsKey(redisPrefix), clientId);
    else await redis.srem(revokedClientsKey(redisPrefix), clientId);
  } catch (err) {
    throw new ApiError('redis_unavailable', `the database now says ${revoked ? 'disabled' : 'enabled'}, but Redis (the instances' revocation list) could not be told: ${(err as Error).message}. ` +
        'Instances copy disabled clients from the database when they reconnect to Redis; run the command again once Redis answers.',
    );
  } finally {
    redis.disconnect();
  }
}
