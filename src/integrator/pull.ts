import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';

import { ApiError } from '../errors.js';
import type { Answer, EdfiApi } from './edfi-api.js';

/**
 * `edgate pull`: copies every resource a client can read into JSON Lines files, incrementally. Each run reads the
 * newest change version once and copies, per resource, what changed since the version the last run reached (the whole
 * resource the first time), plus its deletes and key changes, into files named by that window:
 *   OUT/ed-fi/students.0-1842.jsonl, then OUT/ed-fi/students.1843-1900.jsonl and students.1843-1900.deletes.jsonl, …
 * OUT/pull-state.json remembers the version reached per resource, written as each resource completes, so an
 * interrupted run resumes with the resources it had not finished. Items are read in parallel, one reader per partition.
 */
export interface PullOptions {
  api: EdfiApi;
  outDir: string;
  /** `ed-fi/students` or `students`; every resource the client may read when absent. */
  resources?: string[];
  partitions: number;
  pageSize: number;
  onResource?(resource: string, total: number): void;
  onItems?(count: number): void;
}

export interface ResourcePull {
  from: number;
  to: number;
  items: number;
  deletes: number;
  keyChanges: number;
  files: string[];
}

export interface PullSummary {
  newestChangeVersion: number;
  resources: Record<string, ResourcePull>;
  items: number;
  seconds: number;
  waited: number;
  retried: number;
}

interface PullState {
  resources: Record<string, { changeVersion: number; pulledAt: string }>;
}

const stateFile = (outDir: string) => join(outDir, 'pull-state.json');

function readState(outDir: string): PullState {
  const file = stateFile(outDir);
  if (!existsSync(file)) return { resources: {} };
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PullState;
  } catch (err) {
    throw new ApiError('invalid_file', `${file} is not a pull state file (${(err as Error).message}); move it away to pull everything again`);
  }
}

/** Written whole and renamed into place: a crash leaves the old state or the new one, never half of one. */
function writeState(outDir: string, state: PullState): void {
  const file = stateFile(outDir);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
}

/** "ed-fi/students" from "/ed-fi/students", "ed-fi/students" or "students". */
function resourcePath(name: string): string {
  const trimmed = name.replace(/^\/+|\/+$/g, '');
  return trimmed.includes('/') ? trimmed : `ed-fi/${trimmed}`;
}

async function readableResources(api: EdfiApi): Promise<string[]> {
  const info = await api.tokenInfo();
  return (info.resources ?? []).filter((r) => r.operations.includes('Read')).map((r) => resourcePath(r.resource));
}

/** A JSON Lines file opened on its first line, so that an empty window leaves no file behind. */
class LinesFile {
  private stream?: WriteStream;
  lines = 0;

  constructor(readonly path: string) {}

  async write(items: unknown[]): Promise<void> {
    if (!items.length) return;
    if (!this.stream) {
      mkdirSync(dirname(this.path), { recursive: true });
      this.stream = createWriteStream(this.path);
    }
    this.lines += items.length;
    const text = items.map((item) => JSON.stringify(item)).join('\n') + '\n';
    if (!this.stream.write(text)) await new Promise<void>((resolve) => this.stream!.once('drain', () => resolve()));
  }

  async close(): Promise<string[]> {
    if (!this.stream) return [];
    await new Promise<void>((resolve, reject) => this.stream!.end((err?: Error | null) => (err ? reject(err) : resolve())));
    return [this.path];
  }
}

/** Every page of one partition, following Next-Page-Token to the partition's end. */
async function readPartition(api: EdfiApi, collection: string, window: string, pageSize: number, token: string, out: LinesFile, onItems?: (n: number) => void): Promise<void> {
  for (let next: string | null = token; next; ) {
    const page: Answer<unknown[]> = await api.get<unknown[]>(`${collection}?${window}&pageSize=${pageSize}&pageToken=${encodeURIComponent(next)}`);
    await out.write(page.body);
    onItems?.(page.body.length);
    next = page.headers.get('next-page-token');
  }
}

/** Offset pages of /deletes or /keyChanges over a closed window (its content cannot grow), 500 at a time. */
async function readTracked(api: EdfiApi, path: string, window: string, out: LinesFile): Promise<void> {
  for (let offset = 0; ; offset += 500) {
    const { body } = await api.get<unknown[]>(`${path}?${window}&limit=500&offset=${offset}`);
    await out.write(body);
    if (body.length < 500) return;
  }
}

async function pullResource(options: PullOptions, resource: string, from: number, to: number): Promise<ResourcePull> {
  const { api, outDir, partitions, pageSize } = options;
  const collection = `/data/v3/${resource}`;
  // The first copy takes everything up to the newest version; later ones the versions after the last run's.
  const window = from === 0 ? `maxChangeVersion=${to}` : `minChangeVersion=${from}&maxChangeVersion=${to}`;
  const total = Number((await api.get<unknown[]>(`${collection}?${window}&limit=0&totalCount=true`)).headers.get('total-count') ?? 0);
  options.onResource?.(resource, total);
  const base = join(outDir, ...resource.split('/'));
  const items = new LinesFile(`${base}.${from}-${to}.jsonl`);
  // Partitions of the window's items, as many as asked (the server's floor of 2,500 items each would leave one reader).
  const { pageTokens } = (await api.get<{ pageTokens: string[] }>(`${collection}/partitions?${window}&number=${partitions}&allowSmallPartitions=true`)).body;
  await Promise.all(pageTokens.map((token) => readPartition(api, collection, window, pageSize, token, items, options.onItems)));
  const deletes = new LinesFile(`${base}.${from}-${to}.deletes.jsonl`);
  const keyChanges = new LinesFile(`${base}.${from}-${to}.keyChanges.jsonl`);
  // A first copy has nothing to delete or re-key: it holds what exists now.
  if (from > 0) {
    await readTracked(api, `${collection}/deletes`, window, deletes);
    await readTracked(api, `${collection}/keyChanges`, window, keyChanges);
  }
  const files = [...(await items.close()), ...(await deletes.close()), ...(await keyChanges.close())];
  return { from, to, items: items.lines, deletes: deletes.lines, keyChanges: keyChanges.lines, files };
}

export async function pull(options: PullOptions): Promise<PullSummary> {
  const started = Date.now();
  const { api, outDir } = options;
  mkdirSync(outDir, { recursive: true });
  const state = readState(outDir);
  // One version for the whole run: every resource is copied up to the same point.
  const newest = (await api.get<{ newestChangeVersion: number }>('/changeQueries/v1/availableChangeVersions')).body.newestChangeVersion;
  const resources = options.resources?.map(resourcePath) ?? (await readableResources(api));
  const summary: PullSummary = { newestChangeVersion: newest, resources: {}, items: 0, seconds: 0, waited: 0, retried: 0 };
  for (const resource of resources) {
    const reached = state.resources[resource]?.changeVersion;
    const from = reached === undefined ? 0 : reached + 1;
    if (from > newest) {
      summary.resources[resource] = { from, to: newest, items: 0, deletes: 0, keyChanges: 0, files: [] };
      continue;
    }
    summary.resources[resource] = await pullResource(options, resource, from, newest);
    summary.items += summary.resources[resource].items;
    state.resources[resource] = { changeVersion: newest, pulledAt: new Date().toISOString() };
    writeState(outDir, state);
  }
  return { ...summary, ...api.counts, seconds: Math.round((Date.now() - started) / 10) / 100 };
}
