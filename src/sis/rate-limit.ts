import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

import type { RedisClient } from '../db/redis.js';
import { ApiError } from '../errors.js';
import type { Config } from '../config/index.js';

export interface SisRateLimiter {
  /** Counts one request of an institution; throws 429 rate_limited past the configured rate. */
  admit(institution: number): Promise<void>;
}

/**
 * A fixed one-minute window per institution. With Redis the count is shared by every instance
 * (rate-limiter-flexible increments atomically). Should Redis fail, sync is refused with
 * `503 rate_limit_unavailable`, the gateway's rule: a per-instance fallback would multiply the
 * limit by the number of instances exactly when the shared state is gone.
 */
export function sisRateLimiter({ config, redis }: { config: Config; redis?: RedisClient }): SisRateLimiter {
  const options = { points: config.sisSync.requestsPerMinute, duration: 60, keyPrefix: `${config.redisPrefix}sis-sync` };
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...options, storeClient: redis, rejectIfRedisNotReady: true })
    : new RateLimiterMemory(options);
  return {
    async admit(institution) {
      try {
        await limiter.consume(String(institution));
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) {
          throw new ApiError('rate_limit_unavailable', 'the SIS sync limit cannot be checked right now; try again shortly', {}, { 'Retry-After': '1' });
        }
        const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw new ApiError('rate_limited', `institution ${institution} may sync ${options.points} times a minute; retry in ${retryAfter} s`,
          { retry_after: retryAfter },
          { 'Retry-After': String(retryAfter) },
        );
      }
    },
  };
}
