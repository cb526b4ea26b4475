import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

import type { RedisClient } from '../db/redis.js';

/** Failed sign-ins allowed per account in 15 minutes, and per client address in an hour. */
export const failuresPerAccount = 5;
export const failuresPerAddress = 20;

/**
 * Failed-login limits, per account and per address (rate-limiter-flexible, as the gateway's limits):
 * online guessing gets five tries per account per 15 minutes, and one address cannot spray many
 * accounts. Only failures count; a blocked attempt is refused before the password is even checked.
 */
export class LoginLimits {
  private readonly account: RateLimiterAbstract;
  private readonly address: RateLimiterAbstract;

  constructor(store: { redis?: RedisClient; prefix: string }) {
    const make = (name: string, points: number, duration: number) =>
      store.redis
        ? new RateLimiterRedis({ storeClient: store.redis, points, duration, keyPrefix: `${store.prefix}login:${name}`, rejectIfRedisNotReady: true })
        : new RateLimiterMemory({ points, duration, keyPrefix: `${store.prefix}login:${name}` });
    this.account = make('account', failuresPerAccount, 15 * 60);
    this.address = make('address', failuresPerAddress, 3600);
  }

  /** Milliseconds until sign-in may be tried again, or 0 when it may be tried now. */
  async blockedFor(email: string, address: string): Promise<number> {
    const [account, from] = await Promise.all([this.account.get(email), this.address.get(address)]);
    const waits = [
      account && account.consumedPoints >= failuresPerAccount ? account.msBeforeNext : 0,
      from && from.consumedPoints >= failuresPerAddress ? from.msBeforeNext : 0,
    ];
    return Math.max(...waits);
  }

  async failed(email: string, address: string): Promise<void> {
    await Promise.all([spend(this.account, email), spend(this.address, address)]);
  }

  /** A successful sign-in clears the account's count (the address keeps its own). */
  async succeeded(email: string): Promise<void> {
    await this.account.delete(email);
  }
}

async function spend(limiter: RateLimiterAbstract, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (err) {
    if (!(err instanceof RateLimiterRes)) throw err; // over the limit is expected; a store failure is not
  }
}
