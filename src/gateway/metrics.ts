import { Counter, type Registry } from 'prom-client';

export type GatewayOutcome = 'admitted' | 'rate_limited' | 'cost_quota_exceeded' | 'unavailable' | 'revoked';

/** Calls that passed authentication, by tier and what the gateway did with them. */
export function gatewayCounter(registry: Registry): Counter<'tier' | 'outcome'> {
  return new Counter({
    name: 'edgate_gateway_requests_total',
    help: 'Authenticated API calls by client tier and gateway outcome (admitted, rate_limited, cost_quota_exceeded, unavailable, revoked)',
    labelNames: ['tier', 'outcome'],
    registers: [registry],
  });
}

/** Authentication refusals by code; accepted calls are the sum of the counter above. */
export function authenticationCounter(registry: Registry): Counter<'result'> {
  return new Counter({
    name: 'edgate_gateway_authentication_failures_total',
    help: 'Refused bearer tokens by error code (missing_token, invalid_token)',
    labelNames: ['result'],
    registers: [registry],
  });
}
