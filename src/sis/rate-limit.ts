import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

import { ApiError } from '../errors.js';
import type { Services } from '../http/services.js';

export interface SisRateLimiter {
  /** Counts one request of an institution; throws 429 rate_limited past the configured rate. */
  admit(institution: number): Promise<void>;
}

/**
 * A fixed one-minute window per institution. With Redis the count is shared by every instance
 * (rate-limiter-flexible increments atomically); should Redis fail, each instance keeps limiting
 * on its own rather than letting everything through.
 */
export function sisRateLimiter({ config, redis }: Pick<Services, 'config' | 'redis'>): SisRateLimiter {
  const options = { points: config.sisSync.requestsPerMinute, duration: 60, keyPrefix: `${config.redisPrefix}sis-sync` };
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) })
    : new RateLimiterMemory(options);
  return {
    async admit(institution) {
      try {
        await limiter.consume(String(institution));
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        const retryAfter = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
        throw new ApiError(
          429,
          'rate_limited',
          `institution ${institution} may sync ${options.points} times a minute; retry in ${retryAfter} s`,
          { retry_after: retryAfter },
          { 'Retry-After': String(retryAfter) },
        );
      }
    },
  };
}
