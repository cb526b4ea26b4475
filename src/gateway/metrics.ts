import { Counter, type Registry } from 'prom-client';

export type GatewayOutcome = 'admitted' | 'rate_limited' | 'cost_quota_exceeded' | 'unavailable' | 'revoked';

/** One counter per registry, however many gateways share it (the benchmark builds two). */
function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/** Calls that passed authentication, by tier and what the gateway did with them. */
export function gatewayCounter(registry: Registry): Counter<'tier' | 'outcome'> {
  const help = 'Authenticated API calls by client tier and gateway outcome (admitted, rate_limited, cost_quota_exceeded, unavailable, revoked)';
  return counter(registry, 'edgate_gateway_requests_total', help, ['tier', 'outcome']);
}

/** Authentication refusals by code; accepted calls are the sum of the counter above. */
export function authenticationCounter(registry: Registry): Counter<'result'> {
  return counter(registry, 'edgate_gateway_authentication_failures_total', 'Refused bearer tokens by error code (missing_token, invalid_token)', ['result']);
}
