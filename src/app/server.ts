import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Config } from '../config/index.js';
import { buildApp } from './app.js';
import { openServices, type Services } from './services.js';

export interface RunningServer {
  server: Server;
  services: Services;
  url: string;
  close(): Promise<void>;
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
    async close() {
      // Stop accepting, let in-flight requests finish, then release the database and Redis.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const grace = setTimeout(() => server.closeAllConnections(), 5000);
      await closed;
      clearTimeout(grace);
      await svc.close();
    },
  };
}
