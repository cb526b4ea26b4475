import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { runCli } from './helpers/app.js';

/** The shutdown bound the README documents: SIGTERM to exit. */
const shutdownBoundMs = 10_000;

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

/** `node dist/src/app/main.js` with its stdout on the write end of `stdoutFd`, answering /health. */
async function startEdgate(stdoutFd: number, nodeArgs: string[] = []): Promise<Edgate> {
  const port = await freePort();
  const env = { DATABASE_URL: `sqlite:${join(dir, `edgate-${port}.sqlite`)}`, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', PUBLIC_URL: 'http://edgate.test' };
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

describe('the edgate process when its log reader breaks or stalls', () => {
  it('exits within the shutdown bound when the log reader goes away while it shuts down', async () => {
    // Rounds run four at a time; each closes the read end a little later (before, during, after the last lines),
    // and every other round its reader has fallen behind, so the pipe is full and lines wait in the process.
    const round = async (n: number) => {
      const { readFd, writeFd } = pipe();
      const keepingUp = n % 2 === 0;
      const reader = keepingUp ? new Socket({ fd: readFd, readable: true, writable: false }).on('data', () => {}).on('error', () => {}) : undefined;
      const edgate = await startEdgate(writeFd);
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

  it('keeps answering, and counts the lines it drops, while nobody reads its log', async () => {
    const { readFd, writeFd } = pipe(); // the read end stays open and is never read
    const edgate = await startEdgate(writeFd);
    await runCli(['db', 'seed'], edgate.env);
    const created = JSON.parse((await runCli(['client', 'create', '--name', 'Unread', '--tier', 'premium', '--edorg', '255901', '--json'], edgate.env)).stdout);
    const tokenRequest = () =>
      fetch(`${edgate.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_id: created.client_id, client_secret: created.client_secret, grant_type: 'client_credentials' }),
      });

    // Each request logs its path: 1,000 requests on 4 KiB paths write about 4 MiB, the 64 KiB pipe 60 times over.
    const longPath = `/not-here/${'x'.repeat(4096)}`;
    for (let batch = 0; batch < 25; batch++) {
      const statuses = await Promise.all([
        ...Array.from({ length: 40 }, () => fetch(edgate.url + longPath).then((res) => res.status)),
        fetch(`${edgate.url}/health`).then((res) => res.status),
        tokenRequest().then((res) => res.status),
      ]);
      // Every request completes (the test timeout is the only time limit): the service never blocks on its log.
      expect(statuses.slice(-2)).toEqual([200, 200]);
      expect(statuses.slice(0, -2).every((status) => status === 404)).toBe(true);
    }

    const metrics = await (await fetch(`${edgate.url}/metrics`)).text();
    const stalled = Number(/^edgate_log_lines_dropped_total\{reason="stalled"\} (\d+)$/m.exec(metrics)?.[1]);
    expect(stalled).toBeGreaterThan(0);
    expect(metrics).toMatch(/^edgate_log_lines_dropped_total\{reason="broken"\} 0$/m);

    const { code, signal, ms } = await terminate(edgate);
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(ms).toBeLessThan(shutdownBoundMs);
    closeSync(readFd);
  }, 300_000);

  it('is killed at the shutdown bound even when its main thread is stuck in synchronous code', async () => {
    const { readFd, writeFd } = pipe();
    const reader = new Socket({ fd: readFd, readable: true, writable: false });
    reader.on('data', () => {});
    // The stand-in for sonic-boom's flushSync looping at exit: an 'exit' handler that never returns.
    const stuckAtExit = 'data:text/javascript,process.on("exit",()=>{for(;;);})';
    const edgate = await startEdgate(writeFd, ['--import', stuckAtExit]);
    const { code, signal, ms } = await terminate(edgate);
    reader.destroy();
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect(ms).toBeGreaterThanOrEqual(shutdownBoundMs - 500);
    // Generous: the watchdog's own timer is the bound; the rest is a shared machine's scheduling.
    expect(ms).toBeLessThan(shutdownBoundMs + 3_000);
  }, 180_000);
});
