import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP fault proxy in the spirit of Toxiproxy, between edgate and a dependency (MariaDB, Redis):
 * - `pass`: bytes flow both ways;
 * - `latency`: every chunk, either way, waits `latencyMs` (order kept);
 * - `blackhole`: connections are accepted but nothing flows either way; bytes wait in the proxy,
 *   as they would in a paused server's socket buffers, and flow again (in order) after `pass`;
 * - `reset`: every open connection is reset (RST), and so is every new one;
 * - `outage`: open connections are reset and the port stops listening (connection refused).
 */
export type Fault = 'pass' | 'latency' | 'blackhole' | 'reset' | 'outage';

interface Pipe {
  client: Socket;
  upstream?: Socket;
  /** Chunks held during a blackhole, per direction. */
  held: { up: Buffer[]; down: Buffer[] };
}

export class FaultProxy {
  private fault: Fault = 'pass';
  private latencyMs = 0;
  private readonly pipes = new Set<Pipe>();
  private server: Server;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = this.listener();
  }

  static async start(target: { host: string; port: number }): Promise<FaultProxy> {
    const proxy = new FaultProxy(target);
    await proxy.listen(0);
    return proxy;
  }

  /** Changes the fault; back to `pass` releases what a blackhole held. */
  async set(fault: Fault, { latencyMs = 0 } = {}): Promise<void> {
    const wasOutage = this.fault === 'outage';
    this.fault = fault;
    this.latencyMs = latencyMs;
    if (fault === 'reset' || fault === 'outage') for (const pipe of this.pipes) this.resetPipe(pipe);
    if (fault === 'outage' && !wasOutage) await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (fault !== 'outage' && wasOutage) {
      this.server = this.listener();
      await this.listen(this.port);
    }
    if (fault === 'pass' || fault === 'latency') for (const pipe of this.pipes) this.release(pipe);
  }

  async close(): Promise<void> {
    for (const pipe of this.pipes) this.resetPipe(pipe);
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private listener(): Server {
    return createServer((client) => this.accept(client));
  }

  private async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
  }

  private accept(client: Socket): void {
    const pipe: Pipe = { client, held: { up: [], down: [] } };
    this.pipes.add(pipe);
    client.on('error', () => undefined);
    client.on('close', () => this.drop(pipe));
    if (this.fault === 'reset') return this.resetPipe(pipe);
    client.on('data', (chunk) => this.forward(pipe, 'up', chunk));
    if (this.fault !== 'blackhole') this.openUpstream(pipe);
  }

  private openUpstream(pipe: Pipe): void {
    if (pipe.upstream || pipe.client.destroyed) return;
    const upstream = connect(this.target.port, this.target.host);
    pipe.upstream = upstream;
    upstream.on('error', () => undefined);
    upstream.on('close', () => this.drop(pipe));
    upstream.on('data', (chunk) => this.forward(pipe, 'down', chunk));
    upstream.on('connect', () => this.release(pipe));
  }

  private forward(pipe: Pipe, direction: 'up' | 'down', chunk: Buffer): void {
    const held = pipe.held[direction];
    const to = direction === 'up' ? pipe.upstream : pipe.client;
    if (this.fault === 'blackhole' || !to || to.connecting || held.length) {
      held.push(chunk);
      return;
    }
    this.write(to, chunk);
  }

  private write(to: Socket, chunk: Buffer): void {
    if (this.fault === 'latency' && this.latencyMs > 0) setTimeout(() => to.destroyed || to.write(chunk), this.latencyMs);
    else if (!to.destroyed) to.write(chunk);
  }

  /** Lets held bytes flow, in order, once the fault allows it. */
  private release(pipe: Pipe): void {
    if (this.fault === 'blackhole' || this.fault === 'reset' || this.fault === 'outage') return;
    if (!pipe.upstream) return this.openUpstream(pipe);
    if (pipe.upstream.connecting) return;
    for (const [direction, to] of [['up', pipe.upstream], ['down', pipe.client]] as const) {
      const held = pipe.held[direction].splice(0);
      for (const chunk of held) this.write(to, chunk);
    }
  }

  private resetPipe(pipe: Pipe): void {
    pipe.client.resetAndDestroy();
    pipe.upstream?.resetAndDestroy();
    this.pipes.delete(pipe);
  }

  private drop(pipe: Pipe): void {
    if (!this.pipes.delete(pipe)) return;
    pipe.client.destroy();
    pipe.upstream?.destroy();
  }
}
