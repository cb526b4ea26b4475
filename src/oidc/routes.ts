import type { IncomingMessage, ServerResponse } from 'node:http';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Logger } from 'pino';

import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';
import type { TokenVerifier } from '../gateway/verifier.js';
import { tokenClaims } from './claims.js';
import type { ClientDirectory } from './client-directory.js';
import type { Keyring } from './keyring.js';
import { buildProvider } from './provider.js';
import { normaliseTokenRequest } from './token-request.js';
import { tokenInfoRoutes } from './token-info.js';

export interface OAuthDeps {
  config: Config;
  db: Db;
  logger: Logger;
  hashKey: Buffer;
  keyring: Keyring;
  directory: ClientDirectory;
  verifier: TokenVerifier;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * The provider is rebuilt when the keyring changes (oidc-provider's keystore is fixed per
 * instance), so a rotation done by the CLI or another instance needs no restart.
 */
function providerHandler(deps: OAuthDeps): () => Handler {
  const claimsFor = tokenClaims(deps.directory);
  const build = (): Handler => {
    const provider = buildProvider({ ...deps, keys: deps.keyring.current, claimsFor });
    provider.on('server_error', (_ctx: unknown, err: Error) => deps.logger.error({ err }, 'oidc-provider server error'));
    return provider.callback() as Handler;
  };
  let handle = build();
  deps.keyring.onChange(() => {
    handle = build();
  });
  return () => handle;
}

export function oauthRoutes(router: Router, deps: OAuthDeps): void {
  const current = providerHandler(deps);
  const delegate = async (ctx: Context) => {
    ctx.respond = false;
    await current()(ctx.req, ctx.res);
  };
  router.post('/oauth/token', normaliseTokenRequest, delegate);
  router.get('/.well-known/openid-configuration', delegate);
  router.get('/.well-known/jwks.json', delegate);
  tokenInfoRoutes(router, deps);
}
