import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';

import { ApiError } from '../errors.js';
import { crossRecordProblem, recordProblem, type RosterProblem, type RosterRecord } from '../sis/roster.js';
import type { SyncCounts } from '../sis/upsert.js';
import { backoffMs, pause, retryAfterMs, ServerRefused } from './server-calls.js';

/**
 * The integrator's side of SIS sync (`edgate sis push`): read a roster file, check every row, then
 * send it in batches. Re-running is safe because the endpoint is idempotent.
 */

export interface Roster {
  records: RosterRecord[];
  /** Where record i sits in the file, for messages: "line 12" or "record 12". */
  whereIs(index: number): string;
}

type RawRow = Record<string, unknown>;

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ApiError('unreadable_file', `cannot read ${path}: ${(err as Error).message}`);
  }
}

function csvRows(text: string): { rows: RawRow[]; lines: number[] } {
  const parsed = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, info: true, bom: true }) as Array<{ record: RawRow; info: { lines: number } }>;
  return { rows: parsed.map((p) => p.record), lines: parsed.map((p) => p.info.lines) };
}

function jsonRows(path: string, text: string): RawRow[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ApiError('invalid_json', `${path} is not valid JSON: ${(err as Error).message}`);
  }
  const rows = Array.isArray(parsed) ? parsed : (parsed as { students?: unknown } | null)?.students;
  if (!Array.isArray(rows)) throw new ApiError('invalid_file', `${path} must hold an array of students or {"students": [...]}`);
  return rows as RawRow[];
}

/** JSON Lines: one record a line, so problems point at real line numbers as in CSV. */
function jsonLinesRows(path: string, text: string): { rows: RawRow[]; lines: number[] } {
  const rows: RawRow[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      rows.push(JSON.parse(line) as RawRow);
    } catch {
      throw new ApiError('invalid_row', `${path} line ${i + 1}: not valid JSON`);
    }
    lines.push(i + 1);
  });
  return { rows, lines };
}

/** Files carry text; the endpoint wants a number for schoolId and no empty optional members. */
function normalise(row: RawRow): RawRow {
  if (!row || typeof row !== 'object' || Array.isArray(row)) return row;
  const out: RawRow = {};
  for (const [name, value] of Object.entries(row)) {
    if (value === '' || value === null) continue;
    out[name] = name === 'schoolId' && typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
  }
  return out;
}

function refuseRow(path: string, roster: Pick<Roster, 'whereIs'>, problem: RosterProblem): never {
  const where = roster.whereIs(problem.index ?? 0);
  const member = problem.member ? `${problem.member} ` : '';
  throw new ApiError('invalid_row', `${path} ${where}: ${member}${problem.explain((i) => roster.whereIs(i))}; nothing was sent`, { line: where });
}

/** Reads and checks a whole roster (CSV, JSON or JSON Lines) before anything is sent. */
export function readRoster(path: string): Roster {
  const text = readText(path);
  const ext = extname(path).toLowerCase();
  let rows: RawRow[];
  let whereIs: (index: number) => string;
  if (ext === '.csv' || ext === '.jsonl' || ext === '.ndjson') {
    const read = ext === '.csv' ? csvRows(text) : jsonLinesRows(path, text);
    rows = read.rows;
    whereIs = (i) => `line ${read.lines[i]}`;
  } else {
    rows = jsonRows(path, text);
    whereIs = (i) => `record ${i + 1}`;
  }
  const records = rows.map(normalise);
  const roster = { records: records as unknown as RosterRecord[], whereIs };
  records.forEach((record, i) => {
    const problem = recordProblem(record, i);
    if (problem) refuseRow(path, roster, problem);
  });
  const problem = crossRecordProblem(roster.records);
  if (problem) refuseRow(path, roster, problem);
  return roster;
}

export interface PushOptions {
  /** The server's base URL, or the full /api/sis/sync URL. */
  url: string;
  secret: string;
  batchSize: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Attempts per batch for 5xx answers and network errors. */
  maxAttempts?: number;
  onProgress?(recordsDone: number): void;
  onNotice?(message: string): void;
  /** Called as a wait starts (a 429's Retry-After, a retry's backoff): a terminal shows a countdown. */
  onWait?(ms: number, reason: string): void;
}

export interface PushSummary extends SyncCounts {
  batches: number;
  /** Batches sent again after a 5xx answer or a network error. */
  retries: number;
  /** 429 answers waited out. */
  rate_limited: number;
  seconds: number;
}

export function syncUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/api/sis/sync') ? base : `${base}/api/sis/sync`;
}

