import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Config } from '../config/index.js';
import { buildApp } from './app.js';
import { openServices, type Services } from './services.js';

export interface RunningServer {
  server: Server;
  services: Services;
  url: string;
  /** Drains for `drainMs` (still serving, failing /ready), then stops accepting and finishes in-flight requests. */
  close(options?: { drainMs?: number }): Promise<void>;
}

export async function startServer(config: Config, services?: Services): Promise<RunningServer> {
  const svc = services ?? (await openServices(config));
  const server = createServer(buildApp(svc));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    services: svc,
    url: `http://127.0.0.1:${port}`,
    async close({ drainMs = 0 } = {}) {
      // First the drain: /ready fails while requests are still served, so a balancer stops sending new ones (it
      // notices within its check interval times its fall count, which drainMs must cover).
      svc.lifecycle.draining = true;
      if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
      // Stop accepting, let in-flight requests finish, then release the database and Redis.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A keep-alive connection whose request was in flight goes idle once answered, and would hold the close open
      // until the client hangs up: close each as soon as it is idle.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const grace = setTimeout(() => server.closeAllConnections(), 5000);
      await closed;
      clearInterval(sweep);
      clearTimeout(grace);
      await svc.close();
    },
  };
}
