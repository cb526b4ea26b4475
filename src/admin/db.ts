import { readFileSync } from 'node:fs';

import { fromRoot } from '../config/paths.js';
import { migrate } from '../../migrations/index.js';
import type { Command } from './context.js';
import { importEdorgs } from './edorg.js';
import { validateEdorgInput } from '../db/edorgs.js';
import { ensureDescriptors } from '../edfi/descriptors.js';
import { loadEdfiModel, type EdfiModel } from '../edfi/model/index.js';
import { loadDocuments } from '../edfi/seed.js';

interface DemoSeed {
  educationOrganizations: Array<Record<string, unknown>>;
  /** Ed-Fi items by resource name, in dependency order (students before their associations). */
  roster?: Record<string, Documents>;
  /** Taken instead of the roster's, for the resources they name, by a model that serves sessions. */
  withSessions?: Record<string, Documents>;
}

type Documents = Array<Record<string, unknown>>;

/**
 * The roster in the loaded model's shape: where the model serves sessions (the whole Data Standard), an attendance
 * event names its session, so the sessions and those events come from `withSessions`, after everything else.
 */
function rosterFor(model: EdfiModel, seed: DemoSeed): Record<string, Documents> {
  const roster = seed.roster ?? {};
  if (!seed.withSessions || !model.named('sessions')) return roster;
  const replaced = new Set(Object.keys(seed.withSessions));
  return { ...Object.fromEntries(Object.entries(roster).filter(([name]) => !replaced.has(name))), ...seed.withSessions };
}

export const dbCommands: Record<string, Command> = {
  async migrate({ db }) {
    await migrate(db);
    return { json: { migrated: true }, human: 'database is up to date' };
  },
  /** The demo district from seeds/demo.json; safe to run again. */
  async seed({ db, config }) {
    const model = loadEdfiModel(config.edfiApiSchema);
    await migrate(db);
    await ensureDescriptors(db, model);
    const seed = JSON.parse(readFileSync(fromRoot('seeds', 'demo.json'), 'utf8')) as DemoSeed;
    const edorgs = await importEdorgs(db, seed.educationOrganizations.map((row) => validateEdorgInput(row)));
    const roster = await loadDocuments(db, model, rosterFor(model, seed));
    const rosterLines = Object.entries(roster).map(([name, c]) => `  ${name}: ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged`);
    return {
      json: { education_organizations: edorgs, roster },
      human: [`demo district: ${edorgs.created} ed-orgs created, ${edorgs.updated} updated, ${edorgs.unchanged} unchanged`, ...rosterLines].join('\n'),
    };
  },
};
