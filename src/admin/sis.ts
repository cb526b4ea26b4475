import { SingleBar } from 'cli-progress';

import { ApiError } from '../errors.js';
import { pushRoster, readRoster, syncUrl } from '../integrator/sis-push.js';
import { issueSisSecret, listSisSecrets, revokeSisSecrets } from '../sis/institution-secrets.js';
import { flagString, keyValues, table, type AdminContext, type Command, type CommandResult, type Flags } from './context.js';

function positiveInt(flags: Flags, name: string, fallback?: number): number {
  const raw = flagString(flags, name);
  if (raw === undefined && fallback !== undefined) return fallback;
  const value = Number(raw);
  if (raw === undefined || !Number.isSafeInteger(value) || value <= 0) throw new ApiError('invalid_field', `--${name} must be a positive integer${raw === undefined ? '' : `, got "${raw}"`}`);
  return value;
}

const institutionOf = ({ flags }: AdminContext) => positiveInt(flags, 'edorg');

/** Admin side: secrets live in the server's database, so these need DATABASE_URL. */
export const sisCommands: Record<string, Command> = {
  async 'issue-secret'(ctx) {
    const { secret, issued, retired } = await issueSisSecret(ctx.db, await ctx.hashKey(), institutionOf(ctx));
    const json = { institution: issued.institution, secret, secret_id: issued.secret_id, retired: retired.map((r) => r.secret_id) };
    // The reminder goes to stderr, so stdout stays one JSON object even without --json.
    if (!ctx.flags.json) {
      const note = retired.length ? ` Retired the oldest secret (${json.retired.join(', ')}): an institution holds at most two.` : '';
      process.stderr.write(`Store the secret now: it is not shown again.${note}\n`);
    }
    return { json, human: JSON.stringify(json, null, 2), notice: 'Store the secret now: it is not shown again.' };
  },
  async revoke(ctx) {
    const institution = institutionOf(ctx);
    const revoked = await revokeSisSecrets(ctx.db, institution, flagString(ctx.flags, 'secret-id'));
    return { json: { institution, revoked: revoked.map((r) => r.secret_id) }, human: revoked.length ? `revoked ${revoked.length} secret(s) of institution ${institution}: ${revoked.map((r) => r.secret_id).join(', ')}` : `institution ${institution} had no SIS secrets` };
  },
  async list(ctx) {
    const edorg = flagString(ctx.flags, 'edorg');
    const secrets = await listSisSecrets(ctx.db, edorg === undefined ? undefined : positiveInt(ctx.flags, 'edorg'));
    return { json: { secrets }, human: table(secrets as unknown as Array<Record<string, unknown>>, ['secret_id', 'institution', 'created_at']) };
  },
};

/** What a command that needs no database receives: an integrator runs `sis push` far from the server. */
export interface StandaloneContext {
  flags: Flags;
  args: string[];
  env: NodeJS.ProcessEnv;
}

export type StandaloneCommand = (ctx: StandaloneContext) => Promise<CommandResult>;

async function push({ flags, args, env }: StandaloneContext): Promise<CommandResult> {
  const path = args[0];
  const url = flagString(flags, 'url');
  if (!path || !url) throw new ApiError('missing_field', 'usage: edgate sis push FILE --url URL   (secret from SIS_SECRET)');
  const secret = env.SIS_SECRET?.trim();
  if (!secret) throw new ApiError('missing_secret', 'set SIS_SECRET to the institution secret from "edgate sis issue-secret"');
  const roster = readRoster(path);
  const interactive = process.stderr.isTTY && !flags.json;
  const bar = interactive ? new SingleBar({ format: 'pushing [{bar}] {value}/{total} students{status}', stream: process.stderr }) : undefined;
  bar?.start(roster.records.length, 0, { status: '' });
  // On a terminal the bar owns the line: notices and waits show in it (a wait as a countdown), never as lines that
  // the bar's next redraw would overwrite.
  let countdown: NodeJS.Timeout | undefined;
  const status = (text: string) => bar?.update({ status: text ? ` · ${text}` : '' });
  const waitShown = (ms: number, reason: string) => {
    clearInterval(countdown);
    const until = Date.now() + ms;
    const tick = () => {
      const left = Math.ceil((until - Date.now()) / 1000);
      status(left > 0 ? `${reason}, resuming in ${left} s` : '');
      if (left <= 0) clearInterval(countdown);
    };
    tick();
    countdown = setInterval(tick, 1000);
  };
  try {
    const summary = await pushRoster(roster, {
      url,
      secret,
      batchSize: positiveInt(flags, 'batch-size', 5000),
      concurrency: positiveInt(flags, 'concurrency', 2),
      onProgress: (done) => bar?.update(done),
      onNotice: (message) => {
        if (bar) status(message);
        else if (!flags.json) process.stderr.write(`${message}\n`);
      },
      onWait: (ms, reason) => bar && waitShown(ms, reason),
    });
    const json = { file: path, url: syncUrl(url), ...summary };
    return { json, human: keyValues(json) };
  } finally {
    clearInterval(countdown);
    status('');
    bar?.stop();
  }
}

export const sisStandaloneCommands: Record<string, StandaloneCommand> = { push };
