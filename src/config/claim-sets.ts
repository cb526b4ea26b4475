import { readFileSync } from 'node:fs';

import { fromRoot } from './paths.js';

export type Action = 'create' | 'read' | 'update' | 'delete';
export type Strategy = 'none' | 'relationships' | 'ownership' | 'namespace';
export type ClaimSets = Record<string, Record<string, Partial<Record<Action, Strategy>>>>;

/** Claim sets are data (config/claim-sets.json): claim set → resource → action → strategy. */
export function loadClaimSets(path = fromRoot('config', 'claim-sets.json')): ClaimSets {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  delete raw.$comment;
  return raw as ClaimSets;
}

/** The default entries of a claim set: `*descriptors` for every descriptor, `*` for every other resource. */
export const descriptorDefault = '*descriptors';
export const resourceDefault = '*';

/**
 * The strategy for an action, or undefined when the claim set does not grant it: the resource's own
 * entry, else the default for its kind (descriptors fall back to `*` when there is no `*descriptors`).
 */
export function strategyFor(claimSets: ClaimSets, claimSet: string, resource: { name: string; isDescriptor?: boolean }, action: Action): Strategy | undefined {
  const set = claimSets[claimSet];
  if (!set) return undefined;
  const own = set[resource.name];
  if (own) return own[action];
  const byKind = resource.isDescriptor ? (set[descriptorDefault] ?? set[resourceDefault]) : set[resourceDefault];
  return byKind?.[action];
}
