/**
 * `npm run bench -- edfi [--database-url mysql://root@127.0.0.1:3306] [--schools 1000]
 *   [--students 200000] [--rounds 3] [--duration 10] [--connections 10]`
 *
 * On its own MariaDB database (`edgate_bench_edfi`, dropped and recreated), bulk-loads the schools,
 * students and StudentSchoolAssociations straight in the storage format (src/edfi/documents.ts),
 * then measures, against the real app served from a child process:
 * - GET /students?limit=100 for a SIS Vendor client whose reach is 10 schools, against the same
 *   call by an Ed-Fi Sandbox client (no authorisation): medians of alternating rounds, and the ratio;
 * - POST /students throughput with 25 connections, a new student per request (anchor: Meadowlark
 *   on PostgreSQL ≈ 93 req/s on 8 vCPUs).
 */
import { rmSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { createClient } from '../src/db/clients.js';
import { resolveSecretHashKey } from '../src/db/settings.js';
import { compare, load, machine, writeReport } from './lib.js';
import { datasetArgs, datasetOptions, leaIdOf, loadStudents, schoolsPerLea, startChild, tokenFor } from './students.js';

const databaseName = 'edgate_bench_edfi';

function options(args: string[]) {
  const { values } = parseArgs({ args, options: datasetArgs });
  return datasetOptions(values, { name: 'edfi', urlVariable: 'DATABASE_URL', connections: 10 });
}

export async function run(args: string[]): Promise<void> {
  const opts = options(args);
  const { dir, env, config, db, loadSeconds } = await loadStudents(opts, databaseName, 'edgate-bench-');
  const hashKey = await resolveSecretHashKey(db, config);
  const rules = { tiers: ['bench'], claimSets: ['SIS Vendor', 'Ed-Fi Sandbox'] };
  const tenSchools = await createClient(db, hashKey, { name: 'ten schools', tier: 'bench', edorgIds: [leaIdOf(0)] }, rules);
  const sandbox = await createClient(db, hashKey, { name: 'sandbox', tier: 'bench', claimSet: 'Ed-Fi Sandbox' }, rules);
  await db.destroy();

  const server = await startChild(env);
  try {
    const reachToken = await tokenFor(server.url, { clientId: tenSchools.client.clientId, secret: tenSchools.secret });
    const sandboxToken = await tokenFor(server.url, { clientId: sandbox.client.clientId, secret: sandbox.secret });
    const page = `${server.url}/data/v3/ed-fi/students?limit=100`;
    const probe = (await (await fetch(page, { headers: { authorization: `Bearer ${reachToken}` } })).json()) as unknown[];
    if (probe.length !== 100) throw new Error(`the 10-school client sees ${probe.length} students on the first page, expected 100`);
    const read = (label: string, token: string) => () =>
      load(label, { url: page, headers: { authorization: `Bearer ${token}` }, connections: opts.connections, durationSec: opts.duration });
    const reads = await compare(opts.rounds, read('GET students?limit=100, reach 10 schools', reachToken), read('GET students?limit=100, Ed-Fi Sandbox', sandboxToken));

    let next = 0;
    const writes = await load('POST students, 25 connections', {
      url: `${server.url}/data/v3/ed-fi/students`,
      method: 'POST',
      connections: 25,
      durationSec: opts.duration,
      headers: { authorization: `Bearer ${reachToken}`, 'content-type': 'application/json' },
      setupRequest: (req) => ({ ...req, body: JSON.stringify({ studentUniqueId: `W${process.pid}-${next++}`, firstName: 'New', lastSurname: 'Student', birthDate: '2012-02-02' }) }),
    });

    const row = (f: typeof writes, note = '') => ({ load: f.label, 'req/s': f.requestsPerSec, 'p50 ms': f.p50Ms, 'p99 ms': f.p99Ms, non2xx: f.non2xx, note });
    writeReport({
      scenario: 'edfi',
      date: new Date().toISOString(),
      machine: machine(),
      rows: [
        row(reads.subject, `ratio to sandbox ${reads.ratio} (goal ≥ 0.7)`),
        row(reads.baseline, 'no authorisation'),
        row(writes, 'anchor: Meadowlark on PostgreSQL ≈ 93 req/s on 8 vCPUs'),
      ],
      dataset: { schools: opts.schools, students: opts.students, associations: opts.students, loadSeconds, database: 'MariaDB', reachSchools: schoolsPerLea },
      readRatio: reads.ratio,
      rounds: reads.rounds,
      options: { rounds: opts.rounds, durationSec: opts.duration, readConnections: opts.connections, writeConnections: 25 },
    });
  } finally {
    server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
