import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';

/** What a newcomer stumbled over in their first hour: each answer is now the one they should have got. */
describe.each(engines)('a newcomer’s first requests on $name', (engine) => {
  let app: TestApp;
  let client: { clientId: string; secret: string };

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
    client = await app.client({ name: 'Newcomer', edorgIds: [255901] });
  });
  afterAll(() => app.stop());

  const tokenRequest = (body: string, contentType?: string) =>
    app.fetch('/oauth/token', { method: 'POST', headers: contentType ? { 'content-type': contentType } : {}, body });

  it('puts the request id in token endpoint errors, oidc-provider’s own included', async () => {
    const own = await app.fetch('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'first-hour-1' }, body: 'grant_type=password' });
    expect(own.status).toBe(400);
    expect(await own.json()).toEqual({ error: 'unsupported_grant_type', error_description: expect.any(String), request_id: 'first-hour-1' });
    const provider = await app.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': 'first-hour-2' },
      body: `grant_type=client_credentials&client_id=${client.clientId}&client_secret=wrong`,
    });
    expect(provider.status).toBe(401);
    expect(await provider.json()).toMatchObject({ error: 'invalid_client', request_id: 'first-hour-2' });
  });

  it('answers every unknown path with one 404 shape, under /oauth/ too', async () => {
    // /oauth/me (userinfo) is one of oidc-provider's paths edgate does not serve; /oauth/authorize is served (the portal's sign-in).
    for (const path of ['/nope', '/oauth/nope', '/oauth/me']) {
      const res = await app.fetch(path, { headers: { 'x-request-id': 'first-hour-404' } });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'not_found', detail: `no route for GET ${path}`, request_id: 'first-hour-404' });
    }
  });

  it('answers a token request that is neither a form nor JSON with 415', async () => {
    const res = await tokenRequest('grant_type=client_credentials', 'text/plain');
    expect(res.status).toBe(415);
    expect(await res.json()).toMatchObject({ error: 'unsupported_media_type' });
  });

  it('says so when a JSON token request is sent as a form (curl -d without a content type)', async () => {
    const res = await tokenRequest(JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.secret }), 'application/x-www-form-urlencoded');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; error_description: string };
    expect(body.error).toBe('invalid_request');
    expect(body.error_description).toContain('send Content-Type: application/json');
  });
});
