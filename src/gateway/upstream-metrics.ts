import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type UpstreamOutcome = 'ok' | 'upstream_error' | 'unavailable' | 'timeout' | 'circuit_open' | 'aborted' | 'client_error';

export interface UpstreamMetrics {
  duration: Histogram<'route'>;
  outcomes: Counter<'route' | 'outcome'>;
  circuitOpen: Gauge<'route'>;
}

/** One metric per registry, however many proxies share it (a test may build two apps on one). */
function single<M>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

export function upstreamMetrics(registry: Registry): UpstreamMetrics {
  const registers = [registry];
  return {
    duration: single(registry, 'edgate_upstream_request_duration_seconds', () =>
      new Histogram({
        name: 'edgate_upstream_request_duration_seconds',
        help: 'Time from sending a call to an upstream route until its response has been streamed to the client (or failed)',
        labelNames: ['route'],
        buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
    ),
    outcomes: single(registry, 'edgate_upstream_requests_total', () =>
      new Counter({
        name: 'edgate_upstream_requests_total',
        help: 'Calls to upstream routes by outcome (ok, upstream_error = a 5xx answer, unavailable, timeout, circuit_open, aborted mid-body, client_error)',
        labelNames: ['route', 'outcome'],
        registers,
      }),
    ),
    circuitOpen: single(registry, 'edgate_upstream_circuit_open', () =>
      new Gauge({ name: 'edgate_upstream_circuit_open', help: '1 while the route\'s circuit breaker is open or half-open, else 0', labelNames: ['route'], registers }),
    ),
  };
}
