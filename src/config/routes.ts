/**
 * Upstream routes from the config file's `routes` key: a path prefix the gateway forwards to
 * another process, after the same authentication, limits and school claims as in-process routes.
 * Without a route for a prefix, /data/ and /stats/ are served in-process.
 */
export interface CircuitSettings {
  /** Calls within the window before the breaker may open: a couple of failures alone do not trip it. */
  volumeThreshold: number;
  /** Percentage of failed calls in the window above which the breaker opens. */
  errorThresholdPercentage: number;
  /** How long an open breaker answers 503 before letting one trial call through. */
  resetTimeoutMs: number;
  /** The rolling window failures are counted over. */
  windowMs: number;
}

export interface UpstreamRoute {
  /** Path prefix, starting and ending with '/'; the longest matching prefix wins. */
  prefix: string;
  /** Base URL of the upstream; the request's path and query are appended unchanged. */
  upstream: URL;
  /** Cost per method against the daily cost quota; a method not named costs what src/gateway/costs.ts says. */
  cost: Partial<Record<string, number>>;
  /** Waiting for the upstream's response headers, and between body chunks, longer than this → 504. */
  timeoutMs: number;
  /** The client's Authorization header is dropped unless this is set: the upstream gets the signed assertion instead. */
  passAuthorization: boolean;
  /** `aud` of the claims assertion; the upstream checks it so an assertion for one route is refused by another. */
  audience: string;
  /** Honour the upstream's `Edgate-Cost` response header (its own price of the call). */
  costHeader: boolean;
  circuit: CircuitSettings;
}

export class RouteConfigError extends Error {}

/** Paths that are not API calls; a route may not take them over. */
const reservedPrefixes = ['/oauth/', '/.well-known/', '/api/', '/metadata/', '/health', '/ready', '/metrics', '/portal/'];

const methods = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export const defaultCircuit: CircuitSettings = { volumeThreshold: 10, errorThresholdPercentage: 50, resetTimeoutMs: 10_000, windowMs: 10_000 };

/** Ten seconds: well past a healthy upstream's answer, well short of a client's own timeout. */
const defaultTimeoutMs = 10_000;

function fail(index: number, message: string): never {
  throw new RouteConfigError(`routes[${index}]: ${message}`);
}

function positiveInt(index: number, name: string, raw: unknown, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min) fail(index, `${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return raw;
}

function parsePrefix(index: number, raw: unknown): string {
  if (typeof raw !== 'string' || !/^\/([A-Za-z0-9._~-]+\/)+$/.test(raw)) fail(index, `prefix must look like "/name/" (start and end with "/"), got ${JSON.stringify(raw)}`);
  const taken = reservedPrefixes.find((r) => raw.startsWith(r) || r.startsWith(raw));
  if (taken) fail(index, `prefix ${raw} overlaps ${taken}, which is not an API path`);
  return raw;
}

function parseUpstream(index: number, raw: unknown): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    fail(index, `upstream must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(index, `upstream must be http: or https:, got ${url.protocol}`);
  if (url.search || url.hash || url.username) fail(index, 'upstream is a base URL: no query, fragment or credentials');
  return url;
}

function parseCost(index: number, raw: unknown): Partial<Record<string, number>> {
  if (raw === undefined) return {};
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) fail(index, 'cost must be an object of method → cost, e.g. {"GET":10}');
  const cost: Partial<Record<string, number>> = {};
  for (const [method, value] of Object.entries(raw)) {
    if (!methods.has(method)) fail(index, `cost names ${method}, not an HTTP method (${[...methods].join(', ')})`);
    cost[method] = positiveInt(index, `cost.${method}`, value, 0, 0);
  }
  return cost;
}

function parseCircuit(index: number, raw: unknown): CircuitSettings {
  if (raw === undefined) return defaultCircuit;
  if (!raw || typeof raw !== 'object') fail(index, 'circuit must be an object');
  const c = raw as Partial<Record<keyof CircuitSettings, unknown>>;
  return {
    volumeThreshold: positiveInt(index, 'circuit.volumeThreshold', c.volumeThreshold, defaultCircuit.volumeThreshold),
    errorThresholdPercentage: positiveInt(index, 'circuit.errorThresholdPercentage', c.errorThresholdPercentage, defaultCircuit.errorThresholdPercentage),
    resetTimeoutMs: positiveInt(index, 'circuit.resetTimeoutMs', c.resetTimeoutMs, defaultCircuit.resetTimeoutMs),
    windowMs: positiveInt(index, 'circuit.windowMs', c.windowMs, defaultCircuit.windowMs),
  };
}

function parseRoute(index: number, raw: unknown, publicUrl: string): UpstreamRoute {
  if (!raw || typeof raw !== 'object') fail(index, 'a route is an object {prefix, upstream, cost, timeoutMs}');
  const r = raw as Record<string, unknown>;
  const known = new Set(['prefix', 'upstream', 'cost', 'timeoutMs', 'passAuthorization', 'audience', 'costHeader', 'circuit']);
  const unknown = Object.keys(r).find((k) => !known.has(k));
  if (unknown) fail(index, `unknown key "${unknown}" (known: ${[...known].join(', ')})`);
  const prefix = parsePrefix(index, r.prefix);
  if (r.audience !== undefined && (typeof r.audience !== 'string' || !r.audience)) fail(index, 'audience must be a non-empty string');
  return {
    prefix,
    upstream: parseUpstream(index, r.upstream),
    cost: parseCost(index, r.cost),
    timeoutMs: positiveInt(index, 'timeoutMs', r.timeoutMs, defaultTimeoutMs),
    passAuthorization: r.passAuthorization === true,
    audience: (r.audience as string | undefined) ?? `${publicUrl}${prefix}`,
    costHeader: r.costHeader === true,
    circuit: parseCircuit(index, r.circuit),
  };
}

/** The routes, longest prefix first so the first match is the most specific. */
export function parseRoutes(raw: unknown, publicUrl: string): UpstreamRoute[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new RouteConfigError('routes must be a list of {prefix, upstream, cost, timeoutMs}');
  const routes = raw.map((r, i) => parseRoute(i, r, publicUrl));
  const seen = new Set<string>();
  for (const route of routes) {
    if (seen.has(route.prefix)) throw new RouteConfigError(`routes: prefix ${route.prefix} is given twice`);
    seen.add(route.prefix);
  }
  return routes.sort((a, b) => b.prefix.length - a.prefix.length);
}

/** The route serving a path, if any. */
export function routeFor(routes: readonly UpstreamRoute[], path: string): UpstreamRoute | undefined {
  for (const route of routes) if (path.startsWith(route.prefix)) return route;
  return undefined;
}
