// First: refuses a Node.js that is too old before any driver loads.
import './config/runtime.js';

import type { AddressInfo } from 'node:net';

import { ConfigError, loadConfig } from './config/index.js';
import { startServer } from './http/server.js';
import { createLogger, openServices } from './http/services.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`edgate: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const logger = createLogger(config);
  const running = await startServer(config, await openServices(config, logger));
  const { port } = running.server.address() as AddressInfo;
  logger.info({ url: config.publicUrl, host: config.host, port, database: config.databaseUrl.split(':')[0] }, 'edgate listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  // Configuration found bad after loading (e.g. a profile definition) stops like bad config does.
  if (err instanceof ConfigError) {
    process.stderr.write(`edgate: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  process.stderr.write(`edgate failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
