import type { IncomingHttpHeaders } from 'node:http';
import { Transform, pipeline as pipelineCallback, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Context, Next } from 'koa';
import CircuitBreaker from 'opossum';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Pool, type Dispatcher } from 'undici';

import type { Config } from '../config/index.js';
import { routeFor, type UpstreamRoute } from '../config/routes.js';
import { ApiError, errorCatalogue, problemOf } from '../errors.js';
import { bodyLimitBytes, payloadTooLarge } from '../http/body.js';
import type { Keyring } from '../keys/keyring.js';
import { assertionHeader, ClaimAssertions, type AssertedClaims } from './assertion.js';
import type { GatewayState } from './index.js';
import { upstreamMetrics, type UpstreamMetrics, type UpstreamOutcome } from './upstream-metrics.js';

/** RFC 9110 §7.6.1: meaningful for one connection only, never forwarded (plus `Expect`, which the proxy answers itself). */
const hopByHop = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

/** Request headers the proxy drops or sets itself; `authorization` is dropped unless the route asks for it. */
const notForwarded = new Set([...hopByHop, 'expect', 'host', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', assertionHeader]);

/** The upstream's cost report (opt-in per route), in the spirit of Kong's response-ratelimiting. */
export const costHeader = 'edgate-cost';

/** Response headers the gateway owns: its request id and rate-limit state win over the upstream's. */
const notReturned = new Set([...hopByHop, 'x-request-id', 'ratelimit', 'ratelimit-policy', costHeader]);

/** Answers that count as failures for the circuit breaker, as passive health checks count them. */
const failingStatuses = new Set([500, 502, 503, 504]);

/** Errors raised before a byte reached the upstream: its cost is given back. */
const connectFailures = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

type UpstreamFailure = 'upstream_unavailable' | 'upstream_timeout' | 'upstream_circuit_open';

/** A problem detail on whatever path the route has (it need not be under /data/): type and title from the catalogue. */
function problem(code: UpstreamFailure, detail: string, headers: Record<string, string> = {}): ApiError {
  const { status } = errorCatalogue[code];
  const { type, title } = problemOf(code, status);
  return new ApiError(code, detail, { type, title, status }, { 'Content-Type': 'application/problem+json', ...headers });
}

export function upstreamUnavailable(route: UpstreamRoute): ApiError {
  return problem('upstream_unavailable', `the service behind ${route.prefix} could not be reached`, { 'Retry-After': '1' });
}

export function upstreamTimeout(route: UpstreamRoute): ApiError {
  return problem('upstream_timeout', `the service behind ${route.prefix} did not answer within ${route.timeoutMs} ms`);
}

export function upstreamCircuitOpen(route: UpstreamRoute, retryAfterSeconds: number): ApiError {
  const detail = `the service behind ${route.prefix} is failing; calls are refused until it recovers`;
  return problem('upstream_circuit_open', detail, { 'Retry-After': String(retryAfterSeconds) });
}

/** A 5xx answer: a failure for the breaker, yet still the answer the client gets. */
class FailingAnswer extends Error {
  constructor(readonly answer: Dispatcher.ResponseData) {
    super(`upstream answered ${answer.statusCode}`);
  }
}

interface Failure {
  outcome: UpstreamOutcome;
  error: ApiError;
  neverReached: boolean;
}

/** Tokens named by a Connection header are hop-by-hop too. */
function connectionListed(value: string | string[] | undefined): Set<string> | undefined {
  return value ? new Set(String(value).toLowerCase().split(',').map((t) => t.trim())) : undefined;
}

/** Caps a chunked upload at the contract's body limit as it streams; a declared length was checked before. */
function capped(body: Readable): Readable {
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      done(seen > bodyLimitBytes ? payloadTooLarge() : null, chunk);
    },
  });
  return pipelineCallback(body, counter, () => undefined);
}

function requestBody(ctx: Context): Readable | undefined {
  const { 'content-length': length, 'transfer-encoding': chunked } = ctx.req.headers;
  if (length !== undefined) return length === '0' ? undefined : ctx.req;
  return chunked === undefined ? undefined : capped(ctx.req);
}

