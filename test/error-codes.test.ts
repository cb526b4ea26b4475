/**
 * The error codes no other test file provokes: each one here from the outside, as a user would meet it (the CLI with
 * --json, the portal's forms, raw HTTP), on every engine.
 */
import { createServer, request } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { Context } from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { retriedTransaction } from '../src/db/transaction.js';
import { loadDocuments } from '../src/edfi/seed.js';
import { readRawBody } from '../src/http/body.js';
import { grandBend, runCli, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { roster } from './sis-helpers.js';
import { onboard, signIn } from './helpers/portal.js';

const dir = mkdtempSync(join(tmpdir(), 'edgate-error-codes-'));

describe.each(engines)('error codes on $name', (engine) => {
  let app: TestApp;

  beforeAll(async () => {
    app = await startTestApp(engine);
    await app.edorgs(...grandBend);
  });
  afterAll(() => app.stop());

  /** The CLI's --json refusal: exit 1 and the code on stdout. */
  async function refusedBy(...args: string[]): Promise<string> {
    const res = await app.cli(...args, '--json');
    expect({ args, code: res.code }).toEqual({ args, code: 1 });
    return (JSON.parse(res.stdout) as { error: string }).error;
  }

  it('edgate client create: invalid_tier and invalid_claim_set', async () => {
    expect(await refusedBy('client', 'create', '--name', 'X', '--tier', 'gold')).toBe('invalid_tier');
    expect(await refusedBy('client', 'create', '--name', 'X', '--tier', 'free', '--claim-set', 'Root')).toBe('invalid_claim_set');
  });

  it('edgate edorg: unknown_parent, unreadable_file and invalid_file', async () => {
    expect(await refusedBy('edorg', 'add', '--id', '77', '--type', 'school', '--name', 'Orphan', '--parent', '424242')).toBe('unknown_parent');
    expect(await refusedBy('edorg', 'import', join(dir, 'missing.json'))).toBe('unreadable_file');
    const notAList = join(dir, 'not-a-list.json');
    writeFileSync(notAList, '{"schools": []}');
    expect(await refusedBy('edorg', 'import', notAList)).toBe('invalid_file');
  });

  it('edgate sis revoke: unknown_secret for a secret id the institution does not hold', async () => {
    expect((await app.cli('sis', 'issue-secret', '--edorg', '255901')).code).toBe(0);
    expect(await refusedBy('sis', 'revoke', '--edorg', '255901', '--secret-id', 'no-such-secret')).toBe('unknown_secret');
  });

  it('a seed naming a resource the model lacks: unknown_resource, and nothing written', async () => {
    const { db, model } = app.services;
    await expect(loadDocuments(db, model, { unicorns: [{ horn: 1 }] })).rejects.toMatchObject({ code: 'unknown_resource', status: 400 });
  });

  it('a portal form whose CSRF token does not match the session: 403 csrf_token_invalid', async () => {
    await onboard(app, 'csrf@example.test');
    const { browser } = await signIn(app, 'csrf@example.test');
    const res = await browser.request('/portal/apps', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: 'forged', form_id: 'x', name: 'Sneaky', tier: 'standard' }).toString(),
    });
    expect(res.status).toBe(403);
    const page = await res.text();
    expect(page).toContain('This form expired or did not come from the portal');
    expect(page).toContain('<code>csrf_token_invalid</code>');
  });

  it('a write that keeps colliding past the last retry: write_conflict, and the transaction left nothing', async () => {
    const { db } = app.services;
    let attempts = 0;
    const colliding = retriedTransaction(db, async (trx) => {
      attempts += 1;
      const row = { id: 'collides', edorg_id: 255901, secret_hash: 'x', created_at: Date.now() };
      await trx('sis_secrets').insert(row);
      // The same key again, as a concurrent writer would have inserted it: a duplicate-key error every attempt.
      await trx('sis_secrets').insert(row);
    });
    await expect(colliding).rejects.toMatchObject({ code: 'write_conflict', status: 409 });
    expect(attempts).toBe(5);
    expect(await db('sis_secrets').where({ id: 'collides' }).first()).toBeUndefined();
  });

  it('a profile that is configured but invalid: 406 invalid_profile on every request naming it', async () => {
    const profilesDir = join(dir, `profiles-${engine.name}`);
    mkdirSync(profilesDir);
    writeFileSync(
      join(profilesDir, 'broken.xml'),
      '<Profiles><Profile name="Broken"><Resource name="Student"><ReadContentType memberSelection="IncludeOnly"><Property name="FavouriteColour"/></ReadContentType></Resource></Profile></Profiles>',
    );
    const profiled = await startTestApp(engine, { PROFILES_DIR: profilesDir });
    try {
      await profiled.edorgs(...grandBend);
      const token = await profiled.token(await profiled.client({ edorgIds: [255901] }));
      const res = await profiled.fetch('/data/v3/ed-fi/students', { headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.ed-fi.student.broken.readable+json' } });
      expect(res.status).toBe(406);
      expect(await res.json()).toMatchObject({ error: 'invalid_profile' });
    } finally {
      await profiled.stop();
    }
  });

  it('a stored document that no longer parses (corrupted outside edgate): 500 internal_error, with no stack or SQL', async () => {
    const token = await app.token(await app.client({ edorgIds: [255901] }));
    const read = () => app.fetch('/data/v3/ed-fi/schools', { headers: { authorization: `Bearer ${token}` } });
    expect((await read()).status).toBe(200);
    await app.services.db('edfi_documents').where({ resource: 'schools', edorg_id: 255901001 }).update({ body: '{"nameOfInstitution": ' });
    const res = await read();
    expect(res.status).toBe(500);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: 'internal_error', status: 500, type: 'urn:ed-fi:api:system' });
    expect(JSON.stringify(body)).not.toMatch(/SyntaxError|at .*\.js|select |edfi_documents/i);
  });

  it('a method no route knows: 501 not_implemented', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${app.url}/data/v3/ed-fi/students`, { method: 'PROPFIND' }, (answer) => {
        let body = '';
        answer.on('data', (chunk) => (body += chunk));
        answer.on('end', () => resolve({ status: answer.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(501);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'not_implemented' });
  });
});

describe('edgate sis push to a server that does not answer', () => {
  it('gives up after its retries with unreachable, and says where it tried', async () => {
    const file = join(dir, 'roster.json');
    writeFileSync(file, JSON.stringify(roster(1)));
    const res = await runCli(['sis', 'push', file, '--url', 'http://127.0.0.1:1', '--json'], { SIS_SECRET: 'x'.repeat(43) });
    expect(res.code).toBe(1);
    expect(JSON.parse(res.stdout)).toMatchObject({ error: 'unreachable', detail: expect.stringContaining('cannot reach http://127.0.0.1:1') });
  }, 30_000);
});

describe('the body reader, when the client goes away mid-body', () => {
  it('refuses the request as request_aborted (the client never reads it; logs and metrics do)', async () => {
    const seen = new Promise<unknown>((resolve) => {
      const server = createServer((req) => {
        const ctx = { req, get: (name: string) => String(req.headers[name] ?? '') } as unknown as Context;
        readRawBody(ctx).then(resolve, resolve).finally(() => server.close());
      });
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        const socket = connect(port, '127.0.0.1', () => socket.end('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20\r\n\r\n{"a":'));
        socket.on('error', () => undefined);
      });
    });
    expect(await seen).toMatchObject({ code: 'request_aborted', status: 400 });
  });
});
