import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';

import { fromRoot } from '../src/config/paths.js';

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
  const scenarios = ['tokens', 'gateway', 'edfi', 'sis'];
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
  return `node ${process.version}, ${(globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? '?'} cpus`;
}

/** A server under test in its own process, so the load generator's CPU is not counted as its CPU. */
export interface ServerProcess {
  url: string;
  /** user + system CPU the server process has used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

type Message = { url?: string; cpuMicros?: number; error?: string };

function nextMessage(child: ChildProcess, pick: (m: Message) => boolean): Promise<Message> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Message) => {
      if (m.error) return done(() => reject(new Error(m.error)));
      if (pick(m)) done(() => resolve(m));
    };
    const onExit = (code: number | null) => done(() => reject(new Error(`server process exited (${code})`)));
    const done = (settle: () => void) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      settle();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Forks `modulePath` with `args`; the module calls `serveToParent(url)` once it listens. */
export async function forkServer(modulePath: string, args: string[]): Promise<ServerProcess> {
  const child = fork(modulePath, args, { stdio: 'inherit' });
  const { url } = await nextMessage(child, (m) => typeof m.url === 'string');
  return {
    url: url!,
    async cpuMicros() {
      const answer = nextMessage(child, (m) => typeof m.cpuMicros === 'number');
      child.send({ cpu: true });
      return (await answer).cpuMicros!;
    },
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The child's side of forkServer: report the URL, answer CPU questions, stop on SIGTERM. */
export function serveToParent(url: string, stop: () => Promise<void> = async () => {}): void {
  process.on('message', (m: { cpu?: boolean }) => {
    if (!m.cpu) return;
    const { user, system } = process.cpuUsage();
    process.send!({ cpuMicros: user + system });
  });
  process.once('SIGTERM', () => void stop().finally(() => process.exit(0)));
  process.send!({ url });
}

export function failToParent(err: unknown): void {
  process.send?.({ error: err instanceof Error ? err.stack ?? err.message : String(err) });
  process.exit(1);
}

export type Measured = Figure & { serverCpuMicrosPerRequest: number };

/** One load against a forked server, with the server's CPU time per request. */
export async function loadWithCpu(label: string, server: ServerProcess, options: Omit<LoadOptions, 'url'> & { path: string }): Promise<Measured> {
  const before = await server.cpuMicros();
  const figure = await load(label, { ...options, url: server.url + options.path });
  const used = (await server.cpuMicros()) - before;
  return { ...figure, serverCpuMicrosPerRequest: figure.requests ? Math.round(used / figure.requests) : 0 };
}

/** Median of a number list; used for CPU-per-request across rounds. */
export function medianOf(values: number[]): number {
  return median(values);
}
