/**
 * `npm run conformance`: Ed-Fi's own Postman suites against a fresh edgate.
 *
 * Starts edgate on a new SQLite database with the demo district and the clients the suites name, runs newman over
 * every collection in ../shared/edfi/postman/ (read in place, never copied; only the environment is ours), prints
 * one line per collection, writes conformance/results.json, and with --check exits 1 when the pass rate falls below
 * conformance/baseline.json (--record rewrites the baseline).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import newman from 'newman';

import { fromRoot } from '../src/config/paths.js';
import { createSuiteClients, edgateEnvironment, seedDemoDistrict, seedSuiteDescriptors, startEdgate } from './edgate.js';
import { pruneTo, unitsOf, type PostmanItem, type Unit } from './folders.js';
import { seedTemplate } from './template.js';

const edfiDir = resolve(process.env.EDFI_SHARED_DIR ?? fromRoot('..', 'shared', 'edfi'));
const postmanDir = join(edfiDir, 'postman');
const resultsFile = fromRoot('conformance', 'results.json');
const baselineFile = fromRoot('conformance', 'baseline.json');

interface Failure {
  folder: string;
  request: string;
  assertion: string;
  message: string;
  /** The request and the first 400 characters of the answer it got. */
  answer?: string;
}

interface CollectionResult {
  collection: string;
  requests: number;
  assertions: { passed: number; failed: number };
  /** Test or pre-request scripts that threw: their assertions never ran, so they count as failures too. */
  scriptErrors: number;
  folders: { run: number; notRun: number };
  notRun: Array<{ folder: string; requests: number; missing: string[] }>;
  failures: Failure[];
}

/** The suites' environment: base URL, each client's key and secret, and the data-standard choice the setup makes. */
function environmentOf(baseUrl: string, credentials: Map<string, { key: string; secret: string }>): Record<string, string> {
  const values: Record<string, string> = { ApiBaseUrl: baseUrl, ParentOrContactProperName: 'Contact' };
  for (const [name, { key, secret }] of credentials) {
    values[`ApiKey_${name}`] = key;
    values[`ApiSecret_${name}`] = secret;
  }
  // The names the collection-level script derives from ParentOrContactProperName, for deciding what a folder touches.
  return values;
}

const derivedNames = {
  ParentOrContactCollectionName: 'contacts',
  StudentParentOrContactAssociationCollectionName: 'studentContactAssociations',
  ParentOrContactProperName: 'Contact',
  ParentOrContactName: 'contact',
};

/** "project/resource" names edgate serves, from the resources and descriptors sections of its OpenAPI metadata, as Ed-Fi clients find them. */
async function servedResources(baseUrl: string): Promise<Set<string>> {
  const served = new Set<string>();
  for (const section of ['resources', 'descriptors']) {
    const openapi = (await (await fetch(`${baseUrl}/metadata/data/v3/${section}/swagger.json`)).json()) as { paths: Record<string, unknown> };
    for (const path of Object.keys(openapi.paths)) {
      const m = /^\/data\/v3\/([\w-]+)\/(\w+)/.exec(path);
      if (m) served.add(`${m[1]}/${m[2]}`.toLowerCase());
    }
  }
  // Change queries are an API area, not a resource: served when their endpoint is routed (401 without a token), not 404.
  if ((await fetch(`${baseUrl}/changeQueries/v1/availableChangeVersions`)).status !== 404) served.add('changequeries');
  return served;
}


async function runCollection(file: string, environment: Record<string, string>, served: Set<string>): Promise<CollectionResult> {
  const collection = JSON.parse(readFileSync(join(postmanDir, file), 'utf8')) as { info: { name: string }; item: PostmanItem[] };
  const units = unitsOf(collection, served, { ...environment, ...derivedNames });
  const running = units.filter((u) => !u.missing.length);
  const result: CollectionResult = {
    collection: collection.info.name,
    requests: 0,
    assertions: { passed: 0, failed: 0 },
    scriptErrors: 0,
    folders: { run: running.length, notRun: units.length - running.length },
    notRun: units.filter((u) => u.missing.length).map((u: Unit) => ({ folder: u.path, requests: u.requests, missing: u.missing })),
    failures: [],
  };
  if (!running.length) return result;
  const requestFolder = new Map<string, string>();
  const lastAnswer = new Map<string, string>();
  const walk = (item: PostmanItem, folder: string) => (item.item ? item.item.forEach((child) => walk(child, folder)) : requestFolder.set(item.name, folder));
  running.forEach((u) => {
    walk(u.item, u.path);
    u.support.forEach((s) => walk(s, `${u.path} (${s.name})`));
  });
  await new Promise<void>((done, fail) => {
    newman
      .run({
        collection: pruneTo(collection, new Set(running.flatMap((u) => [u.item, ...u.support]))) as never,
        environment: { values: Object.entries(environment).map(([key, value]) => ({ key, value, enabled: true })) } as never,
        reporters: [],
        timeoutRequest: 30_000,
      })
      .on('request', (_err: unknown, args: { item: { name: string }; request: { method: string; url: { toString(): string } }; response?: { code: number; stream?: Buffer } }) => {
        result.requests += 1;
        // What the failure's request got back, so a failing folder can be read without re-running it.
        const body = args.response?.stream?.toString('utf8').slice(0, 400) ?? '';
        lastAnswer.set(args.item.name, `${args.request.method} ${args.request.url.toString().replace(/^https?:\/\/[^/]+/, '')} -> ${args.response?.code ?? 'no answer'} ${body}`);
      })
      .on('assertion', (err: { message?: string } | null, args: { assertion: string; item: { name: string } }) => {
        if (!err) {
          result.assertions.passed += 1;
          return;
        }
        result.assertions.failed += 1;
        result.failures.push({ folder: requestFolder.get(args.item.name) ?? '', request: args.item.name, assertion: args.assertion, message: String(err.message ?? err), answer: lastAnswer.get(args.item.name) });
      })
      .on('script', (err: { message?: string } | null, args: { item: { name: string }; event: { listen: string } }) => {
        if (!err) return;
        result.scriptErrors += 1;
        result.failures.push({ folder: requestFolder.get(args.item.name) ?? '', request: args.item.name, assertion: `(${args.event.listen} script error)`, message: String(err.message ?? err) });
      })
      .on('done', (err: Error | null) => (err ? fail(err) : done()));
  });
  return result;
}