interface Batch {
  offset: number;
  records: RosterRecord[];
}

class Sender {
  readonly summary: PushSummary = { received: 0, created: 0, updated: 0, unchanged: 0, batches: 0, retries: 0, rate_limited: 0, seconds: 0 };
  private done = 0;

  constructor(private readonly options: PushOptions, private readonly roster: Roster) {}

  /** Sends one batch until it is accepted, waiting out 429s and retrying 5xx and network errors. */
  async send(batch: Batch): Promise<void> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    for (let failures = 0; ; ) {
      let response: Response;
      try {
        response = await fetch(syncUrl(this.options.url), {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.secret}` },
          body: JSON.stringify({ students: batch.records }),
        });
      } catch (err) {
        if (++failures >= maxAttempts) throw new ApiError('unreachable', `cannot reach ${syncUrl(this.options.url)}: ${(err as Error).message}`);
        await this.retry(`network error (${(err as Error).message})`, backoffMs(failures));
        continue;
      }
      if (response.status === 200) return this.accept(batch, (await response.json()) as SyncCounts);
      const answer = (await response.json().catch(() => ({}))) as { error?: string; detail?: string; max?: number; field?: string };
      if (response.status === 429) {
        this.summary.rate_limited += 1;
        const wait = retryAfterMs(response.headers.get('retry-after'));
        this.options.onNotice?.(`rate limited; waiting ${response.headers.get('retry-after') ?? '1'} s as the server asks`);
        this.options.onWait?.(wait, 'rate limited');
        await pause(wait);
        continue;
      }
      if (response.status === 413 && answer.error === 'batch_too_large' && answer.max && answer.max < batch.records.length) {
        return this.split(batch, answer.max);
      }
      if (response.status >= 500 && ++failures < maxAttempts) {
        await this.retry(`server answered ${response.status}`, backoffMs(failures));
        continue;
      }
      throw this.refusal(batch, response.status, answer);
    }
  }

  private async retry(reason: string, ms: number): Promise<void> {
    this.summary.retries += 1;
    this.options.onNotice?.(`${reason}; retrying in ${Math.round(ms)} ms`);
    this.options.onWait?.(ms, reason);
    await pause(ms);
  }

  /** The server's cap is lower than ours: send this batch in pieces it accepts. */
  private async split(batch: Batch, max: number): Promise<void> {
    this.options.onNotice?.(`the server takes at most ${max} students a batch; splitting`);
    for (let i = 0; i < batch.records.length; i += max) await this.send({ offset: batch.offset + i, records: batch.records.slice(i, i + max) });
  }

  private accept(batch: Batch, counts: SyncCounts): void {
    this.summary.batches += 1;
    this.summary.received += counts.received;
    this.summary.created += counts.created;
    this.summary.updated += counts.updated;
    this.summary.unchanged += counts.unchanged;
    this.done += batch.records.length;
    this.options.onProgress?.(this.done);
  }

  /** A refusal the client cannot fix by waiting: name the rows and pass on the server's words. */
  private refusal(batch: Batch, status: number, answer: { error?: string; detail?: string; field?: string }): ServerRefused {
    const first = this.roster.whereIs(batch.offset);
    const last = this.roster.whereIs(batch.offset + batch.records.length - 1);
    const index = /^students\[(\d+)\]/.exec(answer.field ?? '')?.[1];
    const at = index === undefined ? '' : ` (${this.roster.whereIs(batch.offset + Number(index))})`;
    const earlier = this.summary.batches ? `; the ${this.summary.batches} batch(es) accepted before it are written, so fix the file and re-run` : '';
    return new ServerRefused(answer.error ?? 'push_failed', `the server refused the batch from ${first} to ${last} with ${status} ${answer.error ?? ''}${at}: ${answer.detail ?? 'no detail'}${earlier}`);
  }
}

/** Sends the roster in batches, `concurrency` at a time; stops at the first refusal. */
export async function pushRoster(roster: Roster, options: PushOptions): Promise<PushSummary> {
  const started = Date.now();
  const sender = new Sender(options, roster);
  const batches: Batch[] = [];
  for (let offset = 0; offset < roster.records.length; offset += options.batchSize) {
    batches.push({ offset, records: roster.records.slice(offset, offset + options.batchSize) });
  }
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < batches.length) {
      const batch = batches[next++];
      try {
        await sender.send(batch);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, batches.length)) }, worker));
  return { ...sender.summary, seconds: Math.round((Date.now() - started) / 10) / 100 };
}
