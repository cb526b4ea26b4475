import type Router from '@koa/router';

import { edfiTypeNames, withAncestors, type EdorgWithAncestors } from '../db/edorgs.js';
import type { Db } from '../db/knex.js';
import type { EdorgType } from '../db/tables.js';
import { ApiError } from '../errors.js';
import { bearerToken, invalidToken, type TokenVerifier } from '../gateway/verifier.js';
import { readParams } from '../http/body.js';
import type { ClientDirectory } from './client-directory.js';

const idKey: Record<EdorgType, string> = {
  sea: 'state_education_agency_id',
  esc: 'education_service_center_id',
  lea: 'local_education_agency_id',
  school: 'school_id',
};

/** Ed-Fi's shape: the org itself, then an `<type>_id` for itself and each ancestor. */
function describeEdorg(org: EdorgWithAncestors) {
  const described: Record<string, string | number> = {
    education_organization_id: org.id,
    name_of_institution: org.name,
    type: `edfi.${edfiTypeNames[org.type]}`,
    [idKey[org.type]]: org.id,
  };
  for (const ancestor of org.ancestors) described[idKey[ancestor.type]] ??= ancestor.id;
  return described;
}

export interface TokenInfoDeps {
  db: Db;
  verifier: TokenVerifier;
  directory: ClientDirectory;
}

/** POST /oauth/token_info — Ed-Fi's token information endpoint. */
export function tokenInfoRoutes(router: Router, { db, verifier, directory }: TokenInfoDeps): void {
  router.post('/oauth/token_info', async (ctx) => {
    const presented = bearerToken(ctx.get('authorization') || undefined);
    const claims = await verifier.verify(presented);
    const client = await directory.find(claims.clientId);
    if (!client || client.disabled) throw invalidToken('the client behind this token is disabled');
    const { token } = await readParams(ctx);
    if (!token) throw new ApiError(400, 'invalid_request', 'send the same token as `token` in the body');
    if (token !== presented) throw new ApiError(400, 'invalid_request', 'the body token does not match the bearer token');
    ctx.set('Cache-Control', 'no-store');
    ctx.body = {
      active: true,
      client_id: client.clientId,
      tier: claims.tier,
      exp: claims.exp,
      schools: claims.schools,
      namespace_prefixes: client.namespacePrefixes,
      education_organizations: (await withAncestors(db, client.edorgIds)).map(describeEdorg),
      assigned_profiles: client.profiles,
      claim_set: { name: client.claimSet },
    };
  });
}
