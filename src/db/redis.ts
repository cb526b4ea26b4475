import { Cluster, Redis, type RedisOptions } from 'ioredis';

import { namesCluster, parseClusterUrl } from '../config/redis-url.js';

/** One Redis server or a Redis Cluster: both answer the same commands, so callers take either. */
export type RedisClient = Redis | Cluster;

/** How long a connection attempt and a command may take before the caller's fail-closed 503. */
export interface RedisBounds {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** false: a command sent while disconnected fails at once instead of waiting in a queue. */
  offlineQueue: boolean;
  /** false: give up after the first failed connection (the CLI, which runs once and exits). */
  reconnect: boolean;
  lazyConnect?: boolean;
}

/**
 * Connects to REDIS_URL: a `redis://` or `rediss://` URL is one server, a `redis-cluster://` URL a cluster, found
 * from any of its seed nodes. The cluster client follows MOVED/ASK redirections and a failover by itself; every
 * command keeps the same deadline as on one server.
 */
export function connectRedis(url: string, bounds: RedisBounds): RedisClient {
  const perNode: RedisOptions = {
    maxRetriesPerRequest: 1,
    connectTimeout: bounds.connectTimeoutMs,
    commandTimeout: bounds.commandTimeoutMs,
    enableOfflineQueue: bounds.offlineQueue,
    lazyConnect: bounds.lazyConnect,
    ...(bounds.reconnect ? {} : { retryStrategy: () => null }),
  };
  if (!namesCluster(url)) return new Redis(url, perNode);
  const { nodes, username, password, tls } = parseClusterUrl(url);
  return new Cluster(nodes, {
    enableOfflineQueue: bounds.offlineQueue,
    lazyConnect: bounds.lazyConnect,
    slotsRefreshTimeout: bounds.connectTimeoutMs,
    // A failover (a replica promoted) takes the cluster's node timeout plus an election: retry in the meantime
    // rather than fail, within the command deadline.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    retryDelayOnTryAgain: 200,
    ...(bounds.reconnect ? {} : { clusterRetryStrategy: () => null }),
    redisOptions: { ...perNode, lazyConnect: undefined, username, password, ...(tls ? { tls: {} } : {}) },
  });
}

/**
 * A key part that must share a hash slot with the other keys a script or pipeline touches together (a client's
 * minute and day counters, its usage hours). On a cluster it becomes a hash tag, `{part}`; on one server the name
 * stays as earlier releases wrote it, so counters survive an upgrade in place.
 */
export function slotTag(redis: RedisClient, part: string): string {
  return redis instanceof Cluster ? `{${part}}` : part;
}

/** Whether Redis answers a PING within `withinMs` (for /ready: orchestrators probe with short timeouts of their own). */
export async function redisAnswers(redis: RedisClient, withinMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, withinMs, false)));
  const answered = redis.ping().then(
    () => true,
    () => false,
  );
  return Promise.race([answered, late]).finally(() => clearTimeout(timer));
}

/**
 * Resolves true once the client takes commands, false after `withinMs`. Without an offline queue a command sent while
 * the first connection is still being made fails at once, so a starting instance waits here: otherwise its first calls
 * would be refused (503) for the few milliseconds a connection takes, or longer on a busy machine.
 */
export function connectedWithin(redis: RedisClient, withinMs: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (ready: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    };
    const onReady = () => settle(true);
    const timer = setTimeout(settle, withinMs, false);
    redis.on('ready', onReady);
  });
}
