import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';

const tmp = (name: string, text: string) => {
  const path = join(tmpdir(), `edgate-${process.pid}-${Math.random().toString(36).slice(2)}-${name}`);
  writeFileSync(path, text);
  return path;
};

describe.each(engines)('admin CLI on $name', (engine) => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp(engine);
  });
  afterAll(() => app.stop());

  const json = async (...args: string[]) => {
    const res = await app.cli(...args, '--json');
    if (res.code !== 0) throw new Error(`edgate ${args.join(' ')} exited ${res.code}: ${res.stderr}`);
    return JSON.parse(res.stdout);
  };

  it('adds and lists ed-orgs, refusing an unknown parent, a duplicate id and a wrong parent type', async () => {
    expect(await json('edorg', 'add', '--id', '255901', '--type', 'lea', '--name', 'Grand Bend ISD')).toEqual({
      created: { id: 255901, type: 'lea', name: 'Grand Bend ISD', parent: null },
    });
    await json('edorg', 'add', '--id', '255901001', '--type', 'school', '--name', 'Grand Bend High School', '--parent', '255901');

    const unknownParent = await app.cli('edorg', 'add', '--id', '7', '--type', 'school', '--name', 'Orphan', '--parent', '404');
    expect(unknownParent.code).not.toBe(0);
    expect(unknownParent.stderr).toContain('parent 404 of ed-org 7 does not exist');

    const duplicate = await app.cli('edorg', 'add', '--id', '255901', '--type', 'lea', '--name', 'Again', '--json');
    expect(duplicate.code).not.toBe(0);
    expect(JSON.parse(duplicate.stdout)).toMatchObject({ error: 'duplicate_id' });

    const wrongType = await app.cli('edorg', 'add', '--id', '8', '--type', 'school', '--name', 'Bad', '--parent', '255901001');
    expect(wrongType.code).not.toBe(0);
    expect(wrongType.stderr).toContain('a school cannot have a school');

    const listed = await json('edorg', 'list');
    expect(listed.education_organizations.map((e: { id: number }) => e.id)).toEqual([255901, 255901001]);
  });

  it('imports JSON and CSV idempotently, parents before children', async () => {
    const file = tmp('orgs.json', JSON.stringify([
      { id: 300001, type: 'school', name: 'North School', parent: 300 },
      { id: 300, type: 'lea', name: 'North ISD', parent: 30 },
      { id: 30, type: 'sea', name: 'North State' },
    ]));
    expect(await json('edorg', 'import', file)).toEqual({ received: 3, created: 3, updated: 0, unchanged: 0 });
    expect(await json('edorg', 'import', file)).toEqual({ received: 3, created: 0, updated: 0, unchanged: 3 });

    const csv = tmp('orgs.csv', 'id,type,name,parent\n300001,school,North High School,300\n300002,school,North Middle,300\n');
    expect(await json('edorg', 'import', csv)).toEqual({ received: 2, created: 1, updated: 1, unchanged: 0 });

    const bad = await app.cli('edorg', 'import', tmp('bad.csv', 'id,type,name,parent\n1,district,Nope,\n'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('row 1');
  });

  it('re-parenting moves the whole subtree in reach', async () => {
    await json('edorg', 'add', '--id', '400', '--type', 'lea', '--name', 'South ISD');
    const client = await json('client', 'create', '--name', 'South vendor', '--tier', 'free', '--edorg', '400');
    await json('edorg', 'import', tmp('move.json', JSON.stringify([{ id: 300002, type: 'school', name: 'North Middle', parent: 400 }])));
    const token = await app.token({ clientId: client.client_id, secret: client.client_secret });
    const payload = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(payload.schools).toEqual(['300002']);
  });

  it('assigns an ed-org ahead of its creation with --edorg-later; reach starts when it is written', async () => {
    const schoolsOf = async (client: { client_id: string; client_secret: string }) =>
      JSON.parse(Buffer.from((await app.token({ clientId: client.client_id, secret: client.client_secret })).split('.')[1], 'base64url').toString()).schools;
    const refused = await app.cli('client', 'create', '--name', 'Early', '--tier', 'free', '--edorg', '500', '--json');
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ error: 'unknown_edorg', detail: expect.stringContaining('--edorg-later') });
    const early = await json('client', 'create', '--name', 'Early', '--tier', 'free', '--edorg', '500', '--edorg-later');
    expect(early.education_organization_ids).toEqual([500]);
    expect(await schoolsOf(early)).toEqual([]);
    await json('edorg', 'add', '--id', '500', '--type', 'lea', '--name', 'Late ISD');
    await json('edorg', 'add', '--id', '500001', '--type', 'school', '--name', 'Late High', '--parent', '500');
    // The server holds client records for a moment (REFRESH_SECONDS); the next token after that carries the school.
    await expect.poll(() => schoolsOf(early), { timeout: 10_000, interval: 500 }).toEqual(['500001']);
    // As many as the ODS harness gives one client (3,000 ed-orgs, most of them created later).
    const many = Array.from({ length: 3000 }, (_, i) => ['--edorg', String(2_147_480_647 + i)]).flat();
    const wide = await json('client', 'create', '--name', 'Many', '--tier', 'free', ...many, '--edorg-later');
    expect(wide.education_organization_ids).toHaveLength(3000);
  });

  it('creates, shows, updates, rotates, disables and enables clients', async () => {
    const created = await json('client', 'create', '--name', 'Vendor', '--tier', 'standard', '--edorg', '255901', '--profile', 'Nutrition', '--claim-set', 'Bootstrap', '--namespace', 'uri://ed-fi.org', '--namespace', 'uri://vendor.example');
    expect(created).toMatchObject({
      client_id: expect.any(String),
      client_secret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      name: 'Vendor',
      tier: 'standard',
      claim_set: 'Bootstrap',
      education_organization_ids: [255901],
      profiles: ['Nutrition'],
      namespace_prefixes: ['uri://ed-fi.org', 'uri://vendor.example'],
      disabled: false,
    });
    const id = created.client_id as string;
    const shown = await json('client', 'show', id);
    expect(shown).not.toHaveProperty('client_secret');
    expect(JSON.stringify(shown)).not.toContain(created.client_secret);

    expect(await json('client', 'update', id, '--tier', 'premium', '--edorg', '255901001')).toMatchObject({ tier: 'premium', education_organization_ids: [255901001] });

    const rotated = await json('client', 'rotate-secret', id);
    expect(rotated.client_secret).not.toBe(created.client_secret);
    await new Promise((r) => setTimeout(r, 2100)); // the client cache TTL
    const old = await app.fetch('/oauth/token', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=client_credentials&client_id=${id}&client_secret=${created.client_secret}` });
    expect(old.status).toBe(401);
    expect(await app.token({ clientId: id, secret: rotated.client_secret })).toMatch(/^ey/);

    expect(await json('client', 'disable', id)).toMatchObject({ disabled: true });
    expect(await json('client', 'enable', id)).toMatchObject({ disabled: false });
    const listed = await json('client', 'list');
    expect(listed.clients.map((c: { client_id: string }) => c.client_id)).toContain(id);
  });

  it('refuses a bad tier, an unknown claim set, an unknown ed-org and an undefined profile with a message and exit code 1', async () => {
    const cases: Array<[string[], string]> = [
      [['--name', 'X', '--tier', 'gold'], 'tier must be one of free|standard|premium'],
      [['--name', 'X', '--tier', 'free', '--claim-set', 'Root'], 'claim set must be one of'],
      [['--name', 'X', '--tier', 'free', '--edorg', '424242'], 'no education organisation with id 424242'],
      [['--name', 'X', '--tier', 'free', '--profile', 'Nutrtion'], 'profile "Nutrtion" is not defined'],
    ];
    for (const [flags, message] of cases) {
      const res = await app.cli('client', 'create', ...flags);
      expect(res.code).toBe(1);
      expect(res.stderr).toContain(message);
    }
    const unknown = await app.cli('client', 'show', 'nobody', '--json');
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: 'unknown_client' });
  });

  it('issues alphanumeric client ids, so any of them works as a CLI argument', async () => {
    const ids = await Promise.all(Array.from({ length: 200 }, async () => (await app.client()).clientId));
    expect(ids.filter((id) => !/^[A-Za-z0-9]{20}$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(200);
    expect((await app.cli('client', 'show', ids[0], '--json')).code).toBe(0);
  });

  it('answers a missing --name or --tier with usage and exit code 2', async () => {
    for (const [flags, message] of [
      [['--tier', 'free'], '--name is required'],
      [['--name', 'X'], '--tier is required'],
    ]) {
      const res = await app.cli('client', 'create', ...flags);
      expect(res.code).toBe(2);
      expect(res.stderr).toContain(message);
      expect(res.stderr).toContain('usage: edgate');
    }
  });

  it('prints client create as JSON alone on stdout, with the one-time reminder on stderr', async () => {
    const res = await app.cli('client', 'create', '--name', 'Piped', '--tier', 'free');
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ name: 'Piped', client_secret: expect.any(String) });
    expect(res.stderr).toContain('Store the client_secret now');
  });

  it('prints its version', async () => {
    const res = await app.cli('--version');
    expect(res.code).toBe(0);
    expect(res.stdout.trim()).toMatch(/^edgate \d+\.\d+\.\d+$/);
  });

  it('refuses a school with no parent LEA, added or imported', async () => {
    const added = await app.cli('edorg', 'add', '--id', '9', '--type', 'school', '--name', 'Orphan School', '--json');
    expect(added.code).toBe(1);
    expect(JSON.parse(added.stdout)).toMatchObject({ error: 'invalid_parent' });
    const imported = await app.cli('edorg', 'import', tmp('orphan.csv', 'id,type,name,parent\n10,school,Orphan School,\n'));
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain('school 10 needs its LEA as parent');
  });

  it('answers an unknown command or flag with usage and exit code 2', async () => {
    const unknown = await app.cli('edorg', 'explode');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('usage: edgate');
    const badFlag = await app.cli('edorg', 'list', '--colour');
    expect(badFlag.code).toBe(2);
  });

  it('lists and rotates signing keys', async () => {
    const before = (await json('keys', 'list')).keys;
    expect(before.filter((k: { status: string }) => k.status === 'active')).toHaveLength(1);
    const { active_kid } = await json('keys', 'rotate');
    const after = (await json('keys', 'list')).keys;
    expect(after.find((k: { kid: string }) => k.kid === active_kid).status).toBe('active');
    expect(after.find((k: { kid: string }) => k.kid === before[0].kid).status).toBe('retired (published)');
    expect(after.every((k: Record<string, unknown>) => !('private_jwk' in k) && !('d' in k))).toBe(true);
  });
});
