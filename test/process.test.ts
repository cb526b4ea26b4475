import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { runCli } from './helpers/app.js';

/** The server as `npm start` runs it: its own process, real logs, real signals. */
describe('the edgate process', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgate-process-'));
  const env = { DATABASE_URL: `sqlite:${join(dir, 'edgate.sqlite')}`, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', PUBLIC_URL: 'http://edgate.test' };
  let server: ChildProcess;
  let logs = '';
  let url = '';

  beforeAll(async () => {
    server = spawn(process.execPath, [fromRoot('dist', 'src', 'app', 'main.js')], { env: { ...process.env, ...env } });
    server.stdout!.on('data', (chunk) => (logs += chunk));
    server.stderr!.on('data', (chunk) => (logs += chunk));
    const deadline = Date.now() + 15_000;
    while (!/"port":(\d+)/.test(logs) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const port = /"port":(\d+)/.exec(logs)?.[1];
    if (!port) throw new Error(`edgate did not start:\n${logs}`);
    url = `http://127.0.0.1:${port}`;
  });
  afterAll(() => {
    server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs request ids but never a secret or a token', async () => {
    await runCli(['db', 'seed'], env);
    const created = JSON.parse((await runCli(['client', 'create', '--name', 'Logged', '--tier', 'free', '--edorg', '255901', '--json'], env)).stdout);
    const tokenRes = await fetch(`${url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-me-1' },
      body: JSON.stringify({ client_id: created.client_id, client_secret: created.client_secret, grant_type: 'client_credentials' }),
    });
    expect(tokenRes.status).toBe(200);
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;
    const info = await fetch(`${url}/oauth/token_info?token=${token}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(info.status).toBe(200);
    await fetch(`${url}/oauth/token`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${created.client_id}:wrong-secret`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    await new Promise((r) => setTimeout(r, 200));
    expect(logs).toContain('"reqId":"trace-me-1"');
    expect(logs).not.toContain(created.client_secret);
    expect(logs).not.toContain(token);
    expect(logs).not.toContain(token.split('.')[2]);
    expect(logs).not.toContain('wrong-secret');
  });

  it('shuts down gracefully on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs).toContain('"signal":"SIGTERM"');
  });
});
