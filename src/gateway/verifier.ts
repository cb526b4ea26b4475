import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

import { ApiError } from '../errors.js';
import type { Keyring } from '../keys/keyring.js';
import { signingAlg } from '../keys/signing-keys.js';
import { VerifiedTokenCache } from './token-cache.js';

export interface AccessClaims {
  clientId: string;
  tier: string;
  schools: string[];
  jti: string;
  iat: number;
  exp: number;
}

/**
 * RFC 6750 §3.1: a request with no credentials gets the bare challenge, no error code; a token that
 * was sent and failed gets `error="invalid_token"`. The body carries the contract's codes either way.
 */
const challenge = { 'WWW-Authenticate': 'Bearer error="invalid_token"' };

/**
 * The ODS/API's reasons for a 401, first in the problem's `errors` (its clients and suites look for them there),
 * edgate's own reason after.
 */
const odsReasons = {
  missing: 'Authorization header is missing.',
  scheme: 'Unknown Authorization header scheme.',
  noValue: 'Missing Authorization header bearer token value.',
  invalid: 'Invalid token',
} as const;

const reasons = (ods: string, own: string) => ({ errors: [ods, own] });

export function missingToken(): ApiError {
  const own = 'send Authorization: Bearer <access token>';
  return new ApiError('missing_token', own, reasons(odsReasons.missing, own), { 'WWW-Authenticate': 'Bearer realm="edgate"' });
}

export function invalidToken(detail: string, ods: string = odsReasons.invalid): ApiError {
  return new ApiError('invalid_token', detail, reasons(ods, detail), challenge);
}

/** The bearer token from an Authorization header, or a missing_token / invalid_token error worded as the ODS/API words it. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw missingToken();
  const [scheme, ...rest] = header.trim().split(/ +/);
  if (scheme.toLowerCase() !== 'bearer') throw invalidToken('the Authorization header is not a Bearer token', odsReasons.scheme);
  if (!rest.length) throw invalidToken('the Authorization header has no bearer token', odsReasons.noValue);
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  if (!match) throw invalidToken('the bearer token is not a token68 value');
  return match[1];
}

/** Clocks of the issuer and this verifier may differ by this much; a token issued further in the future is refused. */
export const clockSkewSeconds = 60;

/** A school id as the issuer writes it: digits only, so no item can smuggle a separator into X-Claim-Schools. */
const schoolId = /^[0-9]{1,18}$/;

function claimsOf(payload: JWTPayload, tiers: ReadonlySet<string>): AccessClaims {
  const { client_id: clientId, tier, schools } = payload as Record<string, unknown>;
  if (typeof clientId !== 'string' || !clientId) throw invalidToken('the token has no client_id');
  if (typeof tier !== 'string' || !tiers.has(tier)) throw invalidToken('the token names no known tier');
  if (!Array.isArray(schools) || !schools.every((s) => typeof s === 'string')) throw invalidToken('the token has no schools claim');
  if (!schools.every((s) => schoolId.test(s))) throw invalidToken('the token\'s schools claim holds an item that is not a school id');
  if (payload.iat! > Date.now() / 1000 + clockSkewSeconds) throw invalidToken('the token was issued in the future');
  return { clientId, tier, schools, jti: String(payload.jti ?? ''), iat: payload.iat!, exp: payload.exp! };
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

export interface VerifierOptions {
  issuer: string;
  audience: string;
  tiers: Iterable<string>;
  /** The database keyring (same process), or a remote JWKS URL for a gateway run on its own. */
  keys: Keyring | URL;
  /** How many verified tokens to remember; 0 turns the cache off (the benchmark's baseline). */
  cacheSize?: number;
}

/**
 * Verifies access tokens: signature against the published keys with an allow-list of one
 * algorithm (so `alg: none` and HS256-with-the-public-key are refused), then `typ`, `iss`, `aud`,
 * `exp` and the claims the gateway needs.
 */
export class TokenVerifier {
  private keySet: KeySet;
  private readonly tiers: ReadonlySet<string>;
  private readonly cache: VerifiedTokenCache<AccessClaims>;

  constructor(private readonly options: VerifierOptions) {
    this.tiers = new Set(options.tiers);
    // 10,000 tokens of ~1 KB: ~10 MB at most, enough for every client of a large deployment.
    this.cache = new VerifiedTokenCache<AccessClaims>(options.cacheSize ?? 10_000);
    const { keys } = options;
    if (keys instanceof URL) {
      this.keySet = createRemoteJWKSet(keys) as KeySet;
    } else {
      this.keySet = createLocalJWKSet({ keys: keys.current.publicJwks });
      keys.onChange((set) => {
        this.keySet = createLocalJWKSet({ keys: set.publicJwks });
        // A key set change may withdraw a key; re-verify everything rather than reason about which.
        this.cache.clear();
      });
    }
  }

  /**
   * Claims of an Authorization header whose token was verified before and has not expired, with
   * no header parsing and no signature check (it is the very string that passed both), and
   * synchronously: on the hot path every promise counts. Undefined means "verify it".
   */
  alreadyVerified(header: string | undefined): AccessClaims | undefined {
    return header?.startsWith('Bearer ') ? this.cache.get(header.slice(7)) : undefined;
  }

  /** Claims from an Authorization header: from the cache, else fully verified. */
  async verifyAuthorization(header: string | undefined): Promise<AccessClaims> {
    return this.alreadyVerified(header) ?? this.verify(bearerToken(header));
  }

  /** Verified claims, from the cache when this exact token already passed and has not expired. */
  async verify(token: string): Promise<AccessClaims> {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const claims = await this.verifyFully(token);
    this.cache.set(token, claims);
    return claims;
  }

  private async verifyFully(token: string): Promise<AccessClaims> {
    try {
      return await this.verifyOnce(token);
    } catch (err) {
      const { keys } = this.options;
      // A kid we have not seen may be a rotation made by another instance: reload once and retry.
      if (err instanceof joseErrors.JWKSNoMatchingKey && !(keys instanceof URL)) {
        await keys.refreshSoon();
        return this.verifyOnce(token).catch((e) => Promise.reject(asInvalidToken(e)));
      }
      throw asInvalidToken(err);
    }
  }

  private async verifyOnce(token: string): Promise<AccessClaims> {
    const { payload } = await jwtVerify(token, this.keySet, {
      algorithms: [signingAlg],
      issuer: this.options.issuer,
      audience: this.options.audience,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
    });
    return claimsOf(payload, this.tiers);
  }
}

function asInvalidToken(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof joseErrors.JWTExpired) return invalidToken('the token has expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) return invalidToken(`the token's ${err.claim} claim is not accepted`);
  if (err instanceof joseErrors.JWKSNoMatchingKey) return invalidToken('the token was not signed by a key this server publishes');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalidToken('the token is not signed with the server\'s algorithm');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalidToken('the token signature does not verify');
  return invalidToken('the token is malformed');
}
