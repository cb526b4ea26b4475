import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RosterRecord } from '../src/sis/roster.js';
import { runCli, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { configFile, districts, documentCount, roster, secretFor } from './sis-helpers.js';

const columns = ['studentUniqueId', 'firstName', 'lastSurname', 'birthDate', 'schoolId', 'entryDate', 'entryGradeLevelDescriptor'] as const;

function csvOf(records: Array<Partial<RosterRecord>>): string {
  return [columns.join(','), ...records.map((r) => columns.map((c) => r[c] ?? '').join(','))].join('\n') + '\n';
}

function writeTemp(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'edgate-sis-push-')), name);
  writeFileSync(path, text);
  return path;
}

/**
 * A stand-in for a load balancer in front of edgate: it answers the requests named in `faults`
 * itself (a 429 with Retry-After, a 503) and forwards every other one, noting when each arrived.
 */
async function faultyProxy(target: string, faults: Record<number, { status: number; headers?: Record<string, string> }>) {
  const arrivals: number[] = [];
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    arrivals.push(Date.now());
    const fault = faults[arrivals.length];
    if (fault) {
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(JSON.stringify({ error: fault.status === 429 ? 'rate_limited' : 'unavailable' }));
      return;
    }
    const upstream = await fetch(target + req.url, { method: req.method, headers: { 'content-type': 'application/json', authorization: req.headers.authorization ?? '' }, body: Buffer.concat(chunks) });
    res.writeHead(upstream.status, { 'content-type': 'application/json' });
    res.end(await upstream.text());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe.each(engines)('edgate sis push on $name', (engine) => {
  let app: TestApp;
  let secret: string;
  const push = (file: string, url: string, ...flags: string[]) => runCli(['sis', 'push', file, '--url', url, ...flags], { SIS_SECRET: secret });

  beforeAll(async () => {
    app = await startTestApp(engine, { EDGATE_CONFIG: configFile({ sisSync: { requestsPerMinute: 1000 } }) });
    await app.edorgs(...districts);
    secret = await secretFor(app, 255901);
  });
  afterAll(() => app.stop());

  it('pushes a 12,000-row CSV roster in batches, waiting out a 429 and retrying a 503', async () => {
    const file = writeTemp('roster.csv', csvOf(roster(12_000, 'PUSH')));
    const proxy = await faultyProxy(app.url, { 2: { status: 429, headers: { 'Retry-After': '1' } }, 4: { status: 503 } });
    try {
      const out = await push(file, proxy.url, '--json', '--concurrency', '1');
      expect(out.code).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ received: 12_000, created: 12_000, updated: 0, unchanged: 0, batches: 3, rate_limited: 1, retries: 1 });
      // The batch refused with 429 came back only after the Retry-After the proxy asked for.
      expect(proxy.arrivals[2] - proxy.arrivals[1]).toBeGreaterThanOrEqual(950);
      expect(proxy.arrivals).toHaveLength(5);
    } finally {
      await proxy.close();
    }
    const [{ n }] = await app.services.db('edfi_documents').where('student_unique_id', 'like', 'PUSH%').count({ n: '*' });
    expect(Number(n)).toBe(24_000);

    const again = await push(file, app.url, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ received: 12_000, created: 0, updated: 0, unchanged: 12_000 });
    expect(Number((await app.services.db('edfi_documents').where('student_unique_id', 'like', 'PUSH%').count({ n: '*' }))[0].n)).toBe(24_000);
  });

  it('reports a bad row with its line number and sends nothing', async () => {
    const records: Array<Partial<RosterRecord>> = roster(10, 'BADROW');
    records[5].birthDate = '2010-13-01';
    const proxy = await faultyProxy(app.url, {});
    try {
      const out = await push(writeTemp('bad.csv', csvOf(records)), proxy.url, '--json');
      expect(out.code).not.toBe(0);
      // Header on line 1, so record 5 (zero-based) sits on line 7.
      expect(JSON.parse(out.stdout)).toMatchObject({ error: 'invalid_row', detail: expect.stringMatching(/line 7: birthDate/) });
      expect(out.stderr).toContain('line 7');
      delete records[5].birthDate;
      const missing = await push(writeTemp('missing.csv', csvOf(records)), proxy.url, '--json');
      expect(JSON.parse(missing.stdout).detail).toMatch(/line 7: birthDate is required/);
      expect(proxy.arrivals).toHaveLength(0);
    } finally {
      await proxy.close();
    }
    expect(await app.services.db('edfi_documents').where('student_unique_id', 'like', 'BADROW%').count({ n: '*' })).toEqual([{ n: 0 }]);
  });

  it('names the row of a school the server refuses', async () => {
    const records = roster(20, 'REFUSED');
    records[12].schoolId = 999001;
    const out = await push(writeTemp('refused.csv', csvOf(records)), app.url, '--json');
    expect(out.code).not.toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ error: 'school_not_permitted', detail: expect.stringContaining('line 14') });
  });

  it('reads JSON and JSON Lines rosters', async () => {
    const records = roster(30, 'JSONFILE');
    const json = await push(writeTemp('roster.json', JSON.stringify({ students: records.slice(0, 15) })), app.url, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ received: 15, created: 15 });
    const lines = records.slice(15).map((r) => JSON.stringify(r));
    lines[3] = JSON.stringify({ ...records[18], schoolId: 'nope' });
    const bad = await push(writeTemp('roster.jsonl', lines.join('\n')), app.url, '--json');
    expect(JSON.parse(bad.stdout).detail).toMatch(/line 4: schoolId must be a positive integer/);
    expect(await documentCount(app, 'students')).toBeGreaterThanOrEqual(15);
  });

  it('refuses to run without SIS_SECRET, and a wrong secret fails without retrying', async () => {
    const file = writeTemp('one.csv', csvOf(roster(1, 'NOSECRET')));
    const none = await runCli(['sis', 'push', file, '--url', app.url, '--json'], { SIS_SECRET: '' });
    expect(none.code).not.toBe(0);
    expect(JSON.parse(none.stdout)).toMatchObject({ error: 'missing_secret' });
    const wrong = await runCli(['sis', 'push', file, '--url', app.url, '--json'], { SIS_SECRET: 'not-the-secret' });
    expect(wrong.code).not.toBe(0);
    expect(JSON.parse(wrong.stdout)).toMatchObject({ error: 'unauthorized' });
  });
});
