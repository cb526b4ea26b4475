/**
 * The lookup key: the signature's last 43 characters (32 bytes of an RS256 signature). Hashing
 * a short key instead of the whole ~1 KB token is most of what makes a cache hit cheap; the entry
 * keeps the whole token, and only an identical token is a hit.
 */
const keyOf = (token: string) => token.slice(-43);

/**
 * Claims of tokens that already passed full verification. A hit needs the exact same token
 * string, so any change to a token is verified from scratch. An entry is served only until the
 * token's own `exp`, so caching never extends a token's life. Bounded; the oldest entry goes
 * first. Revocation is checked by the gateway on every call, cached or not.
 */
/** Anything a verified token yields, as long as it carries the token's expiry. */
interface Expiring {
  exp: number;
}

export class VerifiedTokenCache<Claims extends Expiring> {
  private readonly entries = new Map<string, { token: string; claims: Claims }>();

  constructor(private readonly maxEntries: number) {}

  get(token: string, nowMs = Date.now()): Claims | undefined {
    const key = keyOf(token);
    const entry = this.entries.get(key);
    if (!entry || entry.token !== token) return undefined;
    if (entry.claims.exp * 1000 <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.claims;
  }

  set(token: string, claims: Claims): void {
    if (this.maxEntries <= 0) return;
    const key = keyOf(token);
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { token, claims });
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
