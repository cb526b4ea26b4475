import type { Adapter, AdapterPayload } from 'oidc-provider';

import type { ClientDirectory } from './client-directory.js';

/**
 * oidc-provider's storage. Clients come from the database through the ClientDirectory cache; a
 * disabled client is simply not found, which oidc-provider answers with 401 invalid_client.
 * Client-credentials access tokens are self-contained JWTs, so no other model is ever persisted;
 * the in-memory fallback exists only because the adapter interface requires every model.
 */
export function adapterFactory(directory: ClientDirectory) {
  return class EdgateAdapter implements Adapter {
    private static memory = new Map<string, { payload: AdapterPayload; expires: number }>();

    constructor(private readonly model: string) {}

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === 'Client') return clientMetadata(directory, id);
      const hit = EdgateAdapter.memory.get(`${this.model}:${id}`);
      return hit && hit.expires > Date.now() ? hit.payload : undefined;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      EdgateAdapter.memory.set(`${this.model}:${id}`, { payload, expires: Date.now() + expiresIn * 1000 });
    }

    async destroy(id: string): Promise<void> {
      EdgateAdapter.memory.delete(`${this.model}:${id}`);
    }

    async consume(): Promise<void> {}
    async findByUid(): Promise<undefined> {
      return undefined;
    }
    async findByUserCode(): Promise<undefined> {
      return undefined;
    }
    async revokeByGrantId(): Promise<void> {}
  };
}

async function clientMetadata(directory: ClientDirectory, clientId: string): Promise<AdapterPayload | undefined> {
  const client = await directory.find(clientId);
  if (!client || client.disabled) return undefined;
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
