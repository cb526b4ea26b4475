import type { Adapter, AdapterPayload } from 'oidc-provider';

import type { Db } from '../db/knex.js';
import type { ClientDirectory } from '../clients/directory.js';

/**
 * oidc-provider's storage. Clients come from the database through the ClientDirectory cache; a
 * disabled client, or a portal application still waiting for approval, is simply not found, which
 * oidc-provider answers with 401 invalid_client. Client-credentials access tokens are self-contained
 * JWTs and never stored. What the portal's sign-in (authorization code) needs — interactions,
 * sessions, codes, grants — goes to the `oidc_models` table, so every instance sees the same.
 * https://github.com/panva/node-oidc-provider/blob/main/docs/README.md#adapter
 */
export function adapterFactory(directory: ClientDirectory, db: Db) {
  let lastSweep = Date.now();
  return class EdgateAdapter implements Adapter {
    constructor(private readonly model: string) {}

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return clientMetadata(directory, id);
      return findPayload(db, this.model, { id });
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return findPayload(db, this.model, { uid });
    }

    async findByUserCode(): Promise<undefined> {
      return undefined; // device flow is off
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const row = {
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        uid: payload.uid ?? null,
        expires_at: expiresIn ? Date.now() + expiresIn * 1000 : null,
      };
      await db('oidc_models').insert({ model: this.model, id, consumed_at: null, ...row }).onConflict(['model', 'id']).merge(row);
      if (Date.now() - lastSweep > 60_000) {
        lastSweep = Date.now();
        await sweepExpiredModels(db);
      }
    }

    async destroy(id: string): Promise<void> {
      await db('oidc_models').where({ model: this.model, id }).del();
    }

    async consume(id: string): Promise<void> {
      await db('oidc_models').where({ model: this.model, id }).update({ consumed_at: Date.now() });
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await db('oidc_models').where({ grant_id: grantId }).del();
    }
  };
}

async function findPayload(db: Db, model: string, by: { id: string } | { uid: string }): Promise<AdapterPayload | undefined> {
  const row = await db('oidc_models').where({ model, ...by }).first('id', 'uid', 'payload', 'expires_at', 'consumed_at');
  if (!row) return undefined;
  // Byte-for-byte, whatever the column's collation: a look-alike id must not find another's record.
  if ('id' in by ? row.id !== by.id : row.uid !== by.uid) return undefined;
  if (row.expires_at !== null && Number(row.expires_at) <= Date.now()) return undefined;
  const payload = JSON.parse(row.payload) as AdapterPayload;
  return row.consumed_at === null ? payload : { ...payload, consumed: Math.floor(Number(row.consumed_at) / 1000) };
}

/** Expired rows are dead weight only (find ignores them); instances sweep them now and then. */
export async function sweepExpiredModels(db: Db, now = Date.now()): Promise<number> {
  return db('oidc_models').where('expires_at', '<=', now).del();
}

async function clientMetadata(directory: ClientDirectory, clientId: string): Promise<AdapterPayload | undefined> {
  const client = await directory.find(clientId);
  if (!client || client.disabled || client.pending) return undefined;
  return {
    client_id: client.clientId,
    // The keyed hash, not the secret: compareClientSecret is overridden to hash what is presented.
    client_secret: client.secretHash,
    client_name: client.name,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  };
}
