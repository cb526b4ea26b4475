import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  server: Server;
  port: number;
  /** Stops accepting, lets in-flight requests finish (up to 5 s), then closes what is left. */
  close(): Promise<void>;
}

/** An HTTP server for one request listener, listening once this resolves. */
export async function listen(listener: RequestListener, at: { port: number; host: string }): Promise<Listening> {
  const server = createServer(listener);
  // Longer than a gateway or balancer keeps pooled connections idle, so they close theirs first.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // A keep-alive connection whose request was in flight goes idle once answered, and would hold the close open
      // until the client hangs up: close each as soon as it is idle.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const grace = setTimeout(() => server.closeAllConnections(), 5000);
      await closed;
      clearInterval(sweep);
      clearTimeout(grace);
    },
  };
}
