/**
 * Start-up with the model loaded: wall time from spawning `node dist/src/app/main.js` to the first 200
 * from /ready, the server's CPU time until then (what a busy, shared machine does not distort), and
 * its resident memory, for the embedded model and for the whole Data Standard (when ../shared has it).
 * Each start is on a migrated database, as a restart is; the first, which migrates, is not counted.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { fromRoot } from '../src/config/paths.js';
import { machine, medianOf, writeReport } from './lib.js';

const fullStandard = fromRoot('..', 'shared', 'edfi', 'api-schema', 'DataStandard-5.0.0-pre.1.json');

/** utime + stime of a process in ms, and its RSS in MB, from /proc (Linux). */
function processFigures(pid: number): { cpuMs: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuMs: (Number(stat[11]) + Number(stat[12])) * 10, rssMb: Math.round(rssKb / 1024) };
}

async function startOnce(env: Record<string, string>, port: number): Promise<{ wallMs: number; cpuMs: number; rssMb: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [fromRoot('dist', 'src', 'app', 'main.js')], { env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' }, stdio: 'ignore' });
  try {
    for (;;) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/ready`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() - started > 120_000) throw new Error('the server did not become ready within 120 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { wallMs: Date.now() - started, ...processFigures(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { rounds: { type: 'string', default: '3' } }, allowPositionals: true, strict: false });
  const rounds = Number(values.rounds);
  const models: Array<[string, string | undefined]> = [['embedded model (27 resources)', undefined]];
  if (existsSync(fullStandard)) models.push(['Data Standard 5.0 (316 resources)', fullStandard]);
  const rows = [];
  for (const [label, schema] of models) {
    const dir = mkdtempSync(join(tmpdir(), 'edgate-bench-startup-'));
    const env = { DATABASE_URL: `sqlite:${join(dir, 'edgate.sqlite')}`, ...(schema ? { EDFI_API_SCHEMA: schema } : {}) };
    const port = 39000 + Math.floor(Math.random() * 1000);
    await startOnce(env, port); // migrates and writes the default descriptors
    const runs = [];
    for (let i = 0; i < rounds; i++) runs.push(await startOnce(env, port));
    rmSync(dir, { recursive: true, force: true });
    rows.push({
      model: label,
      'wall ms to /ready (median)': medianOf(runs.map((r) => r.wallMs)),
      'CPU ms to /ready (median)': medianOf(runs.map((r) => r.cpuMs)),
      'RSS MB at /ready (median)': medianOf(runs.map((r) => r.rssMb)),
    });
  }
  writeReport({ scenario: 'startup', date: new Date().toISOString(), machine: machine(), rows });
}
