import { readFileSync } from 'node:fs';

import { fromRoot } from './paths.js';

export type Action = 'create' | 'read' | 'update' | 'delete';
export type Strategy = 'none' | 'relationships' | 'relationshipsInverted' | 'ownership' | 'namespace';
/** One strategy, or several that must all allow (`["namespace", "ownership"]`). */
export type StrategyEntry = Strategy | Strategy[];
export type ClaimSets = Record<string, Record<string, Partial<Record<Action, StrategyEntry>>>>;

/**
 * The order combined strategies are checked in, so a refusal names the first that fails as the ODS/API does: its
 * AND-combined strategies (namespace, ownership) before its OR-combined relationship strategies, which edgate's one
 * `relationships` stands for (`relationshipsInverted`: those ORed with their inverted twins, which reach up the tree).
 */
const checkOrder: Strategy[] = ['none', 'namespace', 'ownership', 'relationships', 'relationshipsInverted'];

/**
 * `relationshipsInverted` lets a school read what its district owns; the ODS/API grants it for reads of reference data
 * only, and a write under it would let a school change its district's course. Any other action refuses it at start.
 */
const readOnlyStrategies: Strategy[] = ['relationshipsInverted'];

const actions: Action[] = ['create', 'read', 'update', 'delete'];

/**
 * Refuses, at start, a claim set naming an unknown action or strategy, an empty list, `none` beside another
 * strategy (which would read as a grant of everything), or a read-only strategy on a write: a typo must not grant or
 * deny silently.
 */
function checkClaimSets(claimSets: ClaimSets): void {
  for (const [claimSet, resources] of Object.entries(claimSets)) {
    for (const [resource, granted] of Object.entries(resources)) {
      for (const [action, entry] of Object.entries(granted)) {
        const where = `claim set "${claimSet}", ${resource}.${action}`;
        if (!actions.includes(action as Action)) throw new Error(`${where}: unknown action`);
        const list = Array.isArray(entry) ? entry : [entry];
        if (!list.length) throw new Error(`${where}: no strategy`);
        const unknown = list.find((s) => !checkOrder.includes(s));
        if (unknown !== undefined) throw new Error(`${where}: unknown strategy "${unknown}"`);
        if (list.length > 1 && list.includes('none')) throw new Error(`${where}: "none" cannot be combined with another strategy`);
        const readOnly = list.find((s) => readOnlyStrategies.includes(s));
        if (readOnly !== undefined && action !== 'read') throw new Error(`${where}: "${readOnly}" is for reads only`);
      }
    }
  }
}

/** Claim sets are data (config/claim-sets.json): claim set → resource → action → strategy or strategies. */
export function loadClaimSets(path = fromRoot('config', 'claim-sets.json')): ClaimSets {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  delete raw.$comment;
  checkClaimSets(raw as ClaimSets);
  return raw as ClaimSets;
}

/** The default entries of a claim set: `*descriptors` for every descriptor, `*` for every other resource. */
export const descriptorDefault = '*descriptors';
export const resourceDefault = '*';

/**
 * The strategies for an action, every one of which must allow, in checking order; undefined when the claim set does
 * not grant the action. The resource's own entry counts, else the default for its kind (descriptors fall back to `*`
 * when there is no `*descriptors`).
 */
export function strategiesFor(claimSets: ClaimSets, claimSet: string, resource: { name: string; isDescriptor?: boolean }, action: Action): Strategy[] | undefined {
  const set = claimSets[claimSet];
  if (!set) return undefined;
  const own = set[resource.name];
  const entry = own ? own[action] : (resource.isDescriptor ? (set[descriptorDefault] ?? set[resourceDefault]) : set[resourceDefault])?.[action];
  if (entry === undefined) return undefined;
  const list = Array.isArray(entry) ? entry : [entry];
  return [...new Set(list)].sort((a, b) => checkOrder.indexOf(a) - checkOrder.indexOf(b));
}
