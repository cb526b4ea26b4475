import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fromRoot } from '../src/config/paths.js';
import { issuer, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';

type Json = Record<string, unknown>;
interface Operation {
  summary?: string;
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: Json }> };
  responses: Record<string, { headers?: Record<string, unknown>; content?: Record<string, unknown> }>;
}
interface Document {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, Json>; headers: Record<string, Json>; schemas: Record<string, Json> };
}

const methods = ['get', 'put', 'post', 'delete', 'patch'];

/** Every operation of the document as `METHOD path`, with its object. */
function operationsOf(doc: Document): Array<[string, Operation]> {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).filter(([method]) => methods.includes(method)).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]));
}

/** The operations beside the Ed-Fi resources that issue 11 asks the document to list. */
const serviceOperations = ['POST /oauth/token', 'POST /oauth/token_info', 'POST /oauth/introspect', 'GET /stats/v1/attendance/summary', 'POST /api/sis/sync'];

describe.each(engines)('the OpenAPI document at /metadata/openapi.json on $name', (engine) => {
  let app: TestApp;
  let doc: Document;
  let operations: Map<string, Operation>;

  beforeAll(async () => {
    app = await startTestApp(engine);
    const res = await app.fetch('/metadata/openapi.json');
    expect(res.status).toBe(200);
    doc = (await res.json()) as Document;
    operations = new Map(operationsOf(doc));
  });
  afterAll(() => app.stop());

  it('lists the token endpoint, token_info, introspection, the statistics and SIS sync beside every resource verb', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect([...operations.keys()]).toEqual(expect.arrayContaining([
      ...serviceOperations,
      'GET /data/v3/ed-fi/students',
      'POST /data/v3/ed-fi/students',
      'GET /data/v3/ed-fi/students/{id}',
      'PUT /data/v3/ed-fi/students/{id}',
      'DELETE /data/v3/ed-fi/students/{id}',
      'GET /data/v3/ed-fi/students/deletes',
      'GET /data/v3/ed-fi/students/keyChanges',
      'GET /data/v3/ed-fi/students/partitions',
      'GET /changeQueries/v1/availableChangeVersions',
    ]));
    const list = operations.get('GET /data/v3/ed-fi/students')!;
    expect((list as unknown as { parameters: Array<{ name: string }> }).parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['minChangeVersion', 'maxChangeVersion', 'pageToken', 'pageSize', 'id']));
    expect(Object.keys(list.responses['200'].headers!)).toContain('Next-Page-Token');
  });

  it('names each of them a route the app serves: none answers 404 or 405', async () => {
    for (const name of serviceOperations) {
      const [method, path] = name.split(' ');
      const res = await app.fetch(path, { method, headers: { 'content-type': 'application/json' }, ...(method === 'GET' ? {} : { body: '{}' }) });
      expect([404, 405], `${name} answered ${res.status}`).not.toContain(res.status);
    }
  });

  it('describes the OAuth2 client-credentials scheme, and Basic or body credentials on the token endpoint', () => {
    expect(doc.components.securitySchemes.oauth2).toMatchObject({ type: 'oauth2', flows: { clientCredentials: { tokenUrl: `${issuer}/oauth/token`, scopes: {} } } });
    expect(doc.components.securitySchemes.clientBasic).toMatchObject({ type: 'http', scheme: 'basic' });
    const token = operations.get('POST /oauth/token')!;
    // Basic, or no scheme at all: the id and secret then travel in the body.
    expect(token.security).toEqual([{ clientBasic: [] }, {}]);
    expect(Object.keys(token.requestBody!.content)).toEqual(['application/x-www-form-urlencoded', 'application/json']);
    const request = doc.components.schemas.TokenRequest as { properties: Record<string, { enum?: string[] }> };
    expect(Object.keys(request.properties)).toEqual(expect.arrayContaining(['grant_type', 'client_id', 'client_secret', 'audience', 'scope']));
    expect(request.properties.grant_type.enum).toEqual(['client_credentials']);
    for (const name of ['GET /stats/v1/attendance/summary', 'GET /data/v3/ed-fi/students', 'POST /oauth/token_info']) expect(operations.get(name)!.security, name).toEqual([{ oauth2: [] }]);
    expect(operations.get('POST /api/sis/sync')!.security).toEqual([{ sisSecret: [] }]);
  });

  it('gives every operation a summary and a unique operationId', () => {
    const ids = [...operations.values()].map((op) => op.operationId);
    for (const [name, op] of operations) expect(op.summary, name).toMatch(/\S/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('answers 429 on every metered operation, with RateLimit, RateLimit-Policy and Retry-After, and RateLimit headers on success', () => {
    const metered = [...operations].filter(([name]) => / \/(data|stats)\//.test(name));
    expect(metered.length).toBeGreaterThan(40);
    for (const [name, op] of metered) {
      expect(Object.keys(op.responses['429']?.headers ?? {}).sort(), name).toEqual(['RateLimit', 'RateLimit-Policy', 'Retry-After']);
      const success = Object.entries(op.responses).find(([status]) => status.startsWith('2'))!;
      expect(Object.keys(success[1].headers ?? {}).filter((header) => header !== 'Next-Page-Token'), name).toEqual(['RateLimit', 'RateLimit-Policy']);
    }
    expect(Object.keys(doc.components.headers)).toEqual(expect.arrayContaining(['RateLimit', 'RateLimit-Policy', 'Retry-After']));
    // SIS sync has its own limit per institution: a 429 with Retry-After.
    expect(Object.keys(operations.get('POST /api/sis/sync')!.responses['429'].headers!)).toEqual(['Retry-After']);
  });

  it('declares errors in the shape each path answers: problem details under /data/ and on token_info, RFC 6749 on the token endpoint', async () => {
    const mediaTypes = (name: string, status: string) => Object.keys(operations.get(name)!.responses[status].content!);
    expect(mediaTypes('GET /data/v3/ed-fi/students', '401')).toEqual(['application/problem+json']);
    expect(mediaTypes('POST /oauth/token_info', '400')).toEqual(['application/problem+json']);
    expect(mediaTypes('POST /oauth/token', '400')).toEqual(['application/json']);
    // And the server answers as declared.
    const refused = await app.fetch('/data/v3/ed-fi/students');
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    const info = await app.fetch('/oauth/token_info', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect({ status: info.status, type: info.headers.get('content-type') }).toMatchObject({ status: 400, type: expect.stringContaining('application/problem+json') });
  });

  it.runIf(engine.name === 'sqlite')('passes `redocly lint` with the recommended rules: no error, no warning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgate-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      writeFileSync(file, JSON.stringify(doc));
      const result = await promisify(execFile)(process.execPath, [fromRoot('node_modules', '@redocly', 'cli', 'bin', 'cli.js'), 'lint', file, '--config', fromRoot('redocly.yaml'), '--format', 'json'], {
        env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
        maxBuffer: 64 * 1024 * 1024,
      }).catch((err: { stdout: string; stderr: string }) => err);
      const report = JSON.parse(result.stdout) as { totals: { errors: number; warnings: number }; problems: Array<{ ruleId: string; message: string; location: Array<{ pointer: string }> }> };
      const problems = report.problems.map((p) => `${p.ruleId} at ${p.location[0]?.pointer}: ${p.message}`);
      expect(problems).toEqual([]);
      expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
