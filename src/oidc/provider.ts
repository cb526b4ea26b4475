import { createHmac } from 'node:crypto';
import Provider, { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

import type { Config } from '../config/index.js';
import { secretMatches } from '../secret-hash.js';
import type { Db } from '../db/knex.js';
import { adapterFactory } from './adapter.js';
import { tokenPath } from './paths.js';
import type { ClientDirectory } from '../clients/directory.js';
import { signingAlg, type SigningKeySet } from '../keys/signing-keys.js';
import { edorgScopeOf } from './token-request.js';

export interface ProviderDeps {
  config: Config;
  db: Db;
  directory: ClientDirectory;
  hashKey: Buffer;
  keys: SigningKeySet;
  /** The `tier` and `schools` claims for a client, computed at issue time (narrowed by an Ed-Fi ed-org scope). */
  claimsFor(clientId: string, scope?: number): Promise<Record<string, unknown>>;
  /** The first-party relying party that signs people in (the developer portal); absent: no interactive sign-in. */
  firstParty?: FirstPartyClient;
}

/** What the provider needs to know of its one interactive client and the people who use it. */
export interface FirstPartyClient {
  clientId: string;
  /** Keyed hash of its client secret, as vendor clients' secrets are stored. */
  secretHash: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  /** Where the provider sends the browser to sign in (its interaction pages): a path with the uid. */
  interactionUrl(uid: string): string;
  /** A person's claims by account id, or undefined when the account is gone. */
  findAccount(accountId: string): Promise<{ email: string } | undefined>;
  /** The provider's own pages (RP-initiated logout), drawn in the portal's look. */
  logoutPage(ctx: KoaContextWithOIDC, form: string): void;
  loggedOutPage(ctx: KoaContextWithOIDC): void;
  sessionTtlSeconds: number;
}

/**
 * oidc-provider configured, not forked, for two jobs: client_credentials → RFC 9068 JWT access
 * tokens for API clients, and authorization code + PKCE for the one first-party relying party (the
 * developer portal), whose login page is the portal's interaction route.
 * https://github.com/panva/node-oidc-provider/blob/main/docs/README.md#configuration-options
 */
export function buildProvider(deps: ProviderDeps): Provider {
  const { config, keys, firstParty } = deps;
  const configuration: Configuration = {
    adapter: adapterFactory(deps.directory, deps.db),
    // The portal is a static client: it exists in code, not in the clients table, and cannot be disabled from the CLI.
    clients: firstParty
      ? [
          {
            client_id: firstParty.clientId,
            client_secret: firstParty.secretHash,
            client_name: 'edgate developer portal',
            grant_types: ['authorization_code'],
            response_types: ['code'],
            redirect_uris: [firstParty.redirectUri],
            post_logout_redirect_uris: [firstParty.postLogoutRedirectUri],
            token_endpoint_auth_method: 'client_secret_basic',
          },
        ]
      : [],
    jwks: { keys: deps.keys.privateJwks as NonNullable<Configuration['jwks']>['keys'] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    clientDefaults: { grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
    responseTypes: ['code'],
    scopes: ['openid'],
    claims: { openid: ['sub'], email: ['email'] },
    // PKCE for every code flow, confidential client or not (RFC 9700 §2.1.1). S256 is the only method in v9.
    pkce: { required: () => true },
    findAccount: async (_ctx, sub) => {
      const account = await firstParty?.findAccount(sub);
      return account && { accountId: sub, claims: () => ({ sub, email: account.email }) };
    },
    // The login page is the portal's; consent is never asked of the first-party client (see loadExistingGrant).
    interactions: { url: (_ctx, interaction) => firstParty?.interactionUrl(interaction.uid) ?? '/' },
    // Documented recipe for first-party clients: grant what they ask for without a consent screen.
    // https://github.com/panva/node-oidc-provider/blob/main/docs/README.md#loadexistinggrant
    loadExistingGrant: async (ctx) => {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session!.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      if (!firstParty || ctx.oidc.client!.clientId !== firstParty.clientId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: firstParty.clientId, accountId: ctx.oidc.session!.accountId });
      grant.addOIDCScope('openid email');
      await grant.save();
      return grant;
    },
    // Same key on every instance, stable across provider rebuilds: derived from the secret-hash key.
    cookies: {
      keys: [createHmac('sha256', deps.hashKey).update('oidc-provider cookies').digest('base64url')],
      long: { sameSite: 'lax' },
      short: { sameSite: 'lax' },
    },
    routes: {
      token: tokenPath,
      jwks: '/.well-known/jwks.json',
      // Served only where providerRoutes (routes.ts) lists them: authorization and end_session for the portal;
      // userinfo stays under /oauth/ for the day it is.
      authorization: '/oauth/authorize',
      end_session: '/oauth/session/end',
      userinfo: '/oauth/me',
    },
    features: {
      // Served: the client-credentials grant (RFC 6749 §4.4), and RFC 8707 below for the `aud`; the
      // authorization code flow (always on in oidc-provider) for the portal, with rpInitiatedLogout below.
      clientCredentials: { enabled: true },
      // Not served. Each feature turned on here also needs its route in `providerRoutes` (routes.ts) and its
      // metadata in `advertised` (discovery.ts), as the portal's authorization-code flow has.
      // The login page is edgate's own (interactions.url), never the development one.
      devInteractions: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      // The gateway verifies bearer tokens only: a DPoP-bound token would be accepted there without its proof.
      dPoP: { enabled: false },
      // oidc-provider refuses JWT access tokens at both; edgate serves its own introspection (introspection.ts),
      // and no per-token revocation (README, "Tokens and keys").
      introspection: { enabled: false },
      revocation: { enabled: false },
      userinfo: { enabled: false },
      // Sign-out from the portal ends the provider's session too.
      rpInitiatedLogout: {
        enabled: Boolean(firstParty),
        logoutSource: async (ctx, form) => firstParty?.logoutPage(ctx, form),
        postLogoutSuccessSource: async (ctx) => firstParty?.loggedOutPage(ctx),
      },
      // Resource Indicators (RFC 8707) is how oidc-provider issues JWT access tokens with an `aud`.
      resourceIndicators: {
        enabled: true,
        // The portal's code flow asks for no API: its access token is for the provider alone.
        defaultResource: (_ctx, client) => (client.clientId === firstParty?.clientId ? undefined : config.audience),
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
    ttl: {
      ClientCredentials: config.tokenTtlSeconds,
      AuthorizationCode: 60,
      AccessToken: 300,
      IdToken: 300,
      Interaction: 900,
      Session: firstParty?.sessionTtlSeconds ?? 3600,
      Grant: firstParty?.sessionTtlSeconds ?? 3600,
    },
    extraTokenClaims: (ctx, token) => (token.clientId === firstParty?.clientId ? undefined : deps.claimsFor(token.clientId!, edorgScopeOf(ctx.req))),
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
