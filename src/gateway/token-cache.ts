import type { AccessClaims } from './verifier.js';

/**
 * Claims of tokens that already passed full verification, keyed by the exact token string: any
 * change to a token misses the cache and is verified from scratch. An entry is served only until
 * the token's own `exp`, so caching never extends a token's life. Bounded; the oldest entry goes
 * first. Revocation is checked by the gateway on every request, cached or not.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, AccessClaims>();

  constructor(private readonly maxEntries: number) {}

  get(token: string, nowMs = Date.now()): AccessClaims | undefined {
    const claims = this.entries.get(token);
    if (!claims) return undefined;
    if (claims.exp * 1000 <= nowMs) {
      this.entries.delete(token);
      return undefined;
    }
    return claims;
  }

  set(token: string, claims: AccessClaims): void {
    if (this.maxEntries <= 0) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, claims);
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
