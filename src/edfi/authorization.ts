import type { Knex } from 'knex';

import type { Action, ClaimSets, Strategy } from '../config/claim-sets.js';
import { strategiesFor } from '../config/claim-sets.js';
import { allow, deny, type Decision } from '../errors.js';
import type { ClientWithReach } from '../clients/directory.js';
import { securablesOf, type DocumentInfo } from './document-info.js';
import { parentInReach, valuesInReach, whereInReach, type Reach, type ReachDirection } from './reach.js';
import type { ResourceDeclaration } from './resource-declaration.js';
import type { StoredDocument } from './store.js';

/** Who is calling: the client record with its reach, and the schools the gateway approved for this request. */
export interface Caller {
  client: ClientWithReach;
  schools: number[];
}

/** One condition on the items of a collection a caller may read. */
export type ScopeFilter =
  | { kind: 'owned'; tokenIds: number[] }
  | { kind: 'reach'; reach: Reach; direction: ReachDirection }
  | { kind: 'namespace'; prefixes: string[] };

/** Which items of a collection the caller may read: those every filter admits (no filters: all of them). */
export interface CollectionScope {
  filters: ScopeFilter[];
}

/** The ODS/API's words for every authorisation refusal; hints and reasons follow them. */
const notAuthorized = 'Access to the requested data could not be authorized.';

const personProperty = { student: 'StudentUniqueId', staff: 'StaffUniqueId', contact: 'ContactUniqueId' } as const;

/**
 * The member a relationship check measured (`SchoolId`, `StudentUniqueId`), named as the ODS/API names it: a reference
 * with a role names its member after the role (`parentEducationOrganizationReference.educationOrganizationId` is
 * `ParentEducationOrganizationId`).
 */
function securedProperty(resource: ResourceDeclaration): string {
  if (resource.reach === 'student' || resource.reach === 'staff' || resource.reach === 'contact') return personProperty[resource.reach];
  const path = (resource.reach === 'edorgSelf' && resource.edorg?.parentPaths[0]) || resource.columns.edorg_id || 'educationOrganizationId';
  const [reference, leaf] = path.includes('.') ? path.split('.').slice(-2) : [undefined, path];
  const target = leaf.replace(/Id$/, '');
  const role = reference?.replace(/Reference$/, '').replace(new RegExp(`${target}$`, 'i'), '') ?? '';
  const name = `${role}${role ? target.charAt(0).toUpperCase() + target.slice(1) : target}Id`;
  return name[0].toUpperCase() + name.slice(1);
}

/** The ODS/API's reason for a relationship refusal, naming the client's assigned ed-orgs (the first ten). */
function noRelationship(caller: Caller, resource: ResourceDeclaration): string {
  const claims = caller.client.edorgIds;
  const listed = claims.length ? claims.slice(0, 10).join(', ') + (claims.length > 10 ? ', ...' : '') : 'none';
  return `No relationships have been established between the caller's education organization id ${claims.length === 1 ? 'claim' : 'claims'} (${listed}) and the resource item's '${securedProperty(resource)}' value.`;
}

/**
 * Claim sets decide the strategy per resource and action; the strategy decides what is checked.
 * Every outcome is a Decision; the handlers enforce() it, so HTTP mapping stays in one place.
 */
export class Authorizer {
  constructor(
    private readonly db: Knex,
    private readonly claimSets: ClaimSets,
  ) {}

  /** The strategies the caller's claim set grants (all must allow), or a refusal naming the claim set. */
  strategies(caller: Caller, resource: ResourceDeclaration, action: Action): Strategy[] | Decision {
    const strategies = strategiesFor(this.claimSets, caller.client.claimSet, resource, action);
    if (strategies) return strategies;
    return deny('authorization_denied', `${notAuthorized} The API client's assigned claim set (currently '${caller.client.claimSet}') does not permit ${action} on ${resource.name}.`);
  }

  /** Refuses early, before the body is read, when the claim set grants none of the actions at all. */
  anyOf(caller: Caller, resource: ResourceDeclaration, actions: Action[]): Decision {
    const refusals = actions.map((action) => this.strategies(caller, resource, action));
    return refusals.some((r) => Array.isArray(r)) ? allow : (refusals[0] as Decision);
  }

