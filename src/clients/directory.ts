import type { Db } from '../db/knex.js';
import { findClient, type ClientRecord } from '../db/clients.js';
import { reachOf, type ClientReach } from '../db/edorgs.js';

const maxEntries = 10_000;

/** A client record with its reach: the schools tokens carry, and every ed-org the data API measures against. */
export interface ClientWithReach extends ClientRecord, ClientReach {}

/**
 * Client records with a short-lived cache: token issuance and every API call need the client, but
 * a disable, secret rotation or reach change made by the CLI (another process) must be seen within
 * `ttlMs`. Issuing a token costs a fraction of a millisecond, so two queries per token would halve
 * throughput; two queries per client per TTL do not. Unknown ids are cached too, so random
 * client_ids cannot turn into one query each.
 */
export class ClientDirectory {
  private cache = new Map<string, { record: ClientWithReach | undefined; expires: number }>();
  /**
   * One lookup in flight per client id, shared by every caller that misses meanwhile: a burst of calls on a cold or
   * just-expired entry (a new token's first burst, a second instance) would otherwise send the same queries once per
   * call, queue them behind the pool, and time some of them out as 503s.
   */
  private inFlight = new Map<string, Promise<ClientWithReach | undefined>>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 2000,
  ) {}

  async find(clientId: string): Promise<ClientWithReach | undefined> {
    const hit = this.cache.get(clientId);
    if (hit && hit.expires > Date.now()) return hit.record;
    return this.inFlight.get(clientId) ?? this.lookUp(clientId);
  }

  private lookUp(clientId: string): Promise<ClientWithReach | undefined> {
    const started = Date.now();
    const lookup: Promise<ClientWithReach | undefined> = Promise.all([findClient(this.db, clientId), reachOf(this.db, clientId)])
      .then(([record, reach]) => {
        const entry = record && { ...record, ...reach };
        // A forget() while the queries ran means they may have read the old state: answer the callers, cache nothing.
        if (this.inFlight.get(clientId) === lookup) this.remember(clientId, entry, started);
        return entry;
      })
      .finally(() => {
        if (this.inFlight.get(clientId) === lookup) this.inFlight.delete(clientId);
      });
    this.inFlight.set(clientId, lookup);
    return lookup;
  }

  private remember(clientId: string, record: ClientWithReach | undefined, readAt: number): void {
    if (this.cache.size >= maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(clientId, { record, expires: readAt + this.ttlMs });
  }

  /**
   * Synchronously, from the cache: whether the client exists (true/false), or undefined when the
   * cache cannot say and find() must ask. The gateway's hot path costs no promise on a hit.
   */
  knownToExist(clientId: string): boolean | undefined {
    const hit = this.cache.get(clientId);
    return hit && hit.expires > Date.now() ? hit.record !== undefined : undefined;
  }

  /** Same-process writes (tests, admin routes) need not wait for the TTL. */
  forget(clientId: string): void {
    this.cache.delete(clientId);
    this.inFlight.delete(clientId);
  }

  /** The ed-org tree changed in this process (an LEA or school written through the API): every reach may have. */
  forgetAll(): void {
    this.cache.clear();
    this.inFlight.clear();
  }
}
