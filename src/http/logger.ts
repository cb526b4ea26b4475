import { pino, type DestinationStream, type Logger } from 'pino';

import type { Config } from '../config/index.js';
import { stdoutLog } from './log-sink.js';

export function createLogger(config: Config, destination: DestinationStream = stdoutLog()): Logger {
  return pino({
    level: config.logLevel,
    // Belt and braces: no log line is built from these, but a careless `log.info({ req })` would be.
    redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.client_secret', '*.secret', '*.token', '*.access_token'], censor: '[redacted]' },
  }, destination);
}
