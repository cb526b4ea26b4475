import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';

import type { Tier } from '../config/index.js';
import { ApiError } from '../errors.js';

const minuteSeconds = 60;
const daySeconds = 86_400;

export type LimitOutcome = 'admitted' | 'rate_limited' | 'cost_quota_exceeded' | 'unavailable';

/** What the gateway does with a call: its outcome, the RateLimit headers, and the error if refused. */
export interface Admission {
  outcome: LimitOutcome;
  headers: Record<string, string>;
  refusal?: ApiError;
}

interface TierLimiters {
  minute: RateLimiterAbstract;
  day: RateLimiterAbstract;
  policy: string;
}

/** A counter's answer: within quota or over it; a store failure is thrown. */
type Attempt = { within: boolean; res: RateLimiterRes };

/** Where the counters live: this process, or a Redis shared by every instance. */
export interface LimitStore {
  redis?: Redis;
  /** config.redisPrefix: keeps deployments (and test runs) sharing one Redis apart. */
  prefix: string;
}

/**
 * draft-ietf-httpapi-ratelimit-headers: the quota policies. The daily quota counts cost units, which is no registered
 * quota unit (`qu` allows requests, content-bytes, concurrent-requests); the draft lets a server count some requests
 * more than once under the default unit, and asks for service-specific parameters to carry a vendor prefix, hence
 * `edgate-unit="cost"` rather than `qu="cost"`.
 */
export function policyHeader(tier: Tier): string {
  return `"minute";q=${tier.requestsPerMinute};w=${minuteSeconds}, "day";q=${tier.costPerDay};w=${daySeconds};edgate-unit="cost"`;
}

/** Whole seconds, at least 1: a client told "0" would retry at once into the same refusal. */
const wholeSeconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));

function limiter(store: LimitStore, name: string, points: number, duration: number): RateLimiterAbstract {
  const keyPrefix = `${store.prefix}rl:${name}`;
  if (!store.redis) return new RateLimiterMemory({ points, duration, keyPrefix });
  // The library's Lua script increments and reads in one step: atomic across instances.
  return new RateLimiterRedis({ storeClient: store.redis, points, duration, keyPrefix, rejectIfRedisNotReady: true });
}

/** A counter refusal is a RateLimiterRes; anything else is the store failing. */
function isStoreFailure(err: unknown): boolean {
  return !(err instanceof RateLimiterRes);
}

function unavailable(): ApiError {
  return new ApiError(503, 'rate_limit_unavailable', 'rate limits cannot be checked right now; try again shortly', {}, { 'Retry-After': '1' });
}

/**
 * Per-client limits by tier: one request per call against the per-minute quota and the route's
 * cost against the per-day quota. Both are fixed windows that start with a client's first call.
 * Every call counts against the minute, refused ones too; only admitted calls spend cost.
 */
export class RateLimits {
  private readonly tiers = new Map<string, TierLimiters>();

  constructor(tiers: Record<string, Tier>, store: LimitStore) {
    for (const [name, tier] of Object.entries(tiers)) {
      this.tiers.set(name, {
        minute: limiter(store, `minute:${name}`, tier.requestsPerMinute, minuteSeconds),
        day: limiter(store, `day:${name}`, tier.costPerDay, daySeconds),
        policy: policyHeader(tier),
      });
    }
  }

  /** Never rejects: a store failure is an `unavailable` admission (the gateway fails closed). */
  async admit(clientId: string, tierName: string, cost: number): Promise<Admission> {
    const limits = this.tiers.get(tierName);
    // The verifier refuses unknown tiers, so this is a config reload race at most: refuse.
    if (!limits) return { outcome: 'unavailable', headers: {}, refusal: unavailable() };
    try {
      // Both counters at once: with Redis that is one round trip of latency instead of two.
      const [perMinute, perDay] = await Promise.all([attempt(limits.minute, clientId, 1), attempt(limits.day, clientId, cost)]);
      if (perMinute.within && perDay.within) return { outcome: 'admitted', headers: this.headers(limits, perMinute.res, perDay.res) };
      return this.refuse(limits, clientId, cost, perMinute, perDay);
    } catch (err) {
      if (isStoreFailure(err)) return { outcome: 'unavailable', headers: { 'RateLimit-Policy': limits.policy }, refusal: unavailable() };
      throw err;
    }
  }

  private async refuse(limits: TierLimiters, clientId: string, cost: number, perMinute: Attempt, perDay: Attempt): Promise<Admission> {
    // A refused call must not spend the daily budget: give its cost back, so cheaper calls still fit.
    // (Until then a concurrent call may see less budget than there is: under-admission, never over.)
    const today = await limits.day.reward(clientId, cost);
    const headers = this.headers(limits, perMinute.res, today);
    if (!perMinute.within) {
      const refusal = new ApiError(429, 'rate_limited', 'too many requests this minute for your tier', { 'violated-policies': ['minute'] }, { ...headers, 'Retry-After': wholeSeconds(perMinute.res.msBeforeNext) });
      return { outcome: 'rate_limited', headers, refusal };
    }
    const detail = `this call costs ${cost}; today's cost quota for your tier does not cover it`;
    const refusal = new ApiError(429, 'cost_quota_exceeded', detail, { 'violated-policies': ['day'] }, { ...headers, 'Retry-After': wholeSeconds(perDay.res.msBeforeNext) });
    return { outcome: 'cost_quota_exceeded', headers, refusal };
  }

  private headers({ policy }: TierLimiters, minute: RateLimiterRes, day: RateLimiterRes): Record<string, string> {
    return {
      'RateLimit-Policy': policy,
      RateLimit: `"minute";r=${minute.remainingPoints};t=${wholeSeconds(minute.msBeforeNext)}, "day";r=${day.remainingPoints};t=${wholeSeconds(day.msBeforeNext)}`,
    };
  }
}

/** One promise per counter (the library's): a refusal resolves, a store failure rejects. */
function attempt(counter: RateLimiterAbstract, key: string, points: number): Promise<Attempt> {
  return counter.consume(key, points).then(
    (res) => ({ within: true, res }),
    (err: unknown) => (isStoreFailure(err) ? Promise.reject(err) : { within: false, res: err as RateLimiterRes }),
  );
}
