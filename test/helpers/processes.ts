import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

import { fromRoot } from '../../src/config/paths.js';

/** A server the tests run as its own process, as an operator would: real sockets, real signals. */
export interface ServiceProcess {
  url: string;
  port: number;
  pid: number;
  logs(): string;
  /** Its exit code (null when a signal ended it), once it has exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts `node <args>` and waits for the first `"port":N` it prints (edgate's listening log line). */
export async function startProcess(args: string[], env: Record<string, string> = {}): Promise<ServiceProcess> {
  const child: ChildProcess = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.on('data', (chunk) => (logs += chunk));
  child.stderr!.on('data', (chunk) => (logs += chunk));
  // Generous: on a loaded machine a Node process can take tens of seconds to load and listen.
  const deadline = Date.now() + 90_000;
  while (!/"port":(\d+)/.test(logs) && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  const port = Number(/"port":(\d+)/.exec(logs)?.[1]);
  if (!port) {
    child.kill('SIGKILL');
    throw new Error(`${args.join(' ')} did not start:\n${logs}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    logs: () => logs,
    exited,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

export const gatewayMain = fromRoot('dist', 'src', 'app', 'main.js');
export const cliMain = fromRoot('dist', 'src', 'admin', 'cli.js');
export const fixtureUpstream = fromRoot('test', 'fixtures', 'upstream.mjs');

/** A port nothing listens on (bound, then released): an upstream that refuses connections. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resident memory of a process, in bytes (Linux /proc). */
export function residentBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}
