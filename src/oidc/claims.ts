import type { Db } from '../db/knex.js';
import { schoolsInReach } from '../db/edorgs.js';
import type { ClientDirectory } from './client-directory.js';

/** The custom access-token claims: the client's tier and the schools in its reach at issue time. */
export function tokenClaims(db: Db, directory: ClientDirectory) {
  return async (clientId: string): Promise<Record<string, unknown>> => {
    const [client, schools] = await Promise.all([directory.find(clientId), schoolsInReach(db, clientId)]);
    if (!client) throw new Error(`client ${clientId} vanished while its token was being issued`);
    return { tier: client.tier, schools };
  };
}
