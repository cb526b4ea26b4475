import type { ClientDirectory } from './client-directory.js';

/** The custom access-token claims: the client's tier and the schools in its reach at issue time. */
export function tokenClaims(directory: ClientDirectory) {
  return async (clientId: string): Promise<Record<string, unknown>> => {
    const client = await directory.find(clientId);
    if (!client) throw new Error(`client ${clientId} vanished while its token was being issued`);
    return { tier: client.tier, schools: client.schools };
  };
}
