// First: refuses a Node.js that is too old before any driver loads.
import '../config/runtime.js';

import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { format } from 'node:util';
import type { Logger } from 'pino';

import { armForcedExit } from './watchdog.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { stdoutLog } from '../http/log-sink.js';
import { startServer } from './server.js';
import { createLogger } from '../http/logger.js';
import { openServices } from './services.js';

/** SIGTERM to exit, at most, after the drain: the documented shutdown bound (README, Cross-cutting). */
const shutdownBoundMs = 10_000;
/** How long a clean exit waits for queued log lines to reach a slow reader. */
const logDrainMs = 1_000;

/**
 * Libraries that print with console (oidc-provider's notices, knex's pool warnings) would put plain lines, colours and
 * driver stacks among the JSON ones on stdout, which breaks `pino-pretty`. Their first line goes into the log instead;
 * a driver's stack adds nothing there, as the same error reaches the caller, which reports it.
 */
function consoleIntoLog(logger: Logger): void {
  const firstLine = (args: unknown[]) => format(...args).replace(/\x1b\[[0-9;]*m/g, '').split('\n')[0];
  console.log = console.info = (...args: unknown[]) => logger.info(firstLine(args));
  console.warn = (...args: unknown[]) => logger.warn(firstLine(args));
  console.error = (...args: unknown[]) => logger.error(firstLine(args));
}

/**
 * Start-up failures: one pino-shaped line on stdout (what log tooling reads), and the same reason for a person on
 * stderr, then the exit code (78 for configuration, EX_CONFIG).
 */
function failStart(message: string, exitCode: number): never {
  const line = JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, hostname: hostname(), msg: message });
  process.stdout.write(line + '\n');
  process.stderr.write(`edgate: ${message}\n`);
  process.exit(exitCode);
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) failStart(err.message, 78);
    throw err;
  }
  const log = stdoutLog();
  const logger = createLogger(config, log);
  consoleIntoLog(logger);
  const running = await startServer(config, await openServices(config, logger));
  running.services.metrics.registry.registerMetric(log.droppedLines);
  const { port } = running.server.address() as AddressInfo;
  logger.info({ url: config.publicUrl, host: config.host, port, database: config.databaseUrl.split(':')[0] }, 'edgate listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    const drainMs = config.drainSeconds * 1000;
    // First, before anything can get stuck: the watchdog thread kills the process at the bound, come what may.
    armForcedExit(drainMs + shutdownBoundMs);
    // The gentler forced exit (status 1), a second earlier, for when closing hangs but the main thread still runs.
    setTimeout(() => process.exit(1), drainMs + shutdownBoundMs - 1_000).unref();
    logger.info({ signal, drainSeconds: config.drainSeconds }, 'shutting down');
    const exit = (code: number) => log.drained(logDrainMs).then(() => process.exit(code));
    running.close({ drainMs }).then(
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
  if (err instanceof ConfigError) failStart(err.message, 78);
  failStart(`failed to start: ${err instanceof Error ? err.message : String(err)}`, 1);
});
