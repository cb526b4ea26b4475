import { loadConfig } from '../config/index.js';
import { loadProfiles } from '../edfi/profiles/registry.js';
import { loadEdfiModel } from '../edfi/model/index.js';
import type { CommandResult } from './context.js';
import type { StandaloneContext } from './sis.js';

/**
 * `edgate profiles check`: the same checks the server makes at start, without starting it. Every problem is listed
 * with file, profile and member; the exit code is 1 when there is one, so a deployment can refuse a bad profilesDir.
 */
async function check({ env }: StandaloneContext): Promise<CommandResult> {
  const config = loadConfig(env);
  const { registry, dir, problems, skipped } = loadProfiles(config.profilesDir, loadEdfiModel(config.edfiApiSchema).metas);
  const served = registry.profiles.map((p) => p.name);
  const lines = [`${dir}: ${served.length} profile(s) in service, ${problems.length} problem(s)`, ...problems.map((p) => `  problem: ${p}`)];
  if (skipped.length) lines.push(`  skipped (not .xml or .json): ${skipped.join(', ')}`);
  return {
    json: { dir, profiles: served, invalid: registry.invalid.map((p) => p.name), problems, skipped },
    human: lines.join('\n'),
    exitCode: problems.length ? 1 : 0,
  };
}

export const profilesStandaloneCommands = { check };
