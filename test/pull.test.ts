import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { EdfiApi } from '../src/integrator/edfi-api.js';
import type { PullSummary } from '../src/integrator/pull.js';
import { grandBend, runCli, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { apiClient, enrolment, json, student, type ApiClient } from './edfi-helpers.js';

type Item = Record<string, unknown>;

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Item);

describe.each(engines)('edgate pull on $name', (engine) => {
  let app: TestApp;
  let grand: ApiClient;
  let sandbox: ApiClient;
  let credentials: { clientId: string; secret: string };
  const out = mkdtempSync(join(tmpdir(), 'edgate-pull-'));

  const pull = async (dir: string, ...flags: string[]) => {
    const run = await runCli(['pull', '--url', app.url, '--out', dir, '--json', ...flags], { EDGATE_CLIENT_ID: credentials.clientId, EDGATE_CLIENT_SECRET: credentials.secret });
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as PullSummary;
  };
  const rosterOnly = ['--resource', 'students', '--resource', 'ed-fi/studentSchoolAssociations', '--partitions', '3', '--page-size', '7'];

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend, { id: 999, type: 'lea', name: 'Other ISD' }, { id: 999001, type: 'school', name: 'Other High', parentId: 999 });
    credentials = await app.client({ edorgIds: [255901] });
    grand = await apiClient(app, { edorgIds: [255901] });
    sandbox = await apiClient(app, { claimSet: 'Ed-Fi Sandbox' });
    for (let i = 0; i < 30; i++) {
      await grand.create('students', student(`P${String(i).padStart(2, '0')}`));
      await grand.create('studentSchoolAssociations', enrolment(`P${String(i).padStart(2, '0')}`, [255901001, 255901044, 255901107][i % 3]));
    }
    const other = await apiClient(app, { edorgIds: [999] });
    await other.create('students', student('OUTSIDE'));
    await other.create('studentSchoolAssociations', enrolment('OUTSIDE', 999001));
  });
  afterAll(async () => {
    await app.stop();
    rmSync(out, { recursive: true, force: true });
  });

  it('copies what the client reaches, then exactly the 10 changes and the deletes since', async () => {
    const first = await pull(out, ...rosterOnly);
    const version = first.newestChangeVersion;
    expect(first.resources['ed-fi/students']).toMatchObject({ from: 0, to: version, items: 30, deletes: 0 });
    const copied = lines(join(out, 'ed-fi', `students.0-${version}.jsonl`));
    expect(new Set(copied.map((s) => s.studentUniqueId)).size).toBe(30);
    expect(copied.map((s) => s.studentUniqueId)).not.toContain('OUTSIDE');
    expect(lines(join(out, 'ed-fi', `studentSchoolAssociations.0-${version}.jsonl`)).length).toBe(30);

    // 10 changes: 8 students renamed, 2 new students enrolled; and 2 students leave (enrolment, then student).
    const all = await json<Item[]>(await grand.get('students?limit=500'));
    const byId = new Map(all.map((s) => [String(s.studentUniqueId), String(s.id)]));
    for (let i = 0; i < 8; i++) expect((await grand.put(`students/${byId.get(`P0${i}`)}`, student(`P0${i}`, { firstName: 'Renamed' }))).status).toBe(204);
    for (const id of ['NEW1', 'NEW2']) {
      await grand.create('students', student(id));
      await grand.create('studentSchoolAssociations', enrolment(id, 255901001));
    }
    const enrolments = await json<Item[]>(await grand.get('studentSchoolAssociations?limit=500'));
    for (const id of ['P28', 'P29']) {
      const enrolmentId = enrolments.find((e) => (e.studentReference as Item).studentUniqueId === id)!.id;
      expect((await grand.del(`studentSchoolAssociations/${enrolmentId}`)).status).toBe(204);
      expect((await sandbox.del(`students/${byId.get(id)}`)).status).toBe(204);
    }

    const second = await pull(out, ...rosterOnly);
    const window = `${version + 1}-${second.newestChangeVersion}`;
    expect(second.resources['ed-fi/students']).toMatchObject({ from: version + 1, items: 10, deletes: 2, keyChanges: 0 });
    const changed = lines(join(out, 'ed-fi', `students.${window}.jsonl`)).map((s) => s.studentUniqueId).sort();
    expect(changed).toEqual(['NEW1', 'NEW2', 'P00', 'P01', 'P02', 'P03', 'P04', 'P05', 'P06', 'P07']);
    const deletes = lines(join(out, 'ed-fi', `students.${window}.deletes.jsonl`));
    expect(deletes.map((d) => (d.keyValues as Item).studentUniqueId).sort()).toEqual(['P28', 'P29']);
    expect(deletes.map((d) => d.id).sort()).toEqual([byId.get('P28'), byId.get('P29')].sort());
    expect(second.resources['ed-fi/studentSchoolAssociations']).toMatchObject({ items: 2, deletes: 2 });

    // Nothing changed since: nothing to copy, no new file.
    const third = await pull(out, ...rosterOnly);
    expect(third.items).toBe(0);
    expect(third.resources['ed-fi/students'].files).toEqual([]);
    const state = JSON.parse(readFileSync(join(out, 'pull-state.json'), 'utf8')) as { resources: Record<string, { changeVersion: number }> };
    expect(state.resources['ed-fi/students'].changeVersion).toBe(second.newestChangeVersion);
  });

  it('copies every resource the client may read when none is named', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgate-pull-all-'));
    try {
      const summary = await pull(dir);
      expect(Object.keys(summary.resources)).toEqual(expect.arrayContaining(['ed-fi/students', 'ed-fi/schools', 'ed-fi/studentSchoolAssociations']));
      expect(existsSync(join(dir, 'ed-fi', `schools.0-${summary.newestChangeVersion}.jsonl`))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops with the server\'s words on a wrong secret, an unknown resource, and a state file it cannot read', async () => {
    const wrong = await runCli(['pull', '--url', app.url, '--out', out, '--json'], { EDGATE_CLIENT_ID: credentials.clientId, EDGATE_CLIENT_SECRET: 'not-the-secret' });
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout).error).toBe('invalid_client');
    const dir = mkdtempSync(join(tmpdir(), 'edgate-pull-bad-'));
    try {
      const unknown = await runCli(['pull', '--url', app.url, '--out', dir, '--json', '--resource', 'nonExisting'], { EDGATE_CLIENT_ID: credentials.clientId, EDGATE_CLIENT_SECRET: credentials.secret });
      expect(unknown.code).toBe(1);
      expect(JSON.parse(unknown.stdout).error).toBe('not_found');
      writeFileSync(join(dir, 'pull-state.json'), '{ half a file');
      const broken = await runCli(['pull', '--url', app.url, '--out', dir, '--json'], { EDGATE_CLIENT_ID: credentials.clientId, EDGATE_CLIENT_SECRET: credentials.secret });
      expect(broken.code).toBe(1);
      expect(JSON.parse(broken.stdout).error).toBe('invalid_file');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to run without the client\'s credentials in the environment', async () => {
    const run = await runCli(['pull', '--url', app.url, '--out', out, '--json'], { EDGATE_CLIENT_ID: '', EDGATE_CLIENT_SECRET: '' });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).error).toBe('missing_secret');
  });
});

describe('edgate pull against a busy server', () => {
  it('gives up on a server it cannot reach, as unreachable', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const api = new EdfiApi({ url: `http://127.0.0.1:${port}`, clientId: 'c', clientSecret: 's', maxAttempts: 1 });
    await expect(api.get('/changeQueries/v1/availableChangeVersions')).rejects.toMatchObject({ code: 'unreachable' });
  });

  it('waits out Retry-After on a 429 and then reads on', async () => {
    let calls = 0;
    const server = createServer((req, res) => {
      if (req.url === '/oauth/token') return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: 't' }));
      calls += 1;
      if (calls === 1) return res.writeHead(429, { 'retry-after': '1', 'content-type': 'application/json' }).end('{"error":"rate_limited"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"newestChangeVersion":7}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const api = new EdfiApi({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, clientId: 'c', clientSecret: 's' });
      const started = Date.now();
      const { body } = await api.get<{ newestChangeVersion: number }>('/changeQueries/v1/availableChangeVersions');
      expect(body.newestChangeVersion).toBe(7);
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(api.counts.waited).toBe(1);
    } finally {
      server.close();
    }
  });
});