  private reachOf(caller: Caller): Reach {
    return { schools: caller.schools, edorgs: caller.client.edorgs, assigned: caller.client.edorgIds };
  }

  /** An existing item: may the caller read, update or delete it? Every strategy must allow; the first refusal answers. */
  async forStored(caller: Caller, resource: ResourceDeclaration, action: Action, stored: StoredDocument, db: Knex = this.db): Promise<Decision> {
    return this.everyStrategy(caller, resource, action, (strategy) => this.storedBy(strategy, caller, resource, action, stored, db));
  }

  /** Every strategy the claim set grants must allow, checked in order; the first refusal answers. */
  private async everyStrategy(caller: Caller, resource: ResourceDeclaration, action: Action, check: (strategy: Strategy) => Promise<Decision>): Promise<Decision> {
    const strategies = this.strategies(caller, resource, action);
    if (!Array.isArray(strategies)) return strategies;
    for (const strategy of strategies) {
      const decision = await check(strategy);
      if (!decision.ok) return decision;
    }
    return allow;
  }

  private async storedBy(strategy: Strategy, caller: Caller, resource: ResourceDeclaration, action: Action, stored: StoredDocument, db: Knex): Promise<Decision> {
    if (strategy === 'none') return allow;
    if (strategy === 'namespace') return this.namespaceDecision(caller, stored.securables.namespace, 'existing');
    if (strategy === 'ownership') return ownershipDecision(caller, stored.ownershipTokenId);
    if (resource.reach === 'none') return allow;
    const direction = directionOf(strategy);
    const query = db('edfi_documents as d').where('d.id', stored.id);
    // Deleting a person counts the associations deleted before it, as the ODS/API does: a school that removed a
    // student's enrolment may then remove the student it created. Every other check counts only what exists.
    const history = action === 'delete' ? 'includingDeletes' : 'current';
    const reach = this.reachOf(caller);
    const inReach =
      Boolean(await whereInReach(db, query, resource.reach, reach, history, direction).first('d.id')) &&
      (resource.reach !== 'edorgSelf' || action !== 'update' || (await parentInReach(db, stored.securables.edorg_id, reach)));
    return inReach ? allow : deny('authorization_denied', [notAuthorized, resource.denialHint].filter(Boolean).join(' '), [noRelationship(caller, resource)]);
  }

  /** The body being written (a create, or the new state of an update): may it exist for this caller? */
  async forIncoming(caller: Caller, resource: ResourceDeclaration, action: Action, info: DocumentInfo, db: Knex = this.db): Promise<Decision> {
    return this.everyStrategy(caller, resource, action, (strategy) => this.incomingBy(strategy, caller, resource, action, info, db));
  }

  private async incomingBy(strategy: Strategy, caller: Caller, resource: ResourceDeclaration, action: Action, info: DocumentInfo, db: Knex): Promise<Decision> {
    if (strategy === 'none') return allow;
    if (strategy === 'namespace') return resource.columns.namespace ? this.namespaceDecision(caller, info.columns.namespace, 'proposed') : allow;
    // An update keeps the item's token (checked on the stored item); a create stamps the caller's creator token on it.
    if (strategy === 'ownership') return action === 'create' ? creatorDecision(caller) : allow;
    // Reads only (loadClaimSets refuses it elsewhere); should it ever reach a write, it grants nothing.
    if (strategy === 'relationshipsInverted') return deny('authorization_denied', notAuthorized, [noRelationship(caller, resource)]);
    const inReach = await valuesInReach(db, resource.reach, securablesOf(info), this.reachOf(caller));
    return inReach ? allow : deny('authorization_denied', notAuthorized, [noRelationship(caller, resource)]);
  }

  private namespaceDecision(caller: Caller, namespace: string | null | undefined, which: 'proposed' | 'existing'): Decision {
    const value = namespace ?? '';
    const prefixes = caller.client.namespacePrefixes;
    if (prefixes.some((prefix) => namespaceUnder(value, prefix))) return allow;
    return deny(
      'namespace_not_permitted',
      `${notAuthorized} The ${which} 'Namespace' value of the data does not start with any of the caller's associated namespace prefixes (${prefixes.length ? prefixes.map((p) => `'${p}'`).join(', ') : 'none assigned'}).`,
    );
  }

