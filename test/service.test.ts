import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';

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
  it('answers /ready 503 and a 500 internal_error that leaks no SQL or stack', async () => {
    const app = await startTestApp(engine);
    try {
      const client = await app.client();
      const token = await app.token(client);
      app.services.directory.forget(client.clientId);
      await app.services.db.destroy();
      const ready = await app.fetch('/ready');
      expect(ready.status).toBe(503);
      const res = await app.fetch('/oauth/token_info', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-request-id': 'boom-1' }, body: JSON.stringify({ token }) });
      expect(res.status).toBe(500);
      const body = (await res.json()) as Record<string, string>;
      // token_info answers errors as problem details, as Ed-Fi's does (issue 12), keeping edgate's code.
      expect(body).toMatchObject({ error: 'internal_error', status: 500, title: 'Internal Server Error' });
      expect(JSON.stringify(body)).not.toMatch(/select|from|clients|at \w+ \(|\.ts:\d+/i);
      expect(res.headers.get('x-request-id')).toBe('boom-1');
    } finally {
      await app.stop().catch(() => undefined);
    }
  });
});
