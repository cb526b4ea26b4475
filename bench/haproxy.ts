import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A local port nothing listens on now (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export const haproxyBinary = '/usr/sbin/haproxy';

/**
 * A real HAProxy in front of edgate instances, for the scale-out tests (test/scale-out.test.ts) and `npm run bench --
 * scale`. Why it cannot run here (Debian package `haproxy`, which .ci/run installs), or undefined when it can.
 */
export function haproxyUnavailable(): string | undefined {
  return existsSync(haproxyBinary) ? undefined : `${haproxyBinary} is missing (Debian package haproxy)`;
}

/** How the balancer checks its servers: GET /ready every `interMs`, `fall` failures to take one out, `rise` to bring it back. */
export const healthCheck = { interMs: 250, fall: 2, rise: 2 };

export interface Balancer {
  url: string;
  port: number;
  /** Each server's state as HAProxy sees it: `UP`, `DOWN`, `UP 1/2`, … */
  states(): Promise<Record<string, string>>;
  /** Each server's 2xx answers so far (health checks not counted). */
  answered(): Promise<Record<string, number>>;
  /** Waits until HAProxy sees every named server in `state` (by default every server UP). */
  waitFor(state: 'UP' | 'DOWN', names?: string[], withinMs?: number): Promise<void>;
  /** user + system CPU HAProxy has used so far, in microseconds (Linux /proc, 10 ms ticks). */
  cpuMicros(): number;
  logs(): string;
  stop(): Promise<void>;
}

/**
 * A real HAProxy, round-robin over `servers` (name → local port), health-checked on GET /ready. With `retries`, a
 * refused connection is retried on another server (`option redispatch`), as a production setup does; without, every
 * request sent to an instance that is not listening, or that drops it, is an error the client sees (the tests' setting,
 * so that only the drain can keep a restart lossless).
 */
export async function startHaproxy(servers: Record<string, number>, { retries = true } = {}): Promise<Balancer> {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-haproxy-'));
  const port = await freePort();
  const socket = join(dir, 'admin.sock');
  const config = [
    'global',
    `  stats socket ${socket} mode 600 level admin`,
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    // Without it a check may take only `inter` (250 ms): a loaded machine would flap healthy servers out.
    '  timeout check 2s',
    ...(retries ? ['  retries 2', '  option redispatch'] : ['  retries 0']),
    'frontend edgate',
    `  bind 127.0.0.1:${port}`,
    '  default_backend instances',
    'backend instances',
    '  balance roundrobin',
    '  option httpchk GET /ready',
    '  http-check expect status 200',
    `  default-server inter ${healthCheck.interMs}ms fall ${healthCheck.fall} rise ${healthCheck.rise}`,
    ...Object.entries(servers).map(([name, serverPort]) => `  server ${name} 127.0.0.1:${serverPort} check`),
    '',
  ].join('\n');
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const child: ChildProcess = spawn(haproxyBinary, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stdout!.on('data', (chunk) => (logs += chunk));
  child.stderr!.on('data', (chunk) => (logs += chunk));

  const ask = (command: string) =>
    new Promise<string>((resolve, reject) => {
      const conn = connect(socket);
      let answer = '';
      conn.on('data', (chunk) => (answer += chunk));
      conn.on('end', () => resolve(answer));
      conn.on('error', reject);
      conn.end(`${command}\n`);
    });
  /** One column of `show stat` for each server of the backend. */
  const column = async (name: string) => {
    const [header, ...rows] = (await ask('show stat')).trim().split('\n');
    const columns = header.replace(/^# /, '').split(',');
    const at = (label: string) => columns.indexOf(label);
    const result: Record<string, string> = {};
    for (const row of rows.map((line) => line.split(','))) {
      if (row[at('pxname')] === 'instances' && !['BACKEND', 'FRONTEND'].includes(row[at('svname')])) result[row[at('svname')]] = row[at(name)];
    }
    return result;
  };
  const states = () => column('status');
  const balancer: Balancer = {
    url: `http://127.0.0.1:${port}`,
    port,
    states,
    async answered() {
      return Object.fromEntries(Object.entries(await column('hrsp_2xx')).map(([server, count]) => [server, Number(count)]));
    },
    async waitFor(state, names = Object.keys(servers), withinMs = 60_000) {
      const deadline = Date.now() + withinMs;
      for (;;) {
        const seen = await states().catch(() => ({}) as Record<string, string>);
        if (names.every((name) => seen[name] === state)) return;
        if (Date.now() > deadline) throw new Error(`HAProxy: ${names.join(', ')} not ${state} within ${withinMs} ms (${JSON.stringify(seen)})\n${logs}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    cpuMicros() {
      // Fields 14 and 15 of /proc/PID/stat, after the parenthesised command name: utime and stime in clock ticks.
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(fields[11]) + Number(fields[12])) * 10_000;
    },
    logs: () => logs,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const deadline = Date.now() + 10_000;
  while (!(await states().then(() => true, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await balancer.stop();
      throw new Error(`HAProxy did not start:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return balancer;
}