  /** Which items of a collection the caller may read, as SQL filters; a refusal when the claim set denies reads. */
  async collectionScope(caller: Caller, resource: ResourceDeclaration): Promise<CollectionScope | Decision> {
    const strategies = this.strategies(caller, resource, 'read');
    if (!Array.isArray(strategies)) return strategies;
    const filters: ScopeFilter[] = [];
    for (const strategy of strategies) {
      if (strategy === 'ownership') filters.push({ kind: 'owned', tokenIds: caller.client.ownershipTokenIds });
      if (strategy === 'namespace') filters.push({ kind: 'namespace', prefixes: caller.client.namespacePrefixes });
      if (strategy === 'relationships' || strategy === 'relationshipsInverted') filters.push({ kind: 'reach', reach: this.reachOf(caller), direction: directionOf(strategy) });
    }
    return { filters };
  }
}

/** Which way a relationship strategy reaches through the ed-org tree. */
function directionOf(strategy: 'relationships' | 'relationshipsInverted'): ReachDirection {
  return strategy === 'relationshipsInverted' ? 'downAndUp' : 'down';
}

/** The strategy's name in the ODS/API's reasons, which the suites quote. */
const ownershipStrategyName = 'OwnershipBased';

/**
 * Ownership: the item's creator token must be one the caller holds. Integer ids are compared, never names; an item
 * with no token (the seed's, the SIS sync's) is reached by no client through this strategy.
 */
function ownershipDecision(caller: Caller, tokenId: number | null): Decision {
  if (tokenId === null) {
    return deny('ownership_uninitialized', `${notAuthorized} The item is not owned by the caller.`, [
      `The existing resource item has no 'CreatedByOwnershipTokenId' value assigned and thus will never be accessible to clients using the '${ownershipStrategyName}' authorization strategy.`,
    ]);
  }
  return caller.client.ownershipTokenIds.includes(tokenId) ? allow : deny('ownership_mismatch', `${notAuthorized} The item is not owned by the caller.`);
}

/** A create under ownership: the item will carry the caller's creator token, so the caller must have one. */
function creatorDecision(caller: Caller): Decision {
  if (caller.client.creatorTokenId !== null) return allow;
  return deny('ownership_uninitialized', `${notAuthorized} The item is not owned by the caller.`, [
    `The API client has no creator ownership token, so the item would never be accessible to clients using the '${ownershipStrategyName}' authorization strategy.`,
  ]);
}

/** Items whose creator token is among `tokenIds` (the alias's column); none, when the caller holds no token. */
export function whereOwned(query: Knex.QueryBuilder, column: string, tokenIds: number[]): void {
  // NULL is in no IN list, so untokened items stay out; an empty list reads nothing.
  if (!tokenIds.length) query.whereRaw('1 = 0');
  else query.whereIn(column, tokenIds);
}

/** Items whose namespace (the alias's column) starts with one of the prefixes, bound as values; none without prefixes. */
export function whereNamespaceUnder(query: Knex.QueryBuilder, column: string, prefixes: string[]): void {
  if (!prefixes.length) query.whereRaw('1 = 0');
  else query.where((q) => prefixes.forEach((prefix) => q.orWhere(column, 'like', `${prefix.replace(/[\\%_]/g, '\\$&')}%`)));
}

/**
 * A namespace is under a prefix when it is the prefix, or continues it at a path boundary:
 * `uri://ed-fi.org` admits `uri://ed-fi.org/Assessment` but not `uri://ed-fi.org.evil.example/…`.
 * (The ODS/API compares `Namespace LIKE prefix + '%'`, a plain prefix; edgate is stricter on purpose.)
 * A prefix that itself ends in `/` already marks its boundary.
 */
export function namespaceUnder(namespace: string, prefix: string): boolean {
  if (!prefix || !namespace.startsWith(prefix)) return false;
  return namespace.length === prefix.length || prefix.endsWith('/') || namespace[prefix.length] === '/';
}
