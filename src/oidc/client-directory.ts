import type { Db } from '../db/knex.js';
import { findClient, type ClientRecord } from '../db/clients.js';

const maxEntries = 10_000;

/**
 * Client records with a short-lived cache: token issuance and every API call need the client, but
 * a disable or secret rotation made by the CLI (another process) must be seen within `ttlMs`.
 * Unknown ids are cached too, so random client_ids cannot turn into one query each.
 */
export class ClientDirectory {
  private cache = new Map<string, { record: ClientRecord | undefined; expires: number }>();

  constructor(
    private readonly db: Db,
    private readonly ttlMs = 2000,
  ) {}

  async find(clientId: string): Promise<ClientRecord | undefined> {
    const now = Date.now();
    const hit = this.cache.get(clientId);
    if (hit && hit.expires > now) return hit.record;
    const record = await findClient(this.db, clientId);
    if (this.cache.size >= maxEntries) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(clientId, { record, expires: now + this.ttlMs });
    return record;
  }

  /** Same-process writes (tests, admin routes) need not wait for the TTL. */
  forget(clientId: string): void {
    this.cache.delete(clientId);
  }
}
