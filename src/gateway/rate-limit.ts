import { RateLimiterMemory, type RateLimiterRes } from 'rate-limiter-flexible';

import type { Tier } from '../config/index.js';
import { slotTag, type RedisClient } from '../db/redis.js';
import { ApiError } from '../errors.js';

const minuteSeconds = 60;
const daySeconds = 86_400;

export type LimitOutcome = 'admitted' | 'rate_limited' | 'cost_quota_exceeded' | 'unavailable';

/** What the gateway does with a call: its outcome, the RateLimit headers, and the error if refused. */
export interface Admission {
  outcome: LimitOutcome;
  headers: Record<string, string>;
  refusal?: ApiError;
  /** The headers once `points` of this call's cost are given back (an upstream call that never reached it). */
  givenBack?(points: number): Record<string, string>;
}

/** Where the counters live: this process, or a Redis shared by every instance. */
export interface LimitStore {
  redis?: RedisClient;
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

/** One counter's state after a call: how much is used and when its window ends. */
interface Count {
  used: number;
  msBeforeNext: number;
}

/** Both counters after one call, and which of them refused it. */
interface Tally {
  minute: Count;
  day: Count;
  refused?: 'minute' | 'day';
}

/** Where one tier's two counters live. Both are fixed windows starting at the client's first call. */
interface Counters {
  /** Counts one request; spends `cost` only when the minute admits it and the day can pay it whole. */
  hit(clientId: string, cost: number): Promise<Tally>;
  /** The day's count as it stands, consuming nothing. */
  today(clientId: string): Promise<Count>;
  /** Gives `points` back to the day (negative: spends more), in the window as it stands. */
  adjust(clientId: string, points: number): Promise<void>;
}

/** Only an existing window is adjusted: a key created here would have no expiry. */
const adjustScript = `if redis.call('exists', KEYS[1]) == 1 then return redis.call('decrby', KEYS[1], ARGV[1]) end return 0`;

/**
 * Both counters in one Lua script, so a call is counted atomically across instances: the minute
 * always counts; the day's cost is spent only when the minute admits and the day covers it. No
 * refused call ever holds cost, not even for a moment, so concurrent calls never see the day
 * emptier than it is (the first burst once reported "day";r=0 with budget left: refused calls'
 * costs were taken and given back in separate steps).
 */
const tallyScript = `
local function pttl(key, seconds)
  local ttl = redis.call('pttl', key)
  if ttl < 0 then return seconds * 1000 end
  return ttl
end
redis.call('set', KEYS[1], 0, 'EX', ARGV[1], 'NX')
local minute = redis.call('incr', KEYS[1])
local cost = tonumber(ARGV[5])
local day = tonumber(redis.call('get', KEYS[2]) or '0')
local refused = ''
if minute > tonumber(ARGV[3]) then
  refused = 'minute'
elseif day + cost > tonumber(ARGV[4]) then
  refused = 'day'
else
  redis.call('set', KEYS[2], 0, 'EX', ARGV[2], 'NX')
  day = redis.call('incrby', KEYS[2], cost)
end
return {minute, pttl(KEYS[1], ARGV[1]), day, pttl(KEYS[2], ARGV[2]), refused}
`;

function redisCounters(redis: RedisClient, prefix: string, tierName: string, tier: Tier): Counters {
  const command = `edgateTally`;
  if (!(command in redis)) redis.defineCommand(command, { numberOfKeys: 2, lua: tallyScript });
  const dayKey = (clientId: string) => `${prefix}rl:day:${tierName}:${slotTag(redis, clientId)}`;
  const run = (redis as unknown as Record<string, (...args: (string | number)[]) => Promise<[number, number, number, number, string]>>)[command].bind(redis);
  return {
    async hit(clientId, cost) {
      // Key names as rate-limiter-flexible wrote them, so counters survive an upgrade in place; on a cluster the
      // client id is a hash tag, as the script touches both keys.
      const keys = [`${prefix}rl:minute:${tierName}:${slotTag(redis, clientId)}`, dayKey(clientId)];
      const [minute, minuteMs, day, dayMs, refused] = await run(...keys, minuteSeconds, daySeconds, tier.requestsPerMinute, tier.costPerDay, cost);
      return { minute: { used: minute, msBeforeNext: minuteMs }, day: { used: day, msBeforeNext: dayMs }, refused: (refused || undefined) as Tally['refused'] };
    },
    async today(clientId) {
      const key = dayKey(clientId);
      const [used, ttl] = await Promise.all([redis.get(key), redis.pttl(key)]);
      return { used: Number(used ?? 0), msBeforeNext: ttl > 0 ? ttl : 0 };
    },
    async adjust(clientId, points) {
      await redis.eval(adjustScript, 1, dayKey(clientId), points);
    },
  };
}

/**
 * In-process counters (one instance). The minute is consumed first and the day only when the
 * minute admits; a day that cannot cover the cost is given it back at once.
 */
function memoryCounters(prefix: string, tierName: string, tier: Tier): Counters {
  const minute = new RateLimiterMemory({ points: tier.requestsPerMinute, duration: minuteSeconds, keyPrefix: `${prefix}rl:minute:${tierName}` });
  const day = new RateLimiterMemory({ points: tier.costPerDay, duration: daySeconds, keyPrefix: `${prefix}rl:day:${tierName}` });
  const count = (res: RateLimiterRes | null, seconds: number): Count => ({ used: res?.consumedPoints ?? 0, msBeforeNext: res?.msBeforeNext ?? seconds * 1000 });
  const settle = (p: Promise<RateLimiterRes>) => p.then((res) => ({ ok: true, res }), (res: RateLimiterRes) => ({ ok: false, res }));
  return {
    async hit(clientId, cost) {
      const perMinute = await settle(minute.consume(clientId, 1));
      if (!perMinute.ok) return { minute: count(perMinute.res, minuteSeconds), day: count(await day.get(clientId), daySeconds), refused: 'minute' };
      const perDay = await settle(day.consume(clientId, cost));
      if (perDay.ok) return { minute: count(perMinute.res, minuteSeconds), day: count(perDay.res, daySeconds) };
      const refunded = await day.reward(clientId, cost);
      return { minute: count(perMinute.res, minuteSeconds), day: count(refunded, daySeconds), refused: 'day' };
    },
    async today(clientId) {
      const res = await day.get(clientId);
      return { used: res?.consumedPoints ?? 0, msBeforeNext: res?.msBeforeNext ?? 0 };
    },
    async adjust(clientId, points) {
      if (points > 0) await day.reward(clientId, points);
      else await day.penalty(clientId, -points);
    },
  };
}

function unavailable(): ApiError {
  return new ApiError('rate_limit_unavailable', 'rate limits cannot be checked right now; try again shortly', {}, { 'Retry-After': '1' });
}

/**
 * Per-client limits by tier: one request per call against the per-minute quota and the route's
 * cost against the per-day quota. Both are fixed windows that start with a client's first call.
 * Every call counts against the minute, refused ones too; only admitted calls spend cost.
 */
export class RateLimits {
  private readonly tiers = new Map<string, { tier: Tier; counters: Counters; policy: string }>();

