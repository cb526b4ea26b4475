import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { runCli } from './helpers/app.js';
import { gatewayMain, startProcess, type ServiceProcess } from './helpers/processes.js';

const drainSeconds = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A token request whose body is sent in two parts: in flight from the first part until `finish`. */
function heldTokenRequest(port: number, body: string) {
  const req = request({ host: '127.0.0.1', port, path: '/oauth/token', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, 10));
  return { answer, finish: () => void req.end(body.slice(10)) };
}

/** SIGTERM with DRAIN_SECONDS: what a load balancer in front of the process sees, step by step. */
describe('graceful drain on SIGTERM', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-drain-'));
  const env = { DATABASE_URL: `sqlite:${join(dir, 'edgate.sqlite')}`, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', PUBLIC_URL: 'http://edgate.test', DRAIN_SECONDS: String(drainSeconds) };
  let server: ServiceProcess;
  let tokenBody = '';

  beforeAll(async () => {
    await runCli(['db', 'seed'], env);
    const created = JSON.parse((await runCli(['client', 'create', '--name', 'Drained', '--tier', 'free', '--edorg', '255901', '--json'], env)).stdout);
    tokenBody = JSON.stringify({ client_id: created.client_id, client_secret: created.client_secret, grant_type: 'client_credentials' });
    server = await startProcess([gatewayMain], env);
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails /ready at once, keeps serving (closing each connection) for the drain, finishes what is in flight, exits 0', async () => {
    const token = () => fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: tokenBody });
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
    const inFlight = heldTokenRequest(server.port, tokenBody);
    await sleep(100);

    const exitedAt = server.exited.then((code) => ({ code, at: Date.now() }));
    const signalled = Date.now();
    process.kill(server.pid, 'SIGTERM');
    await sleep(200);

    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ error: 'not_ready', detail: expect.stringContaining('draining') });
    const health = await fetch(`${server.url}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('connection')).toBe('close');
    expect((await token()).status).toBe(200);

    // Past the drain the listener is closed: new connections are refused, the request in flight is still answered.
    await sleep(drainSeconds * 1000 + 500 - (Date.now() - signalled));
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    inFlight.finish();
    const answered = await inFlight.answer;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body)).toMatchObject({ token_type: 'Bearer' });

    const { code, at } = await exitedAt;
    expect(code).toBe(0);
    expect(at - signalled).toBeGreaterThanOrEqual(drainSeconds * 1000);
    expect(at - signalled).toBeLessThan(drainSeconds * 1000 + 10_000);
    expect(server.logs()).toContain(`"drainSeconds":${drainSeconds}`);
  }, 60_000);
});
