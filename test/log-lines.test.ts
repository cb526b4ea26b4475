import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadConfig } from '../src/config/index.js';
import { fromRoot } from '../src/config/paths.js';
import { openServices } from '../src/app/services.js';
import { startServer, type RunningServer } from '../src/app/server.js';
import { engines } from './helpers/engines.js';

/** Every line the logger writes, parsed. */
function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('log lines', () => {
  let running: RunningServer;
  let drop: () => Promise<void>;
  const logged = capture();

  beforeAll(async () => {
    const database = await engines[0].createDatabase();
    drop = database.drop;
    const config = loadConfig({ DATABASE_URL: database.url, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' });
    running = await startServer(config, await openServices(config, pino({ level: 'info' }, logged.stream)));
  });
  afterAll(async () => {
    await running.close();
    await drop();
  });

  it('logs an expected 503 (SIS sync not configured) as one warn line with its code, no error and no stack', async () => {
    const res = await fetch(`${running.url}/api/sis/sync`, { method: 'POST', headers: { authorization: 'Bearer x', 'content-type': 'application/json', 'x-request-id': 'log-503' }, body: '{"students":[]}' });
    expect(res.status).toBe(503);
    const about = logged.lines.filter((line) => line.reqId === 'log-503');
    expect(about.find((line) => line.level === 40)).toMatchObject({ code: 'not_configured', status: 503 });
    expect(about.filter((line) => Number(line.level) >= 50)).toEqual([]);
    expect(JSON.stringify(about)).not.toContain('stack');
  });

  it('writes only JSON lines on stdout when the database cannot be reached, the reason once on stderr', { timeout: 120_000 }, async () => {
    const failure = await promisify(execFile)(process.execPath, [fromRoot('dist', 'src', 'app', 'main.js')], {
      env: { ...process.env, DATABASE_URL: 'mysql://root@127.0.0.1:1/edgate', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
      timeout: 100_000,
    }).then(
      () => undefined,
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(failure?.code).toBe(1);
    const stdout = failure!.stdout.split('\n').filter(Boolean);
    for (const line of stdout) expect(() => JSON.parse(line), line).not.toThrow();
    expect(JSON.parse(stdout.at(-1)!)).toMatchObject({ level: 60, msg: expect.stringContaining('ECONNREFUSED') });
    expect(failure!.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^edgate: failed to start: .*ECONNREFUSED/)]);
  });
});
