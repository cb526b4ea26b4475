import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../src/config/index.js';
import { routeFor } from '../src/config/routes.js';
import { routeCostOf } from '../src/gateway/costs.js';

function withRoutes(routes: unknown) {
  const file = join(mkdtempSync(join(tmpdir(), 'edgate-routes-')), 'config.json');
  writeFileSync(file, JSON.stringify({ routes }));
  return () => loadConfig({ EDGATE_CONFIG: file, PUBLIC_URL: 'https://edgate.example' });
}

describe('upstream routes in the config file', () => {
  it('has none by default: /data/ and /stats/ are served in-process', () => {
    expect(loadConfig({}).routes).toEqual([]);
  });

  it('reads the issue example with defaults for what it leaves out', () => {
    const [route] = withRoutes([{ prefix: '/stats/', upstream: 'http://127.0.0.1:5001', cost: { GET: 10 }, timeoutMs: 5000 }])().routes;
    expect(route).toMatchObject({ prefix: '/stats/', cost: { GET: 10 }, timeoutMs: 5000, passAuthorization: false, costHeader: false, audience: 'https://edgate.example/stats/' });
    expect(route.upstream.href).toBe('http://127.0.0.1:5001/');
    expect(route.circuit).toEqual({ volumeThreshold: 10, errorThresholdPercentage: 50, resetTimeoutMs: 10_000, windowMs: 10_000 });
  });

  it('matches the longest prefix first and prices by method, HEAD as GET, others from the cost table', () => {
    const { routes } = withRoutes([
      { prefix: '/reports/', upstream: 'http://a', cost: { GET: 7 } },
      { prefix: '/reports/heavy/', upstream: 'http://b', cost: { GET: 50 } },
    ])();
    expect(routeFor(routes, '/reports/heavy/x')?.upstream.host).toBe('b');
    expect(routeFor(routes, '/reports/x')?.upstream.host).toBe('a');
    expect(routeFor(routes, '/report')).toBeUndefined();
    const reports = routeFor(routes, '/reports/x')!;
    expect(routeCostOf(reports, 'HEAD', '/reports/x')).toBe(7);
    expect(routeCostOf(reports, 'POST', '/reports/x')).toBe(1);
  });

  it.each([
    [{ prefix: 'stats', upstream: 'http://a' }, /routes\[0\]: prefix/],
    [{ prefix: '/oauth/', upstream: 'http://a' }, /overlaps \/oauth\//],
    [{ prefix: '/stats/', upstream: 'ftp://a' }, /http: or https:/],
    [{ prefix: '/stats/', upstream: 'http://a', cost: { FETCH: 1 } }, /not an HTTP method/],
    [{ prefix: '/stats/', upstream: 'http://a', timeoutMs: 0 }, /timeoutMs must be an integer/],
    [{ prefix: '/stats/', upstream: 'http://a', retries: 3 }, /unknown key "retries"/],
  ])('refuses a bad route (%j)', (route, message) => {
    const load = withRoutes([route]);
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  it('refuses a prefix given twice', () => {
    expect(withRoutes([{ prefix: '/a/', upstream: 'http://a' }, { prefix: '/a/', upstream: 'http://b' }])).toThrow(/given twice/);
  });
});