  constructor(tiers: Record<string, Tier>, store: LimitStore) {
    for (const [name, tier] of Object.entries(tiers)) {
      const counters = store.redis ? redisCounters(store.redis, store.prefix, name, tier) : memoryCounters(store.prefix, name, tier);
      this.tiers.set(name, { tier, counters, policy: policyHeader(tier) });
    }
  }

  /** Cost spent in the client's current day window, for the portal: nothing is consumed. */
  async spentToday(clientId: string, tierName: string): Promise<{ spent: number; quota: number; resetsInMs: number }> {
    const limits = this.tiers.get(tierName);
    if (!limits) return { spent: 0, quota: 0, resetsInMs: 0 };
    const day = await limits.counters.today(clientId);
    return { spent: day.used, quota: limits.tier.costPerDay, resetsInMs: day.msBeforeNext };
  }

  /**
   * Gives an admitted call's cost back (a call that never reached its upstream), or charges the
   * difference an upstream reported (`points` < 0 takes more; past the quota, later calls are refused).
   */
  async adjustCost(clientId: string, tierName: string, points: number): Promise<void> {
    const limits = this.tiers.get(tierName);
    if (limits && points !== 0) await limits.counters.adjust(clientId, points);
  }

  /** Never rejects: a store failure is an `unavailable` admission (the gateway fails closed). */
  async admit(clientId: string, tierName: string, cost: number): Promise<Admission> {
    const limits = this.tiers.get(tierName);
    // The verifier refuses unknown tiers, so this is a config reload race at most: refuse.
    if (!limits) return { outcome: 'unavailable', headers: {}, refusal: unavailable() };
    let tally: Tally;
    try {
      tally = await limits.counters.hit(clientId, cost);
    } catch {
      return { outcome: 'unavailable', headers: { 'RateLimit-Policy': limits.policy }, refusal: unavailable() };
    }
    const { tier, policy } = limits;
    const headersAt = (dayUsed: number) => ({
      'RateLimit-Policy': policy,
      RateLimit: `"minute";r=${Math.max(tier.requestsPerMinute - tally.minute.used, 0)};t=${wholeSeconds(tally.minute.msBeforeNext)}, "day";r=${Math.max(tier.costPerDay - dayUsed, 0)};t=${wholeSeconds(tally.day.msBeforeNext)}`,
    });
    const headers = headersAt(tally.day.used);
    if (!tally.refused) return { outcome: 'admitted', headers, givenBack: (points) => headersAt(tally.day.used - points) };
    if (tally.refused === 'minute') {
      const refusal = new ApiError('rate_limited', 'too many requests this minute for your tier', { 'violated-policies': ['minute'] }, { ...headers, 'Retry-After': wholeSeconds(tally.minute.msBeforeNext) });
      return { outcome: 'rate_limited', headers, refusal };
    }
    const detail = `this call costs ${cost}; today's cost quota for your tier does not cover it`;
    const refusal = new ApiError('cost_quota_exceeded', detail, { 'violated-policies': ['day'] }, { ...headers, 'Retry-After': wholeSeconds(tally.day.msBeforeNext) });
    return { outcome: 'cost_quota_exceeded', headers, refusal };
  }
}
