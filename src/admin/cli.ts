#!/usr/bin/env node
// First: refuses a Node.js that is too old before any driver loads.
import '../config/runtime.js';

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import { ConfigError, loadConfig } from '../config/index.js';
import { fromRoot } from '../config/paths.js';
import { createDb } from '../db/knex.js';
import { migrate } from '../../migrations/index.js';
import { resolveSecretHashKey } from '../db/settings.js';
import { ApiError } from '../errors.js';
import { ServerRefused } from '../integrator/server-calls.js';
import { accessCommands } from './access.js';
import { auditCommands } from './audit.js';
import { clientCommands } from './client.js';
import type { Command, CommandResult, Flags } from './context.js';
import { dbCommands } from './db.js';
import { edorgCommands } from './edorg.js';
import { keyCommands } from './keys.js';
import { partnerCommands } from './partner.js';
import { profilesStandaloneCommands } from './profiles.js';
import { pullStandaloneCommands } from './pull.js';
import { sisCommands, sisStandaloneCommands, type StandaloneCommand } from './sis.js';

const groups: Record<string, Record<string, Command>> = {
  edorg: edorgCommands,
  client: clientCommands,
  keys: keyCommands,
  db: dbCommands,
  sis: sisCommands,
  partner: partnerCommands,
  access: accessCommands,
  audit: auditCommands,
};

/** Commands that run without the server's database or configuration (integrator tools). */
const standaloneGroups: Record<string, Record<string, StandaloneCommand>> = {
  sis: sisStandaloneCommands,
  profiles: profilesStandaloneCommands,
  pull: pullStandaloneCommands,
};

const usage = `usage: edgate <group> <action> [flags] [--json]
       edgate --version | --help

  edorg add --id N --type TYPE --name "…" [--parent N]
                               TYPE: sea|esc|lea|school|postsecondary|network|community_org|community_provider|department
                               (or the Ed-Fi name, e.g. OrganizationDepartment)
  edorg import FILE            JSON or CSV (id,type,name,parent); idempotent
  edorg list
  client create --name "…" --tier TIER [--edorg N]… [--edorg-later] [--profile NAME]… [--claim-set NAME] [--namespace PREFIX]…
                [--creator-token NAME] [--ownership-token NAME]…
                               --edorg-later: ed-orgs not created yet are assigned too; reach starts when they are
                               --creator-token: the ownership token stamped on what the client creates (default: one of its own)
                               --ownership-token: tokens whose items the ownership strategy lets it reach (its creator token always)
  client list
  client show|update|rotate-secret|disable|enable CLIENT_ID   (update takes the create flags)
  client pending               portal applications waiting for an admin's approval
  client approve CLIENT_ID     lets a pending portal application get tokens
  partner add --name "…" --edorg N…   a vendor organisation and its approved reach
  partner list
  partner invite --partner PARTNER_ID --email ADDRESS   prints a one-time link to set a password (mailed too with SMTP_URL)
  access list [--status pending|approved|denied] [--partner PARTNER_ID]
  access approve|deny REQUEST_ID [--note "…"]   approving adds the schools to the partner and its applications
  audit list [--limit N] [--partner PARTNER_ID]
  keys list|rotate
  sis issue-secret --edorg N   prints the institution's new SIS secret once; at most two live, issuing a third retires the oldest
  sis revoke --edorg N [--secret-id ID]   all of the institution's secrets, or the one named
  sis list [--edorg N]
  sis push FILE --url URL [--batch-size N] [--concurrency N]   CSV, JSON or JSON Lines roster; secret from SIS_SECRET
  pull --url URL --out DIR [--resource NAME]… [--partitions N] [--page-size N]   copies what the client may read into JSON Lines, incrementally; client from EDGATE_CLIENT_ID/EDGATE_CLIENT_SECRET
  profiles check               checks every definition in profilesDir as the server does at start; exits 1 on a problem
  db migrate|seed
  serve stats [--port 5001] [--jwks-url URL] [--audience AUD]   the attendance statistics as their own service behind the gateway

Configuration comes from the same environment (DATABASE_URL, …) and EDGATE_CONFIG file as the server.`;

