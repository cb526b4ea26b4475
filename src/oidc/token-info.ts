import type Router from '@koa/router';

import { edfiTypeNames, withAncestors, type EdorgWithAncestors } from '../db/edorgs.js';
import type { Db } from '../db/knex.js';
import type { EdorgType } from '../db/tables.js';
import { loadClaimSets, strategiesFor, type Action, type ClaimSets } from '../config/claim-sets.js';
import { ApiError } from '../errors.js';
import { bearerToken, invalidToken, type TokenVerifier } from '../gateway/verifier.js';
import { readParams } from '../http/body.js';
import { tokenInfoPath } from './paths.js';
import type { ClientDirectory } from '../clients/directory.js';

const idKey: Record<EdorgType, string> = {
  sea: 'state_education_agency_id',
  esc: 'education_service_center_id',
  lea: 'local_education_agency_id',
  school: 'school_id',
  postsecondary: 'post_secondary_institution_id',
  network: 'education_organization_network_id',
  community_org: 'community_organization_id',
  community_provider: 'community_provider_id',
  department: 'organization_department_id',
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
  /** The Ed-Fi resources served, for the `resources` list: claim sets may grant by kind. */
  resources?: Array<{ name: string; project?: string; isDescriptor?: boolean }>;
  claimSets?: ClaimSets;
}

const operationNames: Record<Action, string> = { create: 'Create', read: 'Read', update: 'Update', delete: 'Delete' };

/** What the client's claim set lets it do, per resource, in the ODS/API's shape. */
function resourcesOf(claimSets: ClaimSets, claimSet: string, resources: NonNullable<TokenInfoDeps['resources']>) {
  return resources.flatMap((resource) => {
    const operations = (Object.keys(operationNames) as Action[]).filter((action) => strategiesFor(claimSets, claimSet, resource, action)).map((a) => operationNames[a]);
    return operations.length ? [{ resource: `/${resource.project ?? 'ed-fi'}/${resource.name}`, operations }] : [];
  });
}

/** The body's token, whatever the case of its name (`token`, `Token`), as the ODS/API binds it. */
function bodyToken(params: Record<string, string>): string | undefined {
  const key = Object.keys(params).find((k) => k.toLowerCase() === 'token');
  return key === undefined ? undefined : params[key];
}

/** POST /oauth/token_info — Ed-Fi's token information endpoint; its errors are problem details, as the ODS/API's. */
export function tokenInfoRoutes(router: Router, { db, verifier, directory, resources = [], claimSets = loadClaimSets() }: TokenInfoDeps): void {
  router.post(tokenInfoPath, async (ctx) => {
    const token = bodyToken(await readParams(ctx));
    if (!token) {
      throw new ApiError('invalid_request', 'An invalid token was provided', { errors: ['The token was not present, or was not processable as a GUID value.'] });
    }
    const presented = bearerToken(ctx.get('authorization') || undefined);
    if (token !== presented) {
      throw new ApiError('invalid_request', 'The authentication token and the token to inspect must match.', {
        errors: ['The authentication token (header) and the token to inspect in the body must match.'],
      });
    }
    const claims = await verifier.verify(presented);
    const client = await directory.find(claims.clientId);
    if (!client || client.disabled) throw invalidToken('the client behind this token is disabled');
    ctx.set('Cache-Control', 'no-store');
    // The assigned ed-orgs first, then everything beneath them (as DMS lists them), each with its ancestor ids.
    const beneath = client.edorgs.filter((id) => !client.edorgIds.includes(id));
    ctx.body = {
      active: true,
      client_id: client.clientId,
      tier: claims.tier,
      exp: claims.exp,
      schools: claims.schools,
      namespace_prefixes: client.namespacePrefixes,
      education_organizations: [...(await withAncestors(db, client.edorgIds)), ...(await withAncestors(db, beneath))].map(describeEdorg),
      assigned_profiles: client.profiles,
      claim_set: { name: client.claimSet },
      resources: resourcesOf(claimSets, client.claimSet, resources),
      services: [{ service: 'attendance-statistics', operations: ['Read'] }],
    };
  });
}
