import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { setClientDisabled } from '../src/db/clients.js';
import { grandBend, issuer, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';

const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  body: new URLSearchParams(fields).toString(),
});

describe.each(engines)('discovery and introspection on $name', (engine) => {
  let app: TestApp;
  let vendor: { clientId: string; secret: string };
  let resourceServer: { clientId: string; secret: string };

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
    vendor = await app.client({ name: 'Roster vendor', edorgIds: [255901] });
    resourceServer = await app.client({ name: 'Resource server' });
  });
  afterAll(() => app.stop());

  async function metadata(path: string): Promise<Record<string, unknown>> {
    const res = await app.fetch(path);
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown>;
  }

  it('serves the same metadata at RFC 8414 and OpenID Connect discovery paths', async () => {
    const oauth = await metadata('/.well-known/oauth-authorization-server');
    expect(oauth).toEqual(await metadata('/.well-known/openid-configuration'));
    expect(oauth).toMatchObject({
      issuer,
      token_endpoint: expect.stringMatching(/\/oauth\/token$/),
      jwks_uri: expect.stringMatching(/\/\.well-known\/jwks\.json$/),
      // client_credentials for API clients; authorization_code (PKCE S256) for the developer portal's sign-in.
      grant_types_supported: ['authorization_code', 'client_credentials'],
      authorization_endpoint: expect.stringMatching(/\/oauth\/authorize$/),
      end_session_endpoint: expect.stringMatching(/\/oauth\/session\/end$/),
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      introspection_endpoint: expect.stringMatching(/\/oauth\/introspect$/),
      response_types_supported: ['code'],
    });
  });

  it('advertises no endpoint that is not served', async () => {
    const doc = await metadata('/.well-known/oauth-authorization-server');
    for (const absent of ['pushed_authorization_request_endpoint', 'revocation_endpoint', 'userinfo_endpoint', 'dpop_signing_alg_values_supported']) {
      expect(doc).not.toHaveProperty(absent);
    }
    // Every advertised endpoint answers something other than 404.
    for (const [name, url] of Object.entries(doc).filter(([name]) => name.endsWith('_endpoint') || name === 'jwks_uri')) {
      const path = new URL(String(url)).pathname;
      const res = await app.fetch(path, name === 'jwks_uri' ? {} : { method: 'POST' });
      expect(res.status, `${name} ${path}`).not.toBe(404);
    }
    expect((await app.fetch('/oauth/me')).status).toBe(404);
    expect((await app.fetch('/request', { method: 'POST' })).status).toBe(404);
  });

  it('introspects a live token as active, with its claims, for an authenticated client', async () => {
    const token = await app.token(vendor);
    const res = await app.fetch('/oauth/introspect', form({ token }, { authorization: basic(resourceServer.clientId, resourceServer.secret) }));
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toMatchObject({
      active: true,
      client_id: vendor.clientId,
      sub: vendor.clientId,
      token_type: 'Bearer',
      iss: issuer,
      aud: issuer,
      tier: 'standard',
      schools: ['255901001', '255901044', '255901107'],
    });
  });

  it('answers active: false for a disabled client’s token, a forged one and garbage', async () => {
    const victim = await app.client({ name: 'Soon disabled', edorgIds: [255901] });
    const token = await app.token(victim);
    const ask = async (t: string) =>
      (await (await app.fetch('/oauth/introspect', form({ token: t, client_id: resourceServer.clientId, client_secret: resourceServer.secret }))).json()) as Record<string, unknown>;
    expect((await ask(token)).active).toBe(true);
    await setClientDisabled(app.services.db, victim.clientId, true);
    app.services.directory.forget(victim.clientId);
    expect(await ask(token)).toEqual({ active: false });
    const [header, payload] = token.split('.');
    expect(await ask(`${header}.${payload}.${'A'.repeat(342)}`)).toEqual({ active: false });
    expect(await ask('not-a-token')).toEqual({ active: false });
  });

  it('answers 401 invalid_client without client authentication or with a wrong secret, 400 without a token', async () => {
    const token = await app.token(vendor);
    const anonymous = await app.fetch('/oauth/introspect', form({ token }));
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: 'invalid_client' });
    const wrong = await app.fetch('/oauth/introspect', form({ token }, { authorization: basic(resourceServer.clientId, 'nope') }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Basic realm="edgate"');
    const noToken = await app.fetch('/oauth/introspect', form({}, { authorization: basic(resourceServer.clientId, resourceServer.secret) }));
    expect(noToken.status).toBe(400);
    expect(await noToken.json()).toMatchObject({ error: 'invalid_request' });
  });
});
