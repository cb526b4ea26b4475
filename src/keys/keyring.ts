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
  /** The forced reload callers are waiting for, until it starts; a caller arriving after that waits for the next. */
  private nextForced?: Promise<void>;

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

  /**
   * A reload for a verifier that met an unknown `kid`, resolved once it has read the database. Every caller waiting
   * joins one reload, and reloads start at least a second apart, so a flood of made-up `kid`s costs the database one
   * query a second. A caller is never refused a reload: with several instances, tokens signed with a new key arrive
   * in bursts, and one whose reload was refused as "too soon" would be a 401 for a valid token (seen with 3
   * instances behind a balancer right after `edgate keys rotate`). It waits at most a second for it instead.
   */
  refreshSoon(): Promise<void> {
    this.nextForced ??= this.forcedRefresh();
    return this.nextForced;
  }

  private async forcedRefresh(): Promise<void> {
    // Always through a timer, even at 0: `nextForced` must hold this promise before the line below clears it.
    const wait = Math.max(0, this.lastForcedRefresh + 1000 - Date.now());
    await new Promise((resolve) => setTimeout(resolve, wait));
    // From here a new caller may have a token signed after this read starts: it schedules the next reload.
    this.nextForced = undefined;
    this.lastForcedRefresh = Date.now();
    await this.refresh().catch(() => undefined);
  }

  close(): void {
    clearInterval(this.timer);
  }
}
