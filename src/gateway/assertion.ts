import type { Context, Next } from 'koa';
import { createLocalJWKSet, createRemoteJWKSet, importJWK, jwtVerify, SignJWT, errors as joseErrors, type CryptoKey, type JWK, type JWTPayload } from 'jose';

import { ApiError } from '../errors.js';
import type { Keyring } from '../keys/keyring.js';
import { signingAlg, type SigningKeySet } from '../keys/signing-keys.js';

/**
 * The header carrying the gateway's signed statement of who is calling, in the spirit of
 * Pomerium's X-Pomerium-Jwt-Assertion: plain X-Claim-* headers can be forged by anyone who reaches
 * an upstream directly, a signature from edgate's published keys cannot.
 */
export const assertionHeader = 'x-edgate-jwt-assertion';

/** Its own `typ`, so an assertion is never taken for an access token (`at+jwt`) or the reverse. */
export const assertionType = 'edgate-assertion+jwt';

/** Short-lived: a leaked assertion is worth a minute against one route, and the upstream gets a fresh one on every call. */
export const assertionLifetimeSeconds = 60;

/** A signed assertion is reused while it has more than this left, so RSA signing is not on every call. */
const reuseMarginSeconds = 30;

/** What the gateway asserts: the verified token's claims that upstreams authorise on. */
export interface AssertedClaims {
  clientId: string;
  tier: string;
  schools: string[];
}

interface Signed {
  jwt: string;
  reuseUntil: number;
}

/**
 * Signs claims assertions with the server's active signing key (the one in the public JWKS).
 * Signing RS256 costs about a millisecond of CPU, so an assertion is signed once per client,
 * claims and route and reused for half its minute; the cache is bounded, oldest out first.
 */
export class ClaimAssertions {
  private key?: { kid: string; key: Promise<CryptoKey | Uint8Array> };
  private readonly signed = new Map<string, Signed | Promise<string>>();

  constructor(
    private readonly keyring: Keyring,
    private readonly issuer: string,
    private readonly maxEntries = 10_000,
  ) {
    keyring.onChange(() => {
      this.key = undefined;
      this.signed.clear();
    });
  }

  /** A signed assertion from the cache, or undefined: on the hot path a hit costs no promise. */
  cached(audience: string, claims: AssertedClaims, nowMs = Date.now()): string | undefined {
    const entry = this.signed.get(keyOf(audience, claims));
    return entry && !(entry instanceof Promise) && entry.reuseUntil > nowMs ? entry.jwt : undefined;
  }

  /** The assertion for a call to `audience` by `claims`: reused when fresh, else signed (once, however many callers wait). */
  async assertion(audience: string, claims: AssertedClaims): Promise<string> {
    const hit = this.cached(audience, claims);
    if (hit) return hit;
    const key = keyOf(audience, claims);
    const pending = this.signed.get(key);
    if (pending instanceof Promise) return pending;
    const signing = this.sign(audience, claims).then(
      (jwt) => {
        this.remember(key, { jwt, reuseUntil: Date.now() + (assertionLifetimeSeconds - reuseMarginSeconds) * 1000 });
        return jwt;
      },
      (err: unknown) => {
        this.signed.delete(key);
        throw err;
      },
    );
    this.remember(key, signing);
    return signing;
  }

  private remember(key: string, value: Signed | Promise<string>): void {
    if (!this.signed.has(key) && this.signed.size >= this.maxEntries) this.signed.delete(this.signed.keys().next().value!);
    this.signed.set(key, value);
  }

  private signingKey(keys: SigningKeySet) {
    if (this.key?.kid !== keys.activeKid) {
      const jwk = keys.privateJwks.find((k) => k.kid === keys.activeKid) as JWK;
      this.key = { kid: keys.activeKid, key: importJWK(jwk, signingAlg) };
    }
    return this.key;
  }

  private async sign(audience: string, { clientId, tier, schools }: AssertedClaims): Promise<string> {
    const { kid, key } = this.signingKey(this.keyring.current);
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: clientId, tier, schools })
      .setProtectedHeader({ alg: signingAlg, typ: assertionType, kid })
      .setIssuer(this.issuer)
      .setAudience(audience)
      .setSubject(clientId)
      .setIssuedAt(now)
      .setExpirationTime(now + assertionLifetimeSeconds)
      .sign(await key);
  }
}

const keyOf = (audience: string, { clientId, tier, schools }: AssertedClaims) => `${audience}\n${clientId}\n${tier}\n${schools.join(',')}`;

// ---------------------------------------------------------------- the upstream's side

export interface AssertionCheck {
  /** The gateway's `iss` (its PUBLIC_URL). */
  issuer: string;
  /** The route this upstream serves, as the gateway's route config names it. */
  audience: string;
  /** The gateway's JWKS URL, or its public keys. */
  keys: URL | JWK[];
}

export function missingAssertion(): ApiError {
  return new ApiError('missing_assertion', `this service is reached through the gateway only: no ${assertionHeader} header`);
}

function invalidAssertion(err: unknown): ApiError {
  const why = err instanceof joseErrors.JWTExpired ? 'has expired' : err instanceof joseErrors.JWTClaimValidationFailed ? `has a ${err.claim} claim this service does not accept` : 'does not verify';
  return new ApiError('invalid_assertion', `the gateway assertion ${why}`);
}

/** Verifies an assertion the way README's upstream example does, and returns the claims it vouches for. */
export function assertionVerifier({ issuer, audience, keys }: AssertionCheck) {
  const keySet = keys instanceof URL ? createRemoteJWKSet(keys) : createLocalJWKSet({ keys });
  return async (jwt: string | undefined): Promise<AssertedClaims> => {
    if (!jwt) throw missingAssertion();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, keySet, { issuer, audience, algorithms: [signingAlg], typ: assertionType, maxTokenAge: `${assertionLifetimeSeconds + 5}s`, clockTolerance: 5 }));
    } catch (err) {
      throw invalidAssertion(err);
    }
    const { client_id: clientId, tier, schools } = payload as Record<string, unknown>;
    if (typeof clientId !== 'string' || typeof tier !== 'string' || !Array.isArray(schools) || !schools.every((s) => typeof s === 'string')) {
      throw invalidAssertion(undefined);
    }
    return { clientId, tier, schools };
  };
}

/**
 * For a service behind the gateway: refuse any call without a valid assertion for this route, and
 * set X-Claim-* from the assertion alone (edgate's request context already dropped whatever
 * X-Claim-* headers arrived), so the handlers' school checks read only what edgate signed.
 */
export function requireAssertion(check: AssertionCheck) {
  const verify = assertionVerifier(check);
  return async (ctx: Context, next: Next): Promise<void> => {
    const claims = await verify(ctx.get(assertionHeader) || undefined);
    ctx.state.clientId = claims.clientId;
    ctx.state.tier = claims.tier;
    ctx.req.headers['x-claim-schools'] = claims.schools.join(',');
    ctx.req.headers['x-claim-client-id'] = claims.clientId;
    ctx.req.headers['x-claim-tier'] = claims.tier;
    await next();
  };
}
