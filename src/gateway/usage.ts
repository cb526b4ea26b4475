import { slotTag, type RedisClient } from '../db/redis.js';

const minuteMs = 60_000;
const hourMs = 3_600_000;
const hoursKept = 24;

/** One hour of one client's calls: admitted, and refused with a 429. */
export interface HourUsage {
  hourStart: number;
  admitted: number;
  limited: number;
}

export interface UsageSnapshot {
  /** Calls (admitted or not) in the current clock minute. */
  thisMinute: number;
  /** The last 24 clock hours, oldest first, the current one last. */
  hours: HourUsage[];
}

/**
 * Per-client call counts for the portal's usage page. `record` runs on every gateway call, so it
 * is synchronous, allocation-free after a client's first call, and never waits for a store: a few
 * integer writes into typed arrays. With Redis, the counts are flushed once a second (HINCRBY per
 * client and hour), so every instance's calls add up; the page lags by at most that second.
 */
export interface UsageMeter {
  record(clientId: string, admitted: boolean, now?: number): void;
  snapshot(clientId: string, now?: number): Promise<UsageSnapshot>;
  close(): void;
}

/** A client's ring of 24 hour slots, plus the current minute. */
class Counter {
  minute = 0;
  minuteCount = 0;
  readonly hour = new Float64Array(hoursKept);
  readonly admitted = new Uint32Array(hoursKept);
  readonly limited = new Uint32Array(hoursKept);

  add(admitted: boolean, now: number, by = 1): void {
    const minute = Math.floor(now / minuteMs);
    if (minute !== this.minute) {
      this.minute = minute;
      this.minuteCount = 0;
    }
    this.minuteCount += by;
    const hour = Math.floor(now / hourMs);
    const slot = hour % hoursKept;
    if (this.hour[slot] !== hour) {
      this.hour[slot] = hour;
      this.admitted[slot] = 0;
      this.limited[slot] = 0;
    }
    if (admitted) this.admitted[slot] += by;
    else this.limited[slot] += by;
  }

  snapshot(now: number): UsageSnapshot {
    const current = Math.floor(now / hourMs);
    const hours: HourUsage[] = [];
    for (let hour = current - hoursKept + 1; hour <= current; hour++) {
      const slot = hour % hoursKept;
      const live = this.hour[slot] === hour;
      hours.push({ hourStart: hour * hourMs, admitted: live ? this.admitted[slot] : 0, limited: live ? this.limited[slot] : 0 });
    }
    return { thisMinute: this.minute === Math.floor(now / minuteMs) ? this.minuteCount : 0, hours };
  }
}

function emptySnapshot(now: number): UsageSnapshot {
  return new Counter().snapshot(now);
}

/** This instance's counts only: what the portal shows without Redis. */
export function memoryUsage(): UsageMeter & { counters: Map<string, Counter> } {
  const counters = new Map<string, Counter>();
  return {
    counters,
    record(clientId, admitted, now = Date.now()) {
      let counter = counters.get(clientId);
      if (!counter) counters.set(clientId, (counter = new Counter()));
      counter.add(admitted, now);
    },
    async snapshot(clientId, now = Date.now()) {
      return counters.get(clientId)?.snapshot(now) ?? emptySnapshot(now);
    },
    close() {},
  };
}

/**
 * Counts buffered in memory and added to Redis every second; snapshots read Redis (every instance's calls). A client's
 * keys share a hash slot (its id is their hash tag on a cluster), so each client's counts go in one pipeline, which a
 * cluster requires to stay on one node.
 */
export function redisUsage(redis: RedisClient, prefix: string, flushMs = 1000): UsageMeter {
  let pending = new Map<string, { minute: number; minuteCount: number; hours: Map<number, [number, number]> }>();
  const key = (clientId: string, part: string) => `${prefix}usage:${slotTag(redis, clientId)}:${part}`;

  const flush = async () => {
    if (!pending.size) return;
    const batch = pending;
    pending = new Map();
    await Promise.all([...batch].map(([clientId, counts]) => {
      const pipeline = redis.pipeline();
      pipeline.incrby(key(clientId, `m${counts.minute}`), counts.minuteCount);
      pipeline.pexpire(key(clientId, `m${counts.minute}`), 2 * minuteMs);
      for (const [hour, [admitted, limited]] of counts.hours) {
        if (admitted) pipeline.hincrby(key(clientId, `h${hour}`), 'admitted', admitted);
        if (limited) pipeline.hincrby(key(clientId, `h${hour}`), 'limited', limited);
        pipeline.pexpire(key(clientId, `h${hour}`), (hoursKept + 1) * hourMs);
      }
      return pipeline.exec();
    }));
  };
  const timer = setInterval(() => void flush().catch(() => undefined), flushMs);
  timer.unref();

  return {
    record(clientId, admitted, now = Date.now()) {
      let counts = pending.get(clientId);
      if (!counts) pending.set(clientId, (counts = { minute: 0, minuteCount: 0, hours: new Map() }));
      const minute = Math.floor(now / minuteMs);
      if (counts.minute !== minute) {
        counts.minute = minute;
        counts.minuteCount = 0;
      }
      counts.minuteCount++;
      const hour = Math.floor(now / hourMs);
      let slot = counts.hours.get(hour);
      if (!slot) counts.hours.set(hour, (slot = [0, 0]));
      slot[admitted ? 0 : 1]++;
    },
    async snapshot(clientId, now = Date.now()) {
      await flush();
      const current = Math.floor(now / hourMs);
      const hours = Array.from({ length: hoursKept }, (_, i) => current - hoursKept + 1 + i);
      const pipeline = redis.pipeline();
      pipeline.get(key(clientId, `m${Math.floor(now / minuteMs)}`));
      for (const hour of hours) pipeline.hmget(key(clientId, `h${hour}`), 'admitted', 'limited');
      const results = (await pipeline.exec()) ?? [];
      const minute = Number(results[0]?.[1] ?? 0);
      return {
        thisMinute: minute,
        hours: hours.map((hour, i) => {
          const [admitted, limited] = (results[i + 1]?.[1] as Array<string | null>) ?? [];
          return { hourStart: hour * hourMs, admitted: Number(admitted ?? 0), limited: Number(limited ?? 0) };
        }),
      };
    },
    close() {
      clearInterval(timer);
    },
  };
}
