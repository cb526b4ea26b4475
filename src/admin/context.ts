import type { Config } from '../config/index.js';
import type { Db } from '../db/knex.js';

export interface Flags {
  json: boolean;
  [name: string]: string | string[] | boolean | undefined;
}

/** What every admin command receives: the same configuration and database as the server. */
export interface AdminContext {
  config: Config;
  db: Db;
  flags: Flags;
  /** Positional arguments after `<group> <action>`. */
  args: string[];
  hashKey(): Promise<Buffer>;
}

/** A command's result: `json` for --json and scripts, `human` for a terminal. */
export interface CommandResult {
  json: unknown;
  human: string;
  /** A reminder for the person at the terminal: written to stderr, so stdout stays pipeable (`| jq`). */
  notice?: string;
  /** Non-zero when the command ran but found what it checks for wanting (`profiles check`). */
  exitCode?: number;
}

export type Command = (ctx: AdminContext) => Promise<CommandResult>;

export function flagList(flags: Flags, name: string): string[] | undefined {
  const value = flags[name];
  if (value === undefined) return undefined;
  return (Array.isArray(value) ? value : [String(value)]).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

export function flagString(flags: Flags, name: string): string | undefined {
  const value = flags[name];
  return Array.isArray(value) ? value[value.length - 1] : typeof value === 'string' ? value : undefined;
}

/** A plain two-column table for terminals. */
export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (!rows.length) return '(none)';
  const cells = [columns, ...rows.map((r) => columns.map((c) => (Array.isArray(r[c]) ? (r[c] as unknown[]).join(',') : String(r[c] ?? ''))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function keyValues(record: Record<string, unknown>): string {
  const width = Math.max(...Object.keys(record).map((k) => k.length));
  return Object.entries(record)
    .map(([k, v]) => `${k.padEnd(width)}  ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`)
    .join('\n');
}
