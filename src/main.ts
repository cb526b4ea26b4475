// First: refuses a Node.js that is too old before any driver loads.
import './config/runtime.js';

import type { AddressInfo } from 'node:net';

import { armForcedExit } from './app/watchdog.js';
import { ConfigError, loadConfig } from './config/index.js';
import { stdoutLog } from './http/log-sink.js';
import { startServer } from './http/server.js';
import { createLogger, openServices } from './http/services.js';

/** SIGTERM to exit, at most: the documented shutdown bound (README, Cross-cutting). */
const shutdownBoundMs = 10_000;
/** How long a clean exit waits for queued log lines to reach a slow reader. */
const logDrainMs = 1_000;

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
  const log = stdoutLog();
  const logger = createLogger(config, log);
  const running = await startServer(config, await openServices(config, logger));
  running.services.metrics.registry.registerMetric(log.droppedLines);
  const { port } = running.server.address() as AddressInfo;
  logger.info({ url: config.publicUrl, host: config.host, port, database: config.databaseUrl.split(':')[0] }, 'edgate listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    // First, before anything can get stuck: the watchdog thread kills the process at the bound, come what may.
    armForcedExit(shutdownBoundMs);
    // The gentler forced exit (status 1), a second earlier, for when closing hangs but the main thread still runs.
    setTimeout(() => process.exit(1), shutdownBoundMs - 1_000).unref();
    logger.info({ signal }, 'shutting down');
    const exit = (code: number) => log.drained(logDrainMs).then(() => process.exit(code));
    running.close().then(
      () => exit(0),
      (err) => {
        logger.error({ err }, 'shutdown failed');
        return exit(1);
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
