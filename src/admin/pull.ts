import { SingleBar } from 'cli-progress';

import { ApiError } from '../errors.js';
import { EdfiApi } from '../integrator/edfi-api.js';
import { pull } from '../integrator/pull.js';
import { flagList, flagString, keyValues, type CommandResult, type Flags } from './context.js';
import type { StandaloneContext } from './sis.js';

function positiveInt(flags: Flags, name: string, fallback: number, max: number): number {
  const raw = flagString(flags, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw new ApiError('invalid_field', `--${name} must be an integer between 1 and ${max}, got "${raw}"`);
  return value;
}

/**
 * `edgate pull --url URL --out DIR [--resource NAME]… [--partitions N] [--page-size N]`: the client's key and secret
 * come from EDGATE_CLIENT_ID and EDGATE_CLIENT_SECRET, never from the command line (it shows in `ps` and in history).
 */
async function pullCommand({ flags, env }: StandaloneContext): Promise<CommandResult> {
  const url = flagString(flags, 'url');
  const outDir = flagString(flags, 'out');
  if (!url || !outDir) throw new ApiError('missing_field', 'usage: edgate pull --url URL --out DIR   (client from EDGATE_CLIENT_ID and EDGATE_CLIENT_SECRET)');
  const clientId = env.EDGATE_CLIENT_ID?.trim();
  const clientSecret = env.EDGATE_CLIENT_SECRET?.trim();
  if (!clientId || !clientSecret) throw new ApiError('missing_secret', 'set EDGATE_CLIENT_ID and EDGATE_CLIENT_SECRET to the API client pull reads as');
  const interactive = process.stderr.isTTY && !flags.json;
  const bar = interactive ? new SingleBar({ format: 'pulling {resource} [{bar}] {value}/{total}{status}', stream: process.stderr }) : undefined;
  let done = 0;
  const api = new EdfiApi({
    url,
    clientId,
    clientSecret,
    // On a terminal a wait shows in the bar; elsewhere one line on stderr (stdout stays the summary).
    onWait: (ms, reason) => (bar ? bar.update(done, { status: ` · ${reason}, waiting ${Math.ceil(ms / 1000)} s` }) : flags.json || process.stderr.write(`${reason}; waiting ${Math.ceil(ms / 1000)} s\n`)),
  });
  try {
    const summary = await pull({
      api,
      outDir,
      resources: flagList(flags, 'resource'),
      partitions: positiveInt(flags, 'partitions', 4, 200),
      pageSize: positiveInt(flags, 'page-size', 500, 500),
      onResource: (resource, total) => {
        done = 0;
        bar?.stop();
        bar?.start(total, 0, { resource, status: '' });
      },
      onItems: (count) => {
        done += count;
        bar?.update(done, { status: '' });
      },
    });
    const changed = Object.entries(summary.resources).filter(([, r]) => r.items || r.deletes || r.keyChanges);
    const human = [
      keyValues({ newestChangeVersion: summary.newestChangeVersion, resources: Object.keys(summary.resources).length, items: summary.items, seconds: summary.seconds, waited: summary.waited, retried: summary.retried }),
      ...changed.map(([name, r]) => `  ${name} ${r.from}-${r.to}: ${r.items} items, ${r.deletes} deletes, ${r.keyChanges} key changes`),
    ].join('\n');
    return { json: summary, human };
  } finally {
    bar?.stop();
  }
}

export const pullStandaloneCommands = { '': pullCommand };
