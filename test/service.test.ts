import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { secretFor } from './sis-helpers.js';

describe.each(engines)('service basics on $name', (engine) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(engine);
  });
  afterAll(() => app.stop());

  it('answers /health, /ready and /metrics', async () => {
    expect((await app.fetch('/health')).status).toBe(200);
    expect(await (await app.fetch('/ready')).json()).toEqual({ status: 'ready' });
    const metrics = await app.fetch('/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('edgate_http_requests_total');
  });

  it('echoes a sane X-Request-Id and replaces a hostile one', async () => {
    const sane = await app.fetch('/health', { headers: { 'x-request-id': 'abc-123.def' } });
    expect(sane.headers.get('x-request-id')).toBe('abc-123.def');
    const hostile = await app.fetch('/health', { headers: { 'x-request-id': 'a b<script>'.repeat(20) } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown paths with a JSON 404 carrying the request id', async () => {
    const res = await app.fetch('/nope', { headers: { 'x-request-id': 'req-1' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'not_found', detail: expect.any(String), request_id: 'req-1' });
  });

  it('refuses bodies over 10 MB with 413 payload_too_large before parsing', async () => {
    const big = 'x'.repeat(10 * 1024 * 1024 + 1);
    const res = await app.fetch('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: big });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'payload_too_large' });
  });

  it('caps a chunked body at 10 MB while reading it', async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(120);
    let sent = 0;
    const body = new ReadableStream({
      pull(controller) {
        if (sent++ < 11) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await app.fetch('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: 'payload_too_large' });
  });

  it('answers a wrong method with 405', async () => {
    const res = await app.fetch('/oauth/token', { method: 'GET' });
    expect(res.status).toBe(405);
    expect(await res.json()).toMatchObject({ error: 'method_not_allowed' });
  });
});

describe.each(engines)('when the database goes away, on $name', (engine) => {
  /** No SQL, table name or stack frame in an answer the client sees. */
  const leaksNothing = (text: string) => expect(text).not.toMatch(/select|insert|from|clients|at \w+ \(|\.ts:\d+|knex/i);

  it('fails closed: 503 with Retry-After on every path that touches it, never a 500, and leaks no SQL or stack', async () => {
    const app = await startTestApp(engine);
    try {
      await app.edorgs(...grandBend);
      const client = await app.client({ edorgIds: [255901] });
      const token = await app.token(client);
      const sisSecret = await secretFor(app, 255901);
      app.services.directory.forget(client.clientId);
      // As if the server were gone for good: the pool is destroyed, every later query fails at acquire.
      await app.services.db.destroy();
      const ready = await app.fetch('/ready');
      expect(ready.status).toBe(503);

      // token_info is an Ed-Fi endpoint: a problem detail, with the APIs' code (Retry-After: the client may retry).
      const info = await app.fetch('/oauth/token_info', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'boom-1' }, body: JSON.stringify({ token }) });
      expect(info.status).toBe(503);
      expect(info.headers.get('content-type')).toContain('application/problem+json');
      expect(info.headers.get('retry-after')).toBe('1');
      expect(info.headers.get('x-request-id')).toBe('boom-1');
      const infoBody = await info.text();
      expect(JSON.parse(infoBody)).toMatchObject({ error: 'database_unavailable', status: 503, title: 'Service Unavailable' });
      leaksNothing(infoBody);

      // The token endpoint keeps RFC 6749's shape and code for the same state (issue 9 §3).
      const issued = await app.fetch('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: client.clientId, client_secret: client.secret, grant_type: 'client_credentials' }) });
      expect(issued.status).toBe(503);
      expect(issued.headers.get('retry-after')).toBe('1');
      const issuedBody = await issued.text();
      expect(JSON.parse(issuedBody)).toMatchObject({ error: 'temporarily_unavailable', request_id: expect.any(String) });
      leaksNothing(issuedBody);

      const introspected = await app.fetch('/oauth/introspect', { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` });
      expect(introspected.status).toBe(503);
      leaksNothing(await introspected.text());

      for (const path of ['/data/v3/ed-fi/students', '/stats/v1/attendance/summary?school_id=255901001']) {
        const res = await app.fetch(path, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status, path).toBe(503);
        expect(res.headers.get('retry-after'), path).toBe('1');
        const text = await res.text();
        expect(JSON.parse(text).error, path).toMatch(/^(database|revocation)_unavailable$/);
        leaksNothing(text);
      }
      const synced = await app.fetch('/api/sis/sync', { method: 'POST', headers: { authorization: `Bearer ${sisSecret}`, 'content-type': 'application/json' }, body: '{"students":[]}' });
      expect(synced.status).toBe(503);
      const syncedBody = await synced.text();
      expect(JSON.parse(syncedBody)).toMatchObject({ error: 'database_unavailable' });
      leaksNothing(syncedBody);
    } finally {
      await app.stop().catch(() => undefined);
    }
  });
});
