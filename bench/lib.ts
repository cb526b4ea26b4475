import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import autocannon from 'autocannon';
import { importJWK, SignJWT } from 'jose';
import type { Knex } from 'knex';

import { fromRoot } from '../src/config/paths.js';
import type { Keyring } from '../src/keys/keyring.js';
import { signingAlg } from '../src/keys/signing-keys.js';

/** One measured load: autocannon's median-ish figures, kept small and comparable. */
export interface Figure {
  label: string;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
}

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  body?: string;
  connections?: number;
  durationSec?: number;
  /** Builds each request (e.g. a new body per request); autocannon's `requests` hook. */
  setupRequest?: (req: autocannon.Request) => autocannon.Request;
}

export async function load(label: string, options: LoadOptions): Promise<Figure> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    connections: options.connections ?? 10,
    duration: options.durationSec ?? 10,
    requests: options.setupRequest ? [{ setupRequest: options.setupRequest }] : undefined,
  });
  return {
    label,
    requestsPerSec: Math.round(result.requests.average),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Machines are noisy: run subject and baseline alternately `rounds` times in the same process and
 * keep the median round of each, so a slow moment hurts both sides alike.
 */
export async function compare(rounds: number, subject: () => Promise<Figure>, baseline: () => Promise<Figure>) {
  const subjects: Figure[] = [];
  const baselines: Figure[] = [];
  for (let i = 0; i < rounds; i++) {
    subjects.push(await subject());
    baselines.push(await baseline());
  }
  const pick = (figures: Figure[]) => {
    const m = median(figures.map((f) => f.requestsPerSec));
    return figures.find((f) => f.requestsPerSec === m)!;
  };
  const s = pick(subjects);
  const b = pick(baselines);
  return { subject: s, baseline: b, ratio: Math.round((s.requestsPerSec / b.requestsPerSec) * 1000) / 1000, rounds: { subjects, baselines } };
}

export interface Report {
  scenario: string;
  date: string;
  machine: string;
  rows: Array<Record<string, string | number>>;
  [extra: string]: unknown;
}

/** Writes bench/results/<scenario>.json and regenerates bench/results/README.md from every JSON there. */
export function writeReport(report: Report): void {
  const dir = fromRoot('bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/${report.scenario}.json`, JSON.stringify(report, null, 2) + '\n');
  const scenarios = ['tokens', 'gateway', 'gateway-proxied', 'edfi', 'changes', 'sis', 'usage', 'startup', 'scale'];
  const sections = scenarios.flatMap((name) => {
    try {
      const r = JSON.parse(readFileSync(`${dir}/${name}.json`, 'utf8')) as Report;
      return [`## ${name}\n\n${r.date} · ${r.machine}\n\n${markdownTable(r.rows)}\n`];
    } catch {
      return [];
    }
  });
  writeFileSync(`${dir}/README.md`, `# Benchmark results\n\nWritten by \`npm run bench\`; medians of alternating rounds.\n\n${sections.join('\n')}`);
  console.log(markdownTable(report.rows));
}

export function markdownTable(rows: Array<Record<string, string | number>>): string {
  if (!rows.length) return '(no rows)';
  const columns = Object.keys(rows[0]);
  return [`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${columns.map((c) => r[c] ?? '').join(' | ')} |`)].join('\n');
}

export function machine(): string {
  return `node ${process.version}, ${availableParallelism()} cpus, ${Math.round(totalmem() / 2 ** 30)} GiB`;
}

/** A server under test in its own process, so the load generator's CPU is not counted as its CPU. */
export interface ServerProcess<Ready> {
  /** What the server reported once it listened (URLs, credentials). */
  ready: Ready;
  /** user + system CPU the server process has used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  /** Sends a request to the server process and waits for the answer `pick` recognises. */
  ask<T>(message: object, pick: (answer: Record<string, unknown>) => T | undefined): Promise<T>;
  stop(): Promise<void>;
}

function nextMessage<T>(child: ChildProcess, pick: (m: Record<string, unknown>) => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (typeof m.error === 'string') return settle(() => reject(new Error(m.error as string)));
      const value = pick(m);
      if (value !== undefined) settle(() => resolve(value));
    };
    const onExit = (code: number | null) => settle(() => reject(new Error(`server process exited (${code})`)));
    const settle = (done: () => void) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      done();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Forks `modulePath` with `args`; the module calls `serveToParent(ready)` once it listens. */
export async function forkServer<Ready>(modulePath: string, args: string[]): Promise<ServerProcess<Ready>> {
  const child = fork(modulePath, args, { stdio: 'inherit' });
  const ready = await nextMessage(child, (m) => m.ready as Ready | undefined);
  const ask = <T>(message: object, pick: (answer: Record<string, unknown>) => T | undefined) => {
    const answer = nextMessage(child, pick);
    child.send(message);
    return answer;
  };
  return {
    ready,
    ask,
    cpuMicros: () => ask({ cpu: true }, (m) => m.cpuMicros as number | undefined),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/**
 * The child's side of forkServer: report `ready`, answer CPU questions and any other request
 * through `answer`, and stop cleanly on SIGTERM.
 */
export function serveToParent(ready: object, options: { stop?: () => Promise<void>; answer?: (m: Record<string, unknown>) => Promise<object | undefined> } = {}): void {
  process.on('message', (m: Record<string, unknown>) => {
    if (m.cpu) return void process.send!({ cpuMicros: cpuMicros() });
    void options.answer?.(m).then((reply) => reply && process.send!(reply), failToParent);
  });
  process.once('SIGTERM', () => void (options.stop ?? (async () => {}))().finally(() => process.exit(0)));
  process.send!({ ready });
}

export function failToParent(err: unknown): void {
  process.send?.({ error: err instanceof Error ? err.stack ?? err.message : String(err) });
  process.exit(1);
}

export type Measured = Figure & { serverCpuMicrosPerRequest: number; generatorCpuMicrosPerRequest: number };

/** One load against a forked server, with its CPU time per request and the load generator's. */
export async function loadWithCpu(server: ServerProcess<unknown>, label: string, options: LoadOptions): Promise<Measured> {
  const before = await server.cpuMicros();
  const generatorBefore = cpuMicros();
  const figure = await load(label, options);
  const generator = cpuMicros() - generatorBefore;
  const used = (await server.cpuMicros()) - before;
  const perRequest = (micros: number) => (figure.requests ? Math.round((micros / figure.requests) * 10) / 10 : 0);
  return { ...figure, serverCpuMicrosPerRequest: perRequest(used), generatorCpuMicrosPerRequest: perRequest(generator) };
}

/** Median of a number list; used for CPU-per-request across rounds. */
export function medianOf(values: number[]): number {
  return median(values);
}

/** The client the benchmarks' hand-signed tokens name: the gateway refuses tokens for clients it does not know. */
export const benchClientId = 'bench-client';

/**
 * An access token for the benchmarks' client, signed with the server's current key as its issuer would sign it, so a
 * load run needs no token round trip. Register the client first (`registerBenchClient`).
 */
export async function benchToken(keyring: Keyring, issuer: string, schools: string[]): Promise<string> {
  const jwk = keyring.current.privateJwks[0];
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ client_id: benchClientId, tier: 'bench', schools, jti: randomUUID() })
    .setProtectedHeader({ alg: signingAlg, typ: 'at+jwt', kid: jwk.kid })
    .setIssuer(issuer)
    .setAudience(issuer)
    .setSubject(benchClientId)
    .setIssuedAt(now)
    .setExpirationTime(now + 3600)
    .sign(await importJWK(jwk, signingAlg));
}

/** Registers the benchmarks' client (tier `bench`), once per database. */
export async function registerBenchClient(db: Knex): Promise<void> {
  if (await db('clients').where({ client_id: benchClientId }).first()) return;
  const now = Date.now();
  await db('clients').insert({
    client_id: benchClientId,
    name: 'benchmark',
    secret_hash: 'none: its tokens are signed by the benchmark itself',
    tier: 'bench',
    claim_set: 'SIS Vendor',
    namespace_prefixes: '[]',
    profiles: '[]',
    disabled: false,
    created_at: now,
    updated_at: now,
  });
}
