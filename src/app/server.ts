import type { Server } from 'node:http';

import type { Config } from '../config/index.js';
import { listen } from '../http/listen.js';
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
  const listening = await listen(buildApp(svc), config);
  return {
    server: listening.server,
    services: svc,
    url: `http://127.0.0.1:${listening.port}`,
    async close({ drainMs = 0 } = {}) {
      // First the drain: /ready fails while requests are still served, so a balancer stops sending new ones (it
      // notices within its check interval times its fall count, which drainMs must cover).
      svc.lifecycle.draining = true;
      if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
      // Stop accepting, let in-flight requests finish, then release the database and Redis.
      await listening.close();
      await svc.close();
    },
  };
}
