import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export const redisServerBinary = '/usr/bin/redis-server';
export const redisCliBinary = '/usr/bin/redis-cli';

/** Why a Redis Cluster cannot be started here, or undefined when it can (Debian's redis-server and redis-cli). */
export function clusterUnavailable(): string | undefined {
  if (!existsSync(redisServerBinary) || !existsSync(redisCliBinary)) return `${redisServerBinary} or ${redisCliBinary} is missing (Debian package redis-server)`;
  return undefined;
}

/** One redis-server process of the cluster. */
export interface ClusterNodeProcess {
  port: number;
  process: ChildProcess;
}

/** A real Redis Cluster of local processes: 3 masters, each with one replica. */
export interface RedisClusterHandle {
  /** REDIS_URL for edgate: `redis-cluster://127.0.0.1:P1,...` (every master as a seed). */
  url: string;
  nodes: ClusterNodeProcess[];
  /** Runs redis-cli against one node (`-c` follows redirections). */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The node that serves a key's slot now (its master). */
  masterOf(key: string): Promise<number>;
  /** Kills a master (SIGKILL) and waits until its replica has taken its slots over and the cluster is whole again. */
  failOver(port: number): Promise<{ promoted: number; tookMs: number }>;
  stop(): Promise<void>;
}

/** A port whose cluster bus port (port + 10000) is free too. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.has(port)) continue;
    const probe = createServer();
    const free = (p: number) => new Promise<boolean>((resolve) => {
      probe.once('error', () => resolve(false));
      probe.listen(p, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if ((await free(port)) && (await free(port + 10_000))) {
      taken.add(port);
      return port;
    }
  }
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Redis Cluster: ${what} not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Starts 6 redis-server processes in cluster mode on free local ports and joins them with `redis-cli --cluster
 * create --cluster-replicas 1`. A short node timeout (1 s) makes a failover take a couple of seconds.
 */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-redis-cluster-'));
  const taken = new Set<number>();
  const nodes: ClusterNodeProcess[] = [];
  for (let i = 0; i < 6; i++) {
    const port = await clusterPort(taken);
    const args = [
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', '1000', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning',
    ];
    nodes.push({ port, process: spawn(redisServerBinary, args, { stdio: 'ignore' }) });
  }
  const cli = async (port: number, ...args: string[]) => (await exec(redisCliBinary, ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout;
  const stop = async () => {
    await Promise.all(nodes.map(({ process: child }) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    })));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const { port } of nodes) await until(`node ${port} answering`, 10_000, async () => ((await cli(port, 'ping')).includes('PONG') ? true : undefined));
    // The first three become masters, the next three their replicas (redis-cli assigns them in that order).
    await cli(nodes[0].port, '--cluster', 'create', ...nodes.map(({ port }) => `127.0.0.1:${port}`), '--cluster-replicas', '1', '--cluster-yes');
    for (const { port } of nodes) await until(`node ${port} seeing the cluster whole`, 20_000, async () => ((await cli(port, 'cluster', 'info')).includes('cluster_state:ok') ? true : undefined));
  } catch (err) {
    await stop();
    throw err;
  }
  const alive = () => nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
  const mastersOf = async (port: number) =>
    (await cli(port, 'cluster', 'nodes')).split('\n').filter((line) => /\bmaster\b/.test(line) && !/\bfail\b/.test(line) && /\d+-\d+/.test(line)).map((line) => Number(/:(\d+)@/.exec(line)![1]));
  const handle: RedisClusterHandle = {
    url: `redis-cluster://${nodes.slice(0, 3).map(({ port }) => `127.0.0.1:${port}`).join(',')}`,
    nodes,
    cli,
    async masterOf(key) {
      const slot = Number((await cli(alive()[0].port, 'cluster', 'keyslot', key)).trim());
      const nodesLines = (await cli(alive()[0].port, 'cluster', 'nodes')).split('\n');
      for (const line of nodesLines) {
        if (!/\bmaster\b/.test(line) || /\bfail\b/.test(line)) continue;
        for (const range of line.split(' ').slice(8)) {
          const [from, to = from] = range.split('-').map(Number);
          if (slot >= from && slot <= to) return Number(/:(\d+)@/.exec(line)![1]);
        }
      }
      throw new Error(`no master serves slot ${slot}`);
    },
    async failOver(port) {
      const victim = nodes.find((n) => n.port === port)!;
      const before = await mastersOf(port);
      const started = Date.now();
      await new Promise<void>((resolve) => {
        victim.process.once('exit', () => resolve());
        victim.process.kill('SIGKILL');
      });
      const witness = alive()[0].port;
      const promoted = await until('a replica promoted', 30_000, async () => {
        const masters = await mastersOf(witness);
        const info = await cli(witness, 'cluster', 'info');
        return info.includes('cluster_state:ok') && masters.length === 3 ? masters.find((m) => !before.includes(m)) : undefined;
      });
      return { promoted, tookMs: Date.now() - started };
    },
    stop,
  };
  return handle;
}
