import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import { loadSigningKeys, signingKeysVersion, type SigningKeySet } from './signing-keys.js';

type Listener = (keys: SigningKeySet) => void;

/**
 * The signing keys this instance uses, kept in step with the database: a rotation made by the CLI
 * or another instance is picked up within `refreshSeconds`, or at once when a verifier meets a
 * `kid` it does not know (`refreshSoon`).
 */
export class Keyring {
  private listeners: Listener[] = [];
  private timer?: NodeJS.Timeout;
  private lastForcedRefresh = 0;

  private constructor(
    private readonly db: Db,
    private readonly config: Config,
    public current: SigningKeySet,
  ) {}

  static async open(db: Db, config: Config): Promise<Keyring> {
    const ring = new Keyring(db, config, await loadSigningKeys(db, config));
    ring.timer = setInterval(() => void ring.refresh().catch(() => undefined), config.refreshSeconds * 1000);
    ring.timer.unref();
    return ring;
  }

  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  async refresh(): Promise<boolean> {
    if ((await signingKeysVersion(this.db, this.config)) === this.current.version) return false;
    this.current = await loadSigningKeys(this.db, this.config);
    for (const listener of this.listeners) listener(this.current);
    return true;
  }

  /** At most once a second, so a flood of tokens with made-up `kid`s cannot flood the database. */
  async refreshSoon(): Promise<boolean> {
    const now = Date.now();
    if (now - this.lastForcedRefresh < 1000) return false;
    this.lastForcedRefresh = now;
    return this.refresh();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