const options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  id: { type: 'string' },
  type: { type: 'string' },
  name: { type: 'string' },
  parent: { type: 'string' },
  file: { type: 'string' },
  tier: { type: 'string' },
  edorg: { type: 'string', multiple: true },
  'edorg-later': { type: 'boolean' },
  profile: { type: 'string', multiple: true },
  'claim-set': { type: 'string' },
  namespace: { type: 'string', multiple: true },
  'creator-token': { type: 'string' },
  'ownership-token': { type: 'string', multiple: true },
  'secret-id': { type: 'string' },
  url: { type: 'string' },
  'batch-size': { type: 'string' },
  concurrency: { type: 'string' },
  port: { type: 'string' },
  'jwks-url': { type: 'string' },
  audience: { type: 'string' },
  partner: { type: 'string' },
  email: { type: 'string' },
  status: { type: 'string' },
  note: { type: 'string' },
  limit: { type: 'string' },
  out: { type: 'string' },
  resource: { type: 'string', multiple: true },
  partitions: { type: 'string' },
  'page-size': { type: 'string' },
} as const;

function version(): string {
  return (JSON.parse(readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }).version;
}

function print(result: CommandResult, json: boolean): void {
  process.stdout.write((json ? JSON.stringify(result.json) : result.human) + '\n');
  if (result.notice && !json) process.stderr.write(result.notice + '\n');
  if (result.exitCode) process.exitCode = result.exitCode;
}

function fail(message: string, code: string, json: boolean, exitCode: number): never {
  if (json) process.stdout.write(JSON.stringify({ error: code, detail: message }) + '\n');
  process.stderr.write(`edgate: ${message}\n`);
  process.exit(exitCode);
}

async function main(argv: string[]): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${usage}`, 'usage', argv.includes('--json'), 2);
  }
  const flags = { ...parsed.values, json: Boolean(parsed.values.json) } as Flags;
  const [group, action, ...args] = parsed.positionals;
  if (parsed.values.version) {
    process.stdout.write((flags.json ? JSON.stringify({ version: version() }) : `edgate ${version()}`) + '\n');
    return;
  }
  if (parsed.values.help || !group) {
    process.stdout.write(usage + '\n');
    return;
  }
  const standalone = standaloneGroups[group]?.[action ?? ''];
  if (standalone) {
    print(await standalone({ flags, args, env: process.env }), flags.json);
    return;
  }
  // Loaded only when asked for: the one-shot commands need none of the HTTP stack.
  const service = group === 'serve' ? (await import('./serve.js')).serveCommands[action ?? ''] : undefined;
  if (service) return service(loadConfig(), flags);
  const command = groups[group]?.[action ?? ''];
  if (!command) fail(`unknown command "${[group, action].filter(Boolean).join(' ')}"\n\n${usage}`, 'usage', flags.json, 2);

  const config = loadConfig();
  // Admin commands (migrations among them) are watched by an operator: no statement bound.
  const db = createDb(config.databaseUrl, { timeoutMs: 0 });
  try {
    await migrate(db);
    print(await command({ config, db, flags, args, hashKey: () => resolveSecretHashKey(db, config) }), flags.json);
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).catch((err) => {
  const json = process.argv.includes('--json');
  // A required flag or argument left out is a usage error, like an unknown one: exit 2.
  if (err instanceof ApiError && err.code === 'missing_field') fail(`${err.detail ?? err.code}\n\n${usage}`, err.code, json, 2);
  if (err instanceof ApiError) fail(err.detail ?? err.code, err.code, json, 1);
  if (err instanceof ServerRefused) fail(err.message, err.code, json, 1);
  if (err instanceof ConfigError) fail(err.message, 'config', json, 78);
  // knex prefixes driver errors with the SQL, which may hold hashes: show only the driver's words.
  const message = err instanceof Error ? err.message.split(' - ').pop()! : String(err);
  fail(message, 'internal_error', json, 1);
});
