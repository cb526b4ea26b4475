import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { SingleBar } from 'cli-progress';
import { parse as parseCsv } from 'csv-parse/sync';

import { listEdorgs, putEdorg, validateEdorgInput, type EdorgInput, type UpsertOutcome } from '../db/edorgs.js';
import type { Db } from '../db/knex.js';
import { ApiError } from '../errors.js';
import { flagString, table, type AdminContext, type Command } from './context.js';
import { edorgTypes } from '../db/tables.js';


function describe(row: { id: number; type: string; name: string; parent_id: number | null }) {
  return { id: Number(row.id), type: row.type, name: row.name, parent: row.parent_id === null ? null : Number(row.parent_id) };
}

/**
 * The CLI asks for a school's LEA, though the Data Standard (and so the API) lets a school stand alone: a forgotten
 * --parent would otherwise leave a school outside its district's reach without a word.
 */
function adminInput(raw: Parameters<typeof validateEdorgInput>[0]): EdorgInput {
  const input = validateEdorgInput(raw);
  if (input.type === 'school' && input.parentId === null) throw new ApiError('invalid_parent', `school ${input.id} needs its LEA as parent (--parent N)`);
  return input;
}

const add: Command = async ({ db, flags }) => {
  const input = adminInput({ id: flags.id, type: flags.type, name: flags.name, parentId: flagString(flags, 'parent') });
  await putEdorg(db, input, { upsert: false });
  return { json: { created: describe({ ...input, parent_id: input.parentId ?? null }) }, human: `created ${input.type} ${input.id} "${input.name}"` };
};

const list: Command = async ({ db }) => {
  const rows = (await listEdorgs(db)).map(describe);
  return { json: { education_organizations: rows }, human: table(rows, ['id', 'type', 'name', 'parent']) };
};

/** Rows from JSON (an array, or {educationOrganizations: [...]}) or CSV with a header id,type,name,parent. */
export function readEdorgFile(path: string): EdorgInput[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ApiError('unreadable_file', `cannot read ${path}: ${(err as Error).message}`);
  }
  let rows: Array<Record<string, unknown>>;
  if (extname(path).toLowerCase() === '.csv') {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true }) as Array<Record<string, unknown>>;
  } else {
    try {
      const parsed = JSON.parse(text) as unknown;
      rows = (Array.isArray(parsed) ? parsed : (parsed as { educationOrganizations?: unknown }).educationOrganizations) as Array<Record<string, unknown>>;
    } catch (err) {
      throw new ApiError('invalid_json', `${path} is not valid JSON: ${(err as Error).message}`);
    }
    if (!Array.isArray(rows)) throw new ApiError('invalid_file', `${path} must hold an array of ed-orgs or {"educationOrganizations": [...]}`);
  }
  return rows.map((row, i) => {
    try {
      return adminInput({ ...row, parentId: row.parentId ?? row.parent ?? row.parent_id });
    } catch (err) {
      throw new ApiError('invalid_row', `${path} row ${i + 1}: ${(err as ApiError).detail}`);
    }
  });
}

/**
 * Rows whose parent is in the same file come after it, however deep (a department under a department): by depth
 * within the file, then by the types' order from the top of the tree. A cycle is left for putEdorg to refuse.
 */
function parentsFirst(rows: EdorgInput[]): EdorgInput[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const depths = new Map<number, number>();
  const depthOf = (row: EdorgInput, seen = new Set<number>()): number => {
    const known = depths.get(row.id);
    if (known !== undefined) return known;
    const parent = row.parentId == null ? undefined : byId.get(row.parentId);
    seen.add(row.id);
    const depth = parent && !seen.has(parent.id) ? depthOf(parent, seen) + 1 : 0;
    depths.set(row.id, depth);
    return depth;
  };
  return [...rows].sort((a, b) => depthOf(a) - depthOf(b) || edorgTypes.indexOf(a.type) - edorgTypes.indexOf(b.type));
}

/** Idempotent bulk load: parents before children, each row created, updated or left as it is. */
export async function importEdorgs(db: Db, rows: EdorgInput[], onRow: () => void = () => {}) {
  const counts: Record<UpsertOutcome, number> = { created: 0, updated: 0, unchanged: 0 };
  const ordered = parentsFirst(rows);
  for (const row of ordered) {
    counts[await putEdorg(db, row, { upsert: true })] += 1;
    onRow();
  }
  return counts;
}

const importFile: Command = async ({ db, args, flags }: AdminContext) => {
  const path = args[0] ?? flagString(flags, 'file');
  if (!path) throw new ApiError('missing_field', 'usage: edgate edorg import FILE (.json or .csv)');
  const rows = readEdorgFile(path);
  const bar = process.stderr.isTTY && !flags.json ? new SingleBar({ format: 'importing [{bar}] {value}/{total} ed-orgs', stream: process.stderr }) : undefined;
  bar?.start(rows.length, 0);
  try {
    const counts = await importEdorgs(db, rows, () => bar?.increment());
    return { json: { received: rows.length, ...counts }, human: `${rows.length} ed-orgs: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged` };
  } finally {
    bar?.stop();
  }
};

export const edorgCommands: Record<string, Command> = { add, list, import: importFile };
