import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { embeddedModel } from '../src/edfi/model/index.js';
import { rosterBatchSchema } from '../src/sis/roster.js';
import { grandBend, startTestApp, type TestApp } from './helpers/app.js';
import { engines } from './helpers/engines.js';
import { mutated, rawBodies, valid, type Hints, type JsonSchema } from './helpers/schema-arbitrary.js';
import { configFile, secretFor } from './sis-helpers.js';

const { resources } = embeddedModel();

/**
 * Issue 9 §5: property-based fuzz of the Ed-Fi write endpoints and SIS sync, with bodies generated
 * from the resources' own JSON Schemas (valid, mutated, or not JSON at all). Properties: never a
 * 5xx, never a hang, and a refused request writes nothing. The CI run is short: up to 2,000 cases
 * per property and engine, stopped after FUZZ_SECONDS (default 10) each: about 2,800 cases with both engines on
 * the shared 2-core machine (README, Security testing). FUZZ_RUNS=N runs exactly
 * N cases per property and engine with no time limit (e.g. FUZZ_RUNS=20000 for a long run).
 */
const fuzzRuns = Number(process.env.FUZZ_RUNS) || 0;
const budget = fuzzRuns
  ? { numRuns: fuzzRuns }
  : { numRuns: 2_000, interruptAfterTimeLimit: (Number(process.env.FUZZ_SECONDS) || 10) * 1000, markInterruptAsFailure: false };
const testTimeoutMs = fuzzRuns ? fuzzRuns * 1000 : budget.interruptAfterTimeLimit! + 120_000;
const answerWithinMs = 10_000;

const hints: Hints = {
  edorgIds: [255901, 255901001, 255901044, 255901107, 999001],
  uniqueIds: ['FZ-1', 'FZ-2', 'fz-1', 'FZ-1 '],
};

type Sent = { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };

function bodyOf(schema: JsonSchema): fc.Arbitrary<Sent> {
  return fc.oneof(
    { weight: 3, arbitrary: valid(schema, hints).map((value): Sent => ({ kind: 'json', value })) },
    { weight: 4, arbitrary: mutated(schema, hints).map((value): Sent => ({ kind: 'json', value })) },
    { weight: 1, arbitrary: rawBodies.map((text): Sent => ({ kind: 'raw', text })) },
  );
}

const encode = (sent: Sent) => (sent.kind === 'json' ? JSON.stringify(sent.value) ?? 'null' : sent.text);

/** Counted across both engines for the README's figures; printed at the end of each run. */
const tally = { edfi: 0, sis: 0, refused: 0, accepted: 0 };

