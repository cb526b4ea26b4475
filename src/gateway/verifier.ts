import { createLocalJWKSet, createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';

import { ApiError } from '../errors.js';
import type { Keyring } from '../oidc/keyring.js';
import { signingAlg } from '../oidc/keys.js';

export interface AccessClaims {
  clientId: string;
  tier: string;
  schools: string[];
  jti: string;
  iat: number;
  exp: number;
}

export function missingToken(): ApiError {
  return new ApiError(401, 'missing_token', 'send Authorization: Bearer <access token>', {}, { 'WWW-Authenticate': 'Bearer' });
}

export function invalidToken(detail: string): ApiError {
  // RFC 6750 §3: the description is informative only, so it carries no token material.
  return new ApiError(401, 'invalid_token', detail, {}, { 'WWW-Authenticate': `Bearer error="invalid_token", error_description="${detail.replace(/"/g, "'")}"` });
}

/** The bearer token from an Authorization header, or a missing_token error. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw missingToken();
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  if (!match) throw invalidToken('the Authorization header is not a Bearer token');
  return match[1];
}

function claimsOf(payload: JWTPayload, tiers: ReadonlySet<string>): AccessClaims {
  const { client_id: clientId, tier, schools } = payload as Record<string, unknown>;
  if (typeof clientId !== 'string' || !clientId) throw invalidToken('the token has no client_id');
  if (typeof tier !== 'string' || !tiers.has(tier)) throw invalidToken('the token names no known tier');
  if (!Array.isArray(schools) || !schools.every((s) => typeof s === 'string')) throw invalidToken('the token has no schools claim');
  return { clientId, tier, schools, jti: String(payload.jti ?? ''), iat: payload.iat!, exp: payload.exp! };
}

type KeySet = ReturnType<typeof createLocalJWKSet>;

export interface VerifierOptions {
  issuer: string;
  audience: string;
  tiers: Iterable<string>;
  /** The database keyring (same process), or a remote JWKS URL for a gateway run on its own. */
  keys: Keyring | URL;
}

/**
 * Verifies access tokens: signature against the published keys with an allow-list of one
 * algorithm (so `alg: none` and HS256-with-the-public-key are refused), then `typ`, `iss`, `aud`,
 * `exp` and the claims the gateway needs.
 */
export class TokenVerifier {
  private keySet: KeySet;
  private readonly tiers: ReadonlySet<string>;

  constructor(private readonly options: VerifierOptions) {
    this.tiers = new Set(options.tiers);
    const { keys } = options;
    if (keys instanceof URL) {
      this.keySet = createRemoteJWKSet(keys) as KeySet;
    } else {
      this.keySet = createLocalJWKSet({ keys: keys.current.publicJwks });
      keys.onChange((set) => {
        this.keySet = createLocalJWKSet({ keys: set.publicJwks });
      });
    }
  }

  async verify(token: string): Promise<AccessClaims> {
    try {
      return await this.verifyOnce(token);
    } catch (err) {
      const { keys } = this.options;
      // A kid we have not seen may be a rotation made by another instance: reload once and retry.
      if (err instanceof joseErrors.JWKSNoMatchingKey && !(keys instanceof URL) && (await keys.refreshSoon())) {
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
