import type { UpstreamRoute } from '../config/routes.js';

/**
 * What each API call costs against the daily cost quota: the one place route costs are declared.
 * The gateway runs before routing, so a route is matched by method and path pattern here
 * (`{name}` is one path segment). The README's cost table is this table.
 */
export interface RouteCost {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  cost: number;
  why: string;
}

export const routeCosts: readonly RouteCost[] = [
  { method: 'GET', path: '/data/v3/{project}/{resource}', cost: 5, why: 'collection read: a page of up to 500 items, filtered by reach' },
  { method: 'GET', path: '/data/v3/{project}/{resource}/deletes', cost: 5, why: 'tracked deletes: a page of up to 500, filtered by the reach each item had' },
  { method: 'GET', path: '/data/v3/{project}/{resource}/keyChanges', cost: 5, why: 'tracked key changes: a page of up to 500, filtered by reach' },
  { method: 'GET', path: '/data/v3/{project}/{resource}/partitions', cost: 1, why: 'page tokens for parallel readers; computed without a query' },
  { method: 'GET', path: '/data/v3/{project}/{resource}/{id}', cost: 1, why: 'item read by id' },
  { method: 'POST', path: '/data/v3/{project}/{resource}', cost: 2, why: 'upsert: validation, reference checks, a write' },
  { method: 'PUT', path: '/data/v3/{project}/{resource}/{id}', cost: 2, why: 'update: validation, reference checks, a write' },
  { method: 'DELETE', path: '/data/v3/{project}/{resource}/{id}', cost: 2, why: 'delete: dependency checks, a write' },
  { method: 'GET', path: '/stats/v1/attendance/summary', cost: 10, why: 'aggregate over every attendance event of a school' },
];

/** Anything under the gateway that the table does not name (including unknown paths). */
export const defaultCost = 1;

interface CompiledCost {
  method: string;
  pattern: RegExp;
  cost: number;
}

function compile({ method, path, cost }: RouteCost): CompiledCost {
  const segments = path.split('/').map((s) => (/^\{\w+\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  // Koa's router is not strict about a trailing slash, so neither is the price list.
  return { method, pattern: new RegExp(`^${segments.join('/')}/?$`), cost };
}

const compiled = routeCosts.map(compile);

/** A call to an upstream route: the route's own price for the method, else this table's. */
export function routeCostOf(route: UpstreamRoute, method: string, path: string): number {
  const verb = method === 'HEAD' ? 'GET' : method;
  return route.cost[method] ?? route.cost[verb] ?? costOf(method, path);
}

/** The cost of one call; HEAD is priced as the GET it mirrors. */
export function costOf(method: string, path: string): number {
  const verb = method === 'HEAD' ? 'GET' : method;
  return compiled.find((c) => c.method === verb && c.pattern.test(path))?.cost ?? defaultCost;
}
