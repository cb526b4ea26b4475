import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { runCli } from './helpers/app.js';
import { engines, redisUrl } from './helpers/engines.js';

/** The shutdown bound the README documents: SIGTERM to exit. */
const shutdownBoundMs = 10_000;
/**
 * How long one /health or API call may take while the log is stalled or broken, 40 other requests in flight beside
 * it. A loop blocked on its log would never answer; this bound is a shared 2-core machine's scheduling, with room.
 */
const answerBoundMs = 3_000;

const dir = mkdtempSync(join(tmpdir(), 'edgate-log-outage-'));
const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

let fifos = 0;
/** A real pipe (a FIFO: 64 KiB, like a process manager's), its read end opened by the test. */
function pipe(): { readFd: number; writeFd: number } {
  const path = join(dir, `stdout-${fifos++}`);
  execFileSync('mkfifo', [path]);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return { readFd, writeFd: openSync(path, 'w') };
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

interface Edgate {
  child: ChildProcess;
  url: string;
  env: Record<string, string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  stderr(): string;
}

/** What every edgate of this file runs with, on a database of its own unless `database` names one. */
function edgateEnv(port: number, database = `sqlite:${join(dir, `edgate-${port}.sqlite`)}`): Record<string, string> {
  return { DATABASE_URL: database, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', PUBLIC_URL: 'http://edgate.test' };
}

/** `node dist/src/app/main.js` with its stdout on the write end of `stdoutFd`, answering /health. */
async function startEdgate(stdoutFd: number, { nodeArgs = [], env: extra = {} }: { nodeArgs?: string[]; env?: Record<string, string> } = {}): Promise<Edgate> {
  const port = await freePort();
  const env = { ...edgateEnv(port), ...extra, PORT: String(port) };
  const child = spawn(process.execPath, [...nodeArgs, fromRoot('dist', 'src', 'app', 'main.js')], { env: { ...process.env, ...env }, stdio: ['ignore', stdoutFd, 'pipe'] });
  started.push(child);
  closeSync(stdoutFd); // the child holds the write end now
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000; // a loaded machine can take many seconds
  for (;;) {
    const up = await fetch(`${url}/health`).then((res) => res.ok, () => false);
    if (up) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`edgate did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url, env, exited, stderr: () => stderr };
}

/** Sends SIGTERM and resolves with how the process ended and how long after the signal. */
async function terminate(edgate: Edgate, meanwhile: () => void = () => {}) {
  const sent = Date.now();
  edgate.child.kill('SIGTERM');
  meanwhile();
  const { code, signal, at } = await edgate.exited;
  return { code, signal, ms: at - sent };
}

/** A request's status and how long it took to answer, body included. */
async function timed(request: () => Promise<Response>): Promise<{ status: number; ms: number }> {
  const start = performance.now();
  const res = await request();
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - start };
}

/** The process's count of dropped log lines for one reason, from /metrics. */
async function dropped(edgate: Edgate, reason: 'stalled' | 'broken'): Promise<number> {
  const metrics = await (await fetch(`${edgate.url}/metrics`)).text();
  return Number(new RegExp(`^edgate_log_lines_dropped_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
}

// On MariaDB, with Redis when there is one: shutdown then also closes a connection pool and a Redis client.
describe.each(engines)('the edgate process on $name when its log reader breaks or stalls', (engine) => {
  let database: { url: string; drop(): Promise<void> } | undefined;
  /** The environment every edgate of this engine adds to its own (SQLite: one database file per process). */
  let shared: Record<string, string> = {};
  beforeAll(async () => {
    if (engine.name === 'sqlite') return;
    database = await engine.createDatabase();
    shared = { DATABASE_URL: database.url, ...(redisUrl ? { REDIS_URL: redisUrl, REDIS_PREFIX: `edgate-test:log-outage-${process.pid}:` } : {}) };
    // Migrated once here, so that processes starting together find nothing to migrate.
    await runCli(['db', 'migrate'], { ...edgateEnv(0), ...shared });
  }, 120_000);
  afterAll(async () => database?.drop());

  it('exits within the shutdown bound when the log reader goes away while it shuts down', async () => {
    // Rounds run four at a time; each closes the read end a little later (before, during, after the last lines),
    // and every other round its reader has fallen behind, so the pipe is full and lines wait in the process.
    const round = async (n: number) => {
      const { readFd, writeFd } = pipe();
      const keepingUp = n % 2 === 0;
      const reader = keepingUp ? new Socket({ fd: readFd, readable: true, writable: false }).on('data', () => {}).on('error', () => {}) : undefined;
      const edgate = await startEdgate(writeFd, { env: shared });
      // Requests in flight during shutdown keep log lines coming (4 KiB paths: 160 KiB, more than the pipe holds).
      const load = Array.from({ length: 40 }, () => fetch(`${edgate.url}/not-here/${'x'.repeat(4096)}`).catch(() => undefined));
      const { code, signal, ms } = await terminate(edgate, () => {
        setTimeout(() => (reader ? reader.destroy() : closeSync(readFd)), (n % 5) * 15);
      });
      await Promise.all(load);
      expect({ n, code, signal }, edgate.stderr()).toEqual({ n, code: 0, signal: null });
      expect(ms).toBeLessThan(shutdownBoundMs);
    };
    for (let batch = 0; batch < 5; batch++) await Promise.all([0, 1, 2, 3].map((i) => round(batch * 4 + i)));
  }, 900_000);

  it('keeps answering /health and API calls in bounded time, and counts the lines it drops, while nobody reads its log and after the reader goes away', async () => {
    const { readFd, writeFd } = pipe(); // the read end stays open, never read, until the last phase closes it
    const edgate = await startEdgate(writeFd, { env: shared });
    await runCli(['db', 'seed'], edgate.env);
    const created = JSON.parse((await runCli(['client', 'create', '--name', 'Unread', '--tier', 'premium', '--edorg', '255901', '--json'], edgate.env)).stdout);
    const tokenRequest = () =>
      fetch(`${edgate.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: created.client_id, client_secret: created.client_secret, grant_type: 'client_credentials' }),
      });
    const { access_token: token } = (await (await tokenRequest()).json()) as { access_token: string };

    // Each request logs its path: 40 requests on 4 KiB paths write 160 KiB, more than the 64 KiB pipe holds.
    const longPath = `/not-here/${'x'.repeat(4096)}`;
    const batch = async () => {
      const [health, tokens, students, ...others] = await Promise.all([
        timed(() => fetch(`${edgate.url}/health`)),
        timed(tokenRequest),
        timed(() => fetch(`${edgate.url}/data/v3/ed-fi/students`, { headers: { authorization: `Bearer ${token}` } })),
        ...Array.from({ length: 40 }, () => fetch(edgate.url + longPath).then((res) => res.status)),
      ]);
      expect([health.status, tokens.status, students.status]).toEqual([200, 200, 200]);
      expect(others.every((status) => status === 404)).toBe(true);
      return [health.ms, tokens.ms, students.ms];
    };

    // Fill the pipe and the 1 MiB the process queues behind it (some 260 KiB of lines a batch), then keep going.
    const stalledTimes: number[] = [];
    for (let n = 0; n < 15; n++) stalledTimes.push(...(await batch()));
    expect(await dropped(edgate, 'stalled')).toBeGreaterThan(0);
    expect(await dropped(edgate, 'broken')).toBe(0);

    // The reader goes away: the write waiting on the pipe fails (EPIPE), and every later line is dropped.
    closeSync(readFd);
    const brokenTimes: number[] = [];
    for (let n = 0; n < 5; n++) brokenTimes.push(...(await batch()));
    expect(await dropped(edgate, 'broken')).toBeGreaterThan(0);

    const slowest = (times: number[]) => Math.round(Math.max(...times));
    expect(slowest(stalledTimes), 'slowest /health or API answer while the log stalls, ms').toBeLessThan(answerBoundMs);
    expect(slowest(brokenTimes), 'slowest /health or API answer once the log is broken, ms').toBeLessThan(answerBoundMs);

    const { code, signal, ms } = await terminate(edgate);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(ms).toBeLessThan(shutdownBoundMs);
  }, 300_000);
});

describe('the edgate process when its main thread is stuck', () => {
  it('is killed at the shutdown bound even when its main thread is stuck in synchronous code', async () => {
    const { readFd, writeFd } = pipe();
    const reader = new Socket({ fd: readFd, readable: true, writable: false });
    reader.on('data', () => {});
    // The stand-in for sonic-boom's flushSync looping at exit: an 'exit' handler that never returns.
    const stuckAtExit = 'data:text/javascript,process.on("exit",()=>{for(;;);})';
    const edgate = await startEdgate(writeFd, { nodeArgs: ['--import', stuckAtExit] });
    const { code, signal, ms } = await terminate(edgate);
    reader.destroy();
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(ms).toBeGreaterThanOrEqual(shutdownBoundMs - 500);
    // Generous: the watchdog's own timer is the bound; the rest is a shared machine's scheduling.
    expect(ms).toBeLessThan(shutdownBoundMs + 3_000);
  }, 180_000);
});