/** One upstream route: its connection pool, its circuit breaker, its metrics. */
class Upstream {
  private readonly pool: Pool;
  private readonly breaker: CircuitBreaker<[Dispatcher.RequestOptions], Dispatcher.ResponseData>;
  private readonly basePath: string;
  private openedAt = 0;

  constructor(
    readonly route: UpstreamRoute,
    private readonly metrics: UpstreamMetrics,
    private readonly logger: Logger,
  ) {
    this.basePath = route.upstream.pathname.replace(/\/$/, '');
    // Connecting is bounded separately and sooner: a host that does not answer SYNs is "unavailable", not "slow".
    this.pool = new Pool(route.upstream.origin, { connect: { timeout: Math.min(route.timeoutMs, 5000) } });
    const { circuit } = route;
    this.breaker = new CircuitBreaker((options) => this.send(options), {
      // The route's timeout is enforced by undici, which also aborts the request; opossum's would not.
      timeout: false,
      resetTimeout: circuit.resetTimeoutMs,
      errorThresholdPercentage: circuit.errorThresholdPercentage,
      volumeThreshold: circuit.volumeThreshold,
      rollingCountTimeout: circuit.windowMs,
      rollingPercentilesEnabled: false,
      // A body refused for its size is the client's fault, not the upstream's.
      errorFilter: (err: unknown) => err instanceof ApiError,
    });
    const gauge = metrics.circuitOpen.labels({ route: route.prefix });
    gauge.set(0);
    this.breaker.on('open', () => {
      this.openedAt = Date.now();
      gauge.set(1);
      logger.warn({ route: route.prefix }, 'upstream circuit opened');
    });
    this.breaker.on('close', () => {
      gauge.set(0);
      logger.info({ route: route.prefix }, 'upstream circuit closed');
    });
  }

  private async send(options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
    const answer = await this.pool.request(options);
    if (failingStatuses.has(answer.statusCode)) throw new FailingAnswer(answer);
    return answer;
  }

  /** Forwards the call and streams the answer back; failures are thrown as problem details. */
  async forward(ctx: Context, assertion: string): Promise<void> {
    const state = ctx.state as GatewayState;
    const started = performance.now();
    let answer: Dispatcher.ResponseData;
    try {
      answer = await this.breaker.fire(this.requestOptions(ctx, assertion));
    } catch (err) {
      if (!(err instanceof FailingAnswer)) {
        const failure = this.failure(err);
        this.observe(started, failure.outcome);
        if (failure.neverReached) await this.giveBack(state);
        throw failure.error;
      }
      answer = err.answer;
    }
    if (this.route.costHeader) this.recost(state, answer.headers[costHeader]);
    await this.stream(ctx, answer, started);
  }

  private requestOptions(ctx: Context, assertion: string): Dispatcher.RequestOptions {
    return {
      path: this.basePath + ctx.url,
      method: ctx.method as Dispatcher.HttpMethod,
      headers: this.forwardedHeaders(ctx, assertion),
      body: requestBody(ctx),
      // Until the answer's headers, then between body chunks: a long download that keeps flowing is not cut.
      headersTimeout: this.route.timeoutMs,
      bodyTimeout: this.route.timeoutMs,
    };
  }

