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

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 2000,
  ) {}

  async find(clientId: string): Promise<ClientWithReach | undefined> {
    const now = Date.now();
    const hit = this.cache.get(clientId);
    if (hit && hit.expires > now) return hit.record;
    const [record, reach] = await Promise.all([findClient(this.db, clientId), reachOf(this.db, clientId)]);
    if (this.cache.size >= maxEntries) this.cache.delete(this.cache.keys().next().value!);
    const entry = record && { ...record, ...reach };
    this.cache.set(clientId, { record: entry, expires: now + this.ttlMs });
    return entry;
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
  }

  /** The ed-org tree changed in this process (an LEA or school written through the API): every reach may have. */
  forgetAll(): void {
    this.cache.clear();
  }
}
