import type { Config } from '../config/index.js';
import { ConfigError } from '../config/index.js';
import { createDb } from '../db/knex.js';
import { migrate } from '../../migrations/index.js';
import { createLogger } from '../http/logger.js';
import { startStatsService } from '../stats/service.js';
import { flagString, type Flags } from './context.js';

/** A service that runs until SIGTERM/SIGINT, unlike the one-shot admin commands. */
export type ServeCommand = (config: Config, flags: Flags) => Promise<void>;

function portFlag(flags: Flags, fallback: number): number {
  const raw = flagString(flags, 'port');
  const port = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new ConfigError(`--port must be 0–65535, got ${raw}`);
  return port;
}

/**
 * `edgate serve stats [--port 5001] [--jwks-url URL] [--audience AUD]`: the attendance statistics
 * as their own process, behind the gateway's route for /stats/. It reads the same database and
 * accepts a call only with the gateway's assertion for that route, verified against the JWKS.
 */
const stats: ServeCommand = async (config, flags) => {
  const logger = createLogger(config);
  const db = createDb(config.databaseUrl);
  await migrate(db);
  const jwksUrl = flagString(flags, 'jwks-url') ?? config.gatewayJwksUrl ?? `${config.publicUrl}/.well-known/jwks.json`;
  const audience = flagString(flags, 'audience') ?? `${config.publicUrl}/stats/`;
  const service = await startStatsService({
    db,
    logger,
    host: config.host,
    port: portFlag(flags, 5001),
    assertion: { issuer: config.publicUrl, audience, keys: new URL(jwksUrl) },
  });
  logger.info({ service: 'stats', host: config.host, port: service.port, audience, jwks: jwksUrl }, 'stats service listening');
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void service
      .close()
      .then(() => db.destroy())
      .then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
};

export const serveCommands: Record<string, ServeCommand> = { stats };
