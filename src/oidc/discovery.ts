import type { Context } from 'koa';

/** RFC 8414's path; oidc-provider serves only OpenID Connect's, so this one is answered by the same action. */
export const oauthMetadataPath = '/.well-known/oauth-authorization-server';
export const openIdMetadataPath = '/.well-known/openid-configuration';

/**
 * The metadata members edgate advertises, grouped by what serves them; only these members of
 * oidc-provider's document are kept, so discovery names nothing that 404s. A feature that starts
 * being served adds its members here and its route to `providerRoutes` in routes.ts, as the
 * portal's authorization-code flow did.
 */
const advertised = [
  // RFC 8414 §2: who we are and where the keys are.
  'issuer',
  'jwks_uri',
  // The token endpoint: client_credentials only (features.clientCredentials).
  'token_endpoint',
  'grant_types_supported',
  'token_endpoint_auth_methods_supported',
  // The developer portal's sign-in: authorization code with PKCE (S256), an ID token, RP-initiated logout.
  'authorization_endpoint',
  'response_types_supported',
  'response_modes_supported',
  'code_challenge_methods_supported',
  'scopes_supported',
  'claims_supported',
  'subject_types_supported',
  'id_token_signing_alg_values_supported',
  'authorization_response_iss_parameter_supported',
  'end_session_endpoint',
];

/**
 * edgate's own endpoints, which oidc-provider does not know about: RFC 7662 introspection
 * (oidc-provider refuses to introspect JWT access tokens, see introspection.ts).
 */
function edgateMembers(tokenEndpoint: string): Record<string, unknown> {
  return {
    // Beside the token endpoint, on the same origin oidc-provider derives its URLs from.
    introspection_endpoint: tokenEndpoint.replace(/\/token$/, '/introspect'),
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
  };
}

/** Runs oidc-provider's discovery action and keeps only what edgate serves; RFC 8414's path gets the same document. */
export async function servedMetadata(ctx: Context, next: () => Promise<void>): Promise<void> {
  if (ctx.path === oauthMetadataPath) ctx.path = openIdMetadataPath;
  await next();
  const generated = ctx.body as Record<string, unknown> | undefined;
  if (ctx.status !== 200 || !generated) return;
  const kept = Object.fromEntries(advertised.filter((name) => generated[name] !== undefined).map((name) => [name, generated[name]]));
  ctx.body = { ...kept, ...edgateMembers(String(generated.token_endpoint)) };
}