  private forwardedHeaders(ctx: Context, assertion: string): Record<string, string | string[]> {
    const incoming: IncomingHttpHeaders = ctx.req.headers;
    const listed = connectionListed(incoming.connection);
    const headers: Record<string, string | string[]> = {};
    for (const name in incoming) {
      const value = incoming[name];
      if (value === undefined || notForwarded.has(name) || listed?.has(name)) continue;
      if (name === 'authorization' && !this.route.passAuthorization) continue;
      headers[name] = value;
    }
    const client = ctx.req.socket.remoteAddress ?? 'unknown';
    const prior = incoming['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${String(prior)}, ${client}` : client;
    headers['x-forwarded-proto'] = ctx.protocol;
    if (incoming.host) headers['x-forwarded-host'] = incoming.host;
    headers['x-request-id'] = ctx.state.requestId as string;
    headers[assertionHeader] = assertion;
    return headers;
  }

  /** The answer's status and headers, then its body piped with backpressure: nothing is buffered whole. */
  private async stream(ctx: Context, answer: Dispatcher.ResponseData, started: number): Promise<void> {
    const res = ctx.res;
    const listed = connectionListed(answer.headers.connection);
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value === undefined || notReturned.has(name) || listed?.has(name)) continue;
      res.setHeader(name, value);
    }
    // Koa would re-frame a stream body (dropping Content-Length); the proxy writes the response itself.
    ctx.respond = false;
    res.writeHead(answer.statusCode);
    try {
      await pipeline(answer.body, res);
      this.observe(started, answer.statusCode >= 500 ? 'upstream_error' : 'ok');
    } catch (err) {
      // Headers are gone: the only honest signal left is cutting the connection.
      this.observe(started, 'aborted');
      this.logger.warn({ route: this.route.prefix, reqId: ctx.state.requestId, err: (err as Error).message }, 'upstream response broken off mid-body');
      res.destroy();
    }
  }

  private failure(err: unknown): Failure {
    if (err instanceof ApiError) return { outcome: 'client_error', error: err, neverReached: false };
    const code = (err as { code?: string }).code ?? '';
    if (code === 'EOPENBREAKER') {
      const left = this.route.circuit.resetTimeoutMs - (Date.now() - this.openedAt);
      return { outcome: 'circuit_open', error: upstreamCircuitOpen(this.route, Math.max(1, Math.ceil(left / 1000))), neverReached: true };
    }
    if (code === 'UND_ERR_HEADERS_TIMEOUT') return { outcome: 'timeout', error: upstreamTimeout(this.route), neverReached: false };
    this.logger.warn({ route: this.route.prefix, code, err: (err as Error).message }, 'upstream call failed');
    return { outcome: 'unavailable', error: upstreamUnavailable(this.route), neverReached: connectFailures.has(code) };
  }

  private async giveBack(state: GatewayState): Promise<void> {
    await state.adjustCost(state.cost).catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'could not give back the cost of an unreached call'));
  }

  /** The upstream's own price of the call replaces the route's: the difference is given back or charged. */
  private recost(state: GatewayState, reported: string | string[] | undefined): void {
    const value = typeof reported === 'string' && /^\d{1,7}$/.test(reported.trim()) ? Number(reported) : undefined;
    if (value === undefined || value === state.cost) return;
    void state.adjustCost(state.cost - value).catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'could not apply an upstream-reported cost'));
  }

  private observe(started: number, outcome: UpstreamOutcome): void {
    this.metrics.duration.observe({ route: this.route.prefix }, (performance.now() - started) / 1000);
    this.metrics.outcomes.inc({ route: this.route.prefix, outcome });
  }

  async close(): Promise<void> {
    this.breaker.shutdown();
    await this.pool.close();
  }
}

export interface ProxyDeps {
  config: Pick<Config, 'routes' | 'publicUrl'>;
  keyring: Keyring;
  metrics: { registry: Registry };
  logger: Logger;
}

/**
 * The configured upstream routes as one middleware, mounted after the gateway: a call under a
 * route's prefix is forwarded (with the gateway's claims and a signed assertion of them), any
 * other call goes on to the in-process handlers.
 */
export function upstreamProxy({ config, keyring, metrics, logger }: ProxyDeps) {
  const measured = upstreamMetrics(metrics.registry);
  const upstreams = new Map(config.routes.map((route) => [route.prefix, new Upstream(route, measured, logger)]));
  const assertions = new ClaimAssertions(keyring, config.publicUrl);
  const middleware = async (ctx: Context, next: Next): Promise<void> => {
    const route = routeFor(config.routes, ctx.path);
    if (!route) return next();
    ctx.state.route = `${route.prefix}*`;
    const { claims } = ctx.state as Partial<GatewayState>;
    if (!claims) throw new Error(`upstream route ${route.prefix} reached without the gateway in front`);
    const asserted: AssertedClaims = { clientId: claims.clientId, tier: claims.tier, schools: claims.schools };
    const assertion = assertions.cached(route.audience, asserted) ?? (await assertions.assertion(route.audience, asserted));
    await upstreams.get(route.prefix)!.forward(ctx, assertion);
  };
  return Object.assign(middleware, { close: () => Promise.all([...upstreams.values()].map((u) => u.close())).then(() => undefined) });
}