describe.each(engines)('fuzz of the write endpoints on $name', (engine) => {
  let app: TestApp;
  const tokens: string[] = [];
  let sisSecret: string;
  const knownIds = new Map<string, string[]>();

  beforeAll(async () => {
    const config = configFile({
      tiers: { standard: { requestsPerMinute: 600, costPerDay: 100_000 }, fuzz: { requestsPerMinute: 1_000_000_000, costPerDay: 1_000_000_000 } },
      sisSync: { requestsPerMinute: 1_000_000_000, maxBatch: 5_000 },
    });
    app = await startTestApp(engine, { EDGATE_CONFIG: config });
    await app.edorgs(...grandBend, { id: 999, type: 'lea', name: 'Other ISD' }, { id: 999001, type: 'school', name: 'Other High', parentId: 999 });
    for (const claimSet of ['Ed-Fi Sandbox', 'SIS Vendor', 'Bootstrap'] as const) {
      tokens.push(await app.token(await app.client({ tier: 'fuzz', claimSet, edorgIds: [255901], namespacePrefixes: ['uri://gb.example'] })));
    }
    sisSecret = await secretFor(app, 255901);
    // Ed-orgs added through the tree are projected into LEA and school documents on first access;
    // project them now, so the fingerprint below sees only what requests write.
    for (const resource of ['localEducationAgencies', 'schools']) {
      expect((await app.fetch(`/data/v3/ed-fi/${resource}`, { headers: { authorization: `Bearer ${tokens[0]}` } })).status).toBe(200);
    }
  });
  afterAll(async () => {
    // The last case may outlive its property (see `running`): the app stays up until it has answered.
    await running;
    await app.stop();
  });

  /**
   * What a refused request must leave as it was: every document, its version and its time, and every reach link.
   * One statement, taken after each case only: cases run one at a time, so the state before a case is the state
   * after the one before it (each property starts from a fresh one), which halves the fuzz's own database work.
   */
  let current = '';
  async function fingerprint(): Promise<string> {
    const db = app.services.db;
    const [row] = await db
      .select({
        documents: db('edfi_documents').count('*'),
        last: db('edfi_documents').max('last_modified'),
        links: db('edfi_subject_edorgs').count('*'),
      });
    current = JSON.stringify(Object.values(row as Record<string, unknown>).map(String));
    return current;
  }

  /**
   * The case running now: fast-check's time limit ends a property without waiting for its last case, which may
   * still write (and would move the fingerprint under the next property's first case), or still fail.
   */
  let running: Promise<void> = Promise.resolve();
  function tracked(work: Promise<void>): Promise<void> {
    running = work;
    return work;
  }

  /** A property starts once the last case before it has finished (its failure is not lost), from a fingerprint taken then. */
  async function settled(): Promise<void> {
    await running;
    await fingerprint();
  }

  async function send(method: string, path: string, headers: Record<string, string>, body: string): Promise<number> {
    const res = await app.fetch(path, { method, headers: { 'content-type': 'application/json', ...headers }, body, signal: AbortSignal.timeout(answerWithinMs) });
    const text = await res.text();
    if (res.status >= 500) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return res.status;
  }

  it('Ed-Fi POST and PUT: no 5xx, no hang, nothing written by a refused request', async () => {
    const cases = fc.constantFrom(...resources).chain((resource) =>
      fc.record({
        resource: fc.constant(resource),
        method: fc.constantFrom('POST', 'POST', 'PUT'),
        token: fc.constantFrom(...tokens),
        sent: bodyOf(resource.schema as JsonSchema),
        pick: fc.nat(),
      }),
    );
    await settled();
    const run = async ({ resource, method, token, sent, pick }: { resource: (typeof resources)[number]; method: string; token: string; sent: Sent; pick: number }): Promise<void> => {
      const ids = knownIds.get(resource.name) ?? [];
      const target = method === 'PUT' ? `/${ids.length ? ids[pick % ids.length] : '0123456789abcdef0123456789abcdef'}` : '';
      const before = current;
      const res = await app.fetch(`/data/v3/ed-fi/${resource.name}${target}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: encode(sent),
        signal: AbortSignal.timeout(answerWithinMs),
      });
      const text = await res.text();
      tally.edfi++;
      expect(res.status, `${method} ${resource.name}: ${text.slice(0, 300)}`).toBeLessThan(500);
      if (res.status >= 400) {
        tally.refused++;
        expect(await fingerprint(), `${method} ${resource.name} answered ${res.status} but wrote`).toBe(before);
      } else {
        tally.accepted++;
        await fingerprint();
        const location = res.headers.get('location');
        if (location) knownIds.set(resource.name, [...ids, location.split('/').pop()!]);
      }
    };
    await fc.assert(
      fc.asyncProperty(cases, (c) => tracked(run(c))),
      budget,
    );
  }, testTimeoutMs);

  it('SIS sync: no 5xx, no hang, nothing written by a refused batch', async () => {
    const recordSchema = rosterBatchSchema.properties.students.items as unknown as JsonSchema;
    const batches = fc.oneof(
      { weight: 4, arbitrary: fc.array(fc.oneof(valid(recordSchema, hints), valid(recordSchema, hints), mutated(recordSchema, hints)), { maxLength: 4 }).map((students): Sent => ({ kind: 'json', value: { students } })) },
      { weight: 1, arbitrary: bodyOf(rosterBatchSchema as unknown as JsonSchema) },
    );
    await settled();
    const run = async (sent: Sent): Promise<void> => {
      const before = current;
      const status = await send('POST', '/api/sis/sync', { authorization: `Bearer ${sisSecret}` }, encode(sent));
      tally.sis++;
      if (status >= 400) {
        tally.refused++;
        expect(await fingerprint(), `SIS sync answered ${status} but wrote`).toBe(before);
      } else {
        tally.accepted++;
        await fingerprint();
      }
    };
    await fc.assert(
      fc.asyncProperty(batches, (sent) => tracked(run(sent))),
      budget,
    );
  }, testTimeoutMs);
});

afterAll(() => {
  // The figure the README's security section quotes.
  process.stdout.write(`fuzz: ${tally.edfi} Ed-Fi write cases, ${tally.sis} SIS sync cases (${tally.accepted} accepted, ${tally.refused} refused), 0 server errors\n`);
});
