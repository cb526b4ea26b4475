import { errors } from 'oidc-provider';

import { schoolsBeneath } from '../db/edorgs.js';
import type { Db } from '../db/knex.js';
import type { ClientDirectory } from '../clients/directory.js';

/**
 * The custom access-token claims: the client's tier and the schools in its reach at issue time. With an Ed-Fi
 * `scope` (an ed-org id explicitly assigned to the client) the schools are narrowed to those beneath it, as the
 * ODS/API narrows a token to the requested education organization.
 */
export function tokenClaims(directory: ClientDirectory, db: Db) {
  return async (clientId: string, scope?: number): Promise<Record<string, unknown>> => {
    const client = await directory.find(clientId);
    if (!client) throw new Error(`client ${clientId} vanished while its token was being issued`);
    if (scope === undefined) return { tier: client.tier, schools: client.schools };
    if (!client.edorgIds.includes(scope)) {
      throw new errors.InvalidScope("The client is not explicitly associated with the EducationOrganizationId specified in the requested 'scope'.", String(scope));
    }
    const beneath = new Set(await schoolsBeneath(db, scope));
    return { tier: client.tier, schools: client.schools.filter((id) => beneath.has(id)) };
  };
}
