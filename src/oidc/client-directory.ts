import type { Db } from '../db/knex.js';
import { findClient, type ClientRecord } from '../db/clients.js';
import { schoolsInReach } from '../db/edorgs.js';

const maxEntries = 10_000;

/** A client record with the school ids in its reach, as tokens carry them. */
export interface ClientWithReach extends ClientRecord {
  schools: string[];
}

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
    const [record, schools] = await Promise.all([findClient(this.db, clientId), schoolsInReach(this.db, clientId)]);
    if (this.cache.size >= maxEntries) this.cache.delete(this.cache.keys().next().value!);
    const entry = record && { ...record, schools };
    this.cache.set(clientId, { record: entry, expires: now + this.ttlMs });
    return entry;
  }

  /** Same-process writes (tests, admin routes) need not wait for the TTL. */
  forget(clientId: string): void {
    this.cache.delete(clientId);
  }
}
