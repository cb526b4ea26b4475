/** Where the OAuth endpoints live: the provider's configuration, the routers and the OpenAPI document read these. */
export const tokenPath = '/oauth/token';
/** Ed-Fi's token information endpoint. */
export const tokenInfoPath = '/oauth/token_info';
/** RFC 7662 introspection, edgate's own (oidc-provider's refuses JWT access tokens). */
export const introspectionPath = '/oauth/introspect';
