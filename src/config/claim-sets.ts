import { readFileSync } from 'node:fs';

import { fromRoot } from './paths.js';

export type Action = 'create' | 'read' | 'update' | 'delete';
export type Strategy = 'none' | 'relationships' | 'ownership';
export type ClaimSets = Record<string, Record<string, Partial<Record<Action, Strategy>>>>;

/** Claim sets are data (config/claim-sets.json): claim set → resource → action → strategy. */
export function loadClaimSets(path = fromRoot('config', 'claim-sets.json')): ClaimSets {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  delete raw.$comment;
  return raw as ClaimSets;
}

/** The strategy for an action, or undefined when the claim set does not grant it. */
export function strategyFor(claimSets: ClaimSets, claimSet: string, resource: string, action: Action): Strategy | undefined {
  const set = claimSets[claimSet];
  return set?.[resource]?.[action] ?? set?.['*']?.[action];
}