function passRate(results: CollectionResult[]): { passed: number; failed: number; rate: number } {
  const passed = results.reduce((n, r) => n + r.assertions.passed, 0);
  const failed = results.reduce((n, r) => n + r.assertions.failed + r.scriptErrors, 0);
  return { passed, failed, rate: passed + failed ? passed / (passed + failed) : 0 };
}

const percent = (rate: number) => `${(rate * 100).toFixed(1)}%`;

async function main(): Promise<void> {
  const args = new Set(process.argv.slice(2));
  if (!existsSync(postmanDir)) {
    // A clone without Ed-Fi's artifacts beside it has nothing to measure; say so rather than fail.
    console.log(`conformance: skipped, no Postman suites at ${postmanDir} (set EDFI_SHARED_DIR)`);
    return;
  }
  const workDir = mkdtempSync(join(tmpdir(), 'edgate-conformance-'));
  const env = await edgateEnvironment(process.env.CONFORMANCE_DATABASE_URL ?? `sqlite:${join(workDir, 'edgate.sqlite')}`, process.env.CONFORMANCE_PROFILES_DIR ?? join(edfiDir, 'profiles'), join(edfiDir, 'api-schema', 'DataStandard-5.0.0-pre.1.json'));
  seedDemoDistrict(env);
  const descriptors = await seedSuiteDescriptors(env, postmanDir);
  const template = await seedTemplate(env);
  const { credentials, notes } = await createSuiteClients(env);
  const edgate = await startEdgate(env);
  const results: CollectionResult[] = [];
  try {
    const environment = environmentOf(edgate.baseUrl, credentials);
    const served = await servedResources(edgate.baseUrl);
    const only = process.env.CONFORMANCE_ONLY?.toLowerCase();
    const files = readdirSync(postmanDir).filter((f) => f.endsWith('.postman_collection.json') && (!only || f.toLowerCase().includes(only))).sort();
    for (const file of files) {
      const result = await runCollection(file, environment, served);
      results.push(result);
      const { passed, failed } = result.assertions;
      console.log(
        `${result.collection}: ${result.requests} requests, ${passed} assertions passed, ${failed} failed` +
          (result.scriptErrors ? `, ${result.scriptErrors} script errors` : '') +
          ` (${result.folders.run} folders run, ${result.folders.notRun} not run)`,
      );
    }
  } finally {
    await edgate.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
  const total = passRate(results);
  const notRun = results.reduce((n, r) => n + r.folders.notRun, 0);
  const run = results.reduce((n, r) => n + r.folders.run, 0);
  console.log(`total: ${total.passed} of ${total.passed + total.failed} assertions passed (${percent(total.rate)}) in ${run} folders run; ${notRun} folders not run (they touch resources or APIs edgate lacks)`);
  console.log(`environment: ${descriptors} descriptor values the suites name, written as the ODS/API's populated template ships them`);
  console.log(`environment: ${template.created} items of ${template.resources} resources (and ${template.descriptors} more descriptor values) from conformance/template.json, our stand-in for the populated template's data`);
  for (const note of notes) console.log(`note: ${note}`);
  writeFileSync(resultsFile, JSON.stringify({ passRate: total.rate, passed: total.passed, failed: total.failed, folders: { run, notRun }, notes, collections: results }, null, 2) + '\n');
  if (args.has('--record')) {
    writeFileSync(baselineFile, JSON.stringify({ passRate: Number(total.rate.toFixed(4)), passed: total.passed, failed: total.failed }, null, 2) + '\n');
    console.log(`baseline recorded: ${percent(total.rate)}`);
  }
  if (args.has('--check')) {
    const baseline = JSON.parse(readFileSync(baselineFile, 'utf8')) as { passRate: number };
    // The suites pick random schools and students, so a run drifts by an assertion or two: allow one point.
    if (Number(total.rate.toFixed(4)) < baseline.passRate - 0.01) {
      console.error(`conformance fell: ${percent(total.rate)} of assertions pass, the recorded baseline is ${percent(baseline.passRate)}`);
      process.exitCode = 1;
    } else console.log(`conformance holds: ${percent(total.rate)} ≥ baseline ${percent(baseline.passRate)}`);
  }
}

main().catch((err) => {
  console.error(`conformance run failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
