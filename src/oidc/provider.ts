import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

import type { Config } from '../config/index.js';
import { secretMatches } from '../secrets.js';
import { adapterFactory } from './adapter.js';
import type { ClientDirectory } from './client-directory.js';
import { signingAlg, type SigningKeySet } from './keys.js';

export interface ProviderDeps {
  config: Config;
  directory: ClientDirectory;
  hashKey: Buffer;
  keys: SigningKeySet;
  /** The `tier` and `schools` claims for a client, computed at issue time. */
  claimsFor(clientId: string): Promise<Record<string, unknown>>;
}

/**
 * oidc-provider configured, not forked, for one job: client_credentials → RFC 9068 JWT access tokens.
 * https://github.com/panva/node-oidc-provider/blob/main/docs/README.md#configuration-options
 */
export function buildProvider(deps: ProviderDeps): Provider {
  const { config, keys } = deps;
  const configuration: Configuration = {
    adapter: adapterFactory(deps.directory),
    clients: [],
    jwks: { keys: deps.keys.privateJwks as NonNullable<Configuration['jwks']>['keys'] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    clientDefaults: { grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
    responseTypes: ['none'],
    scopes: [],
    claims: {},
    routes: {
      token: '/oauth/token',
      jwks: '/.well-known/jwks.json',
      // Not served (see providerRoutes in routes.ts); kept under /oauth/ for the day they are.
      authorization: '/oauth/authorize',
      end_session: '/oauth/session/end',
      userinfo: '/oauth/me',
    },
    features: {
      // Served: the client-credentials grant (RFC 6749 §4.4), and RFC 8707 below for the `aud`.
      clientCredentials: { enabled: true },
      // Not served. Each feature turned on here also needs its route in `providerRoutes` (routes.ts) and its
      // metadata in `advertised` (discovery.ts); the portal's authorization-code flow will be the first.
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      // The gateway verifies bearer tokens only: a DPoP-bound token would be accepted there without its proof.
      dPoP: { enabled: false },
      // oidc-provider refuses JWT access tokens at both; edgate serves its own introspection (introspection.ts),
      // and no per-token revocation (README, "Tokens and keys").
      introspection: { enabled: false },
      revocation: { enabled: false },
      userinfo: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      // Resource Indicators (RFC 8707) is how oidc-provider issues JWT access tokens with an `aud`.
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== config.audience) throw new errors.InvalidTarget(`unknown audience; this server issues tokens for ${config.audience}`);
          return {
            scope: '',
            audience: config.audience,
            accessTokenTTL: config.tokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: signingAlg, kid: keys.activeKid } },
          };
        },
      },
    },
    ttl: { ClientCredentials: config.tokenTtlSeconds },
    extraTokenClaims: (_ctx, token) => deps.claimsFor(token.clientId!),
    // Errors are JSON everywhere, never oidc-provider's HTML page.
    renderError: (ctx: KoaContextWithOIDC, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    enabledJWA: { clientAuthSigningAlgValues: [], requestObjectSigningAlgValues: [] },
  };
  const provider = new Provider(config.publicUrl, configuration);
  // Secrets are stored as keyed hashes; hash what the client presents and compare in constant time.
  provider.Client.prototype.compareClientSecret = function compareClientSecret(actual: string) {
    return secretMatches(deps.hashKey, actual, this.clientSecret!);
  };
  return provider;
}
