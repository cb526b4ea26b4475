import { spawn } from 'node:child_process';

import { fromRoot } from '../src/config/paths.js';

/** One edgate process as `npm start` runs it, on a port of its own (a balancer names it by port). */
export interface Instance {
  name: string;
  port: number;
  url: string;
  pid: number;
  logs(): string;
  /** Its exit code (null when a signal ended it), once it has exited. */
  exited: Promise<number | null>;
  /** SIGTERM: the graceful drain; resolves with the exit code. */
  terminate(): Promise<number | null>;
  /** SIGKILL, for clean-up. */
  stop(): Promise<void>;
}

/**
 * Starts dist/src/app/main.js with `env` on `port` and waits for its listening line. Its stdout is read (and kept) so the
 * access log never stalls it.
 */
export async function startInstance(name: string, port: number, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, [fromRoot('dist', 'src', 'app', 'main.js')], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  // Only the start and the end of the log are worth keeping; a load run writes one line per request.
  const keep = (chunk: Buffer) => {
    logs += chunk;
    if (logs.length > 200_000) logs = logs.slice(0, 20_000) + '\n…\n' + logs.slice(-100_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Generous: on a loaded 2-core machine a Node process can take tens of seconds to load the model and listen.
  const deadline = Date.now() + 120_000;
  while (!logs.includes('edgate listening') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (!logs.includes('edgate listening')) {
    child.kill('SIGKILL');
    throw new Error(`edgate ${name} did not start on port ${port}:\n${logs.slice(-5_000)}`);
  }
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    logs: () => logs,
    exited,
    async terminate() {
      if (!gone()) child.kill('SIGTERM');
      return exited;
    },
    async stop() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
  };
}
