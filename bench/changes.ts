/**
 * `npm run bench -- changes [--database-url mysql://root@127.0.0.1:3306] [--schools 1000] [--students 200000]
 *   [--rounds 3] [--duration 10] [--connections 4] [--depth 150000] [--partitions 4]`
 *
 * The edfi scenario's data set (schools, students and their associations, bulk-loaded in the storage format), on
 * its own MariaDB database, served from a child process; an Ed-Fi Sandbox client reads students:
 * - a cursor page of 500 at depth 150,000 (its pageToken) against the first page (the whole collection's token): the ratio of
 *   their req/s, goal ≥ 0.8; offset paging at the same depth beside it, for contrast;
 * - `edgate pull` of every student (partitions read in parallel, JSON Lines written to a temporary folder) in
 *   students/s, against a plain SELECT of the same rows written the same way, as the baseline.
 */
import { createWriteStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import knex from 'knex';

import { createClient } from '../src/db/clients.js';
import { resolveSecretHashKey } from '../src/db/settings.js';
import { encodeCursor } from '../src/edfi/cursor.js';
import { EdfiApi } from '../src/integrator/edfi-api.js';
import { pull } from '../src/integrator/pull.js';
import { compare, load, machine, writeReport } from './lib.js';
import { datasetArgs, datasetOptions, loadStudents, startChild, tokenFor } from './students.js';

const databaseName = 'edgate_bench_changes';

function options(args: string[]) {
  const { values } = parseArgs({ args, options: { ...datasetArgs, depth: { type: 'string' }, partitions: { type: 'string' } } });
  return {
    ...datasetOptions(values, { name: 'changes', urlVariable: 'BENCH_MYSQL_URL', connections: 4 }),
    depth: Number(values.depth ?? 150_000),
    partitions: Number(values.partitions ?? 4),
  };
}

/** The baseline: the same rows straight from the table, in id order, written as JSON Lines as pull writes them. */
async function selectAll(databaseUrl: string, file: string): Promise<number> {
  const db = knex({ client: 'mysql2', connection: databaseUrl, pool: { min: 0, max: 1 } });
  const out = createWriteStream(file);
  let rows = 0;
  try {
    const stream = db('edfi_documents').where('resource', 'students').orderBy('id').select('id', 'body', 'etag', 'last_modified').stream();
    for await (const row of stream as AsyncIterable<{ id: string; body: string; etag: string; last_modified: number }>) {
      const item = { id: row.id, ...(JSON.parse(row.body) as object), _etag: row.etag, _lastModifiedDate: new Date(Number(row.last_modified)).toISOString() };
      if (!out.write(JSON.stringify(item) + '\n')) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      rows += 1;
    }
  } finally {
    await new Promise<void>((resolve) => out.end(() => resolve()));
    await db.destroy();
  }
  return rows;
}

const timed = async <T>(work: () => Promise<T>) => {
  const started = process.hrtime.bigint();
  const value = await work();
  return { value, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
};

export async function run(args: string[]): Promise<void> {
  const opts = options(args);
  const { databaseUrl, dir, env, config, db } = await loadStudents(opts, databaseName, 'edgate-bench-changes-');
  const hashKey = await resolveSecretHashKey(db, config);
  const sandbox = await createClient(db, hashKey, { name: 'sandbox', tier: 'bench', claimSet: 'Ed-Fi Sandbox' }, { tiers: ['bench'], claimSets: ['Ed-Fi Sandbox'] });
  // The page boundary at the depth measured: the id the page before it ends with, as a Next-Page-Token names it.
  const [{ id: boundary }] = (await db('edfi_documents').where('resource', 'students').orderBy('id').offset(opts.depth - 1).limit(1).select('id')) as Array<{ id: string }>;
  await db.destroy();

  const server = await startChild(env);
  try {
    const token = await tokenFor(server.url, { clientId: sandbox.client.clientId, secret: sandbox.secret });
    const students = `${server.url}/data/v3/ed-fi/students`;
    const headers = { authorization: `Bearer ${token}` };
    const firstPage = `${students}?pageSize=500&pageToken=${encodeURIComponent(encodeCursor({}))}`;
    const deepPage = `${students}?pageSize=500&pageToken=${encodeURIComponent(encodeCursor({ after: boundary }))}`;
    const offsetPage = `${students}?limit=500&offset=${opts.depth}`;
    for (const url of [firstPage, deepPage, offsetPage]) {
      const items = (await (await fetch(url, { headers })).json()) as unknown[];
      if (items.length !== 500) throw new Error(`${url} answered ${items.length} items, expected 500`);
    }
    const page = (label: string, url: string) => () => load(label, { url, headers, connections: opts.connections, durationSec: opts.duration });
    const cursor = await compare(opts.rounds, page(`cursor page of 500 at depth ${opts.depth}`, deepPage), page('cursor page of 500, first', firstPage));
    const offset = await compare(opts.rounds, page(`offset page of 500 at offset ${opts.depth}`, offsetPage), page('offset page of 500, first', `${students}?limit=500`));

    const pulled = await timed(() =>
      pull({ api: new EdfiApi({ url: server.url, clientId: sandbox.client.clientId, clientSecret: sandbox.secret }), outDir: join(dir, 'pull'), resources: ['students'], partitions: opts.partitions, pageSize: 500 }),
    );
    const selected = await timed(() => selectAll(databaseUrl, join(dir, 'select.jsonl')));
    const pullItems = pulled.value.resources['ed-fi/students'].items;
    if (pullItems !== selected.value) throw new Error(`edgate pull copied ${pullItems} students, the SELECT ${selected.value}`);
    const pullRate = Math.round(pullItems / pulled.seconds);
    const selectRate = Math.round(selected.value / selected.seconds);
    const pullRatio = Math.round((pullRate / selectRate) * 1000) / 1000;

    const row = (f: typeof cursor.subject, note = '') => ({ load: f.label, 'req/s': f.requestsPerSec, 'p50 ms': f.p50Ms, 'p99 ms': f.p99Ms, non2xx: f.non2xx, note });
    writeReport({
      scenario: 'changes',
      date: new Date().toISOString(),
      machine: machine(),
      rows: [
        row(cursor.subject, `ratio to the first page ${cursor.ratio} (goal ≥ 0.8)`),
        row(cursor.baseline),
        row(offset.subject, `ratio to the first page ${offset.ratio}, for contrast`),
        row(offset.baseline),
        { load: `edgate pull of ${pullItems} students, ${opts.partitions} partitions`, 'req/s': `${pullRate} students/s`, 'p50 ms': '', 'p99 ms': '', non2xx: pulled.value.waited, note: `${Math.round(pulled.seconds * 10) / 10} s; ratio to SELECT ${pullRatio}` },
        { load: `plain SELECT of the same rows to JSON Lines`, 'req/s': `${selectRate} students/s`, 'p50 ms': '', 'p99 ms': '', non2xx: 0, note: `${Math.round(selected.seconds * 10) / 10} s; baseline` },
      ],
      dataset: { schools: opts.schools, students: opts.students, database: 'MariaDB', depth: opts.depth },
      cursorRatio: cursor.ratio,
      offsetRatio: offset.ratio,
      pull: { students: pullItems, seconds: pulled.seconds, studentsPerSec: pullRate, partitions: opts.partitions, waited: pulled.value.waited, retried: pulled.value.retried },
      select: { students: selected.value, seconds: selected.seconds, studentsPerSec: selectRate },
      pullRatio,
      rounds: { cursor: cursor.rounds, offset: offset.rounds },
      options: { rounds: opts.rounds, durationSec: opts.duration, connections: opts.connections },
    });
  } finally {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
