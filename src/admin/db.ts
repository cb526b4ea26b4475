import { readFileSync } from 'node:fs';

import { fromRoot } from '../config/paths.js';
import { migrate } from '../../migrations/index.js';
import type { Command } from './context.js';
import { importEdorgs } from './edorg.js';
import { validateEdorgInput } from '../db/edorgs.js';
import { ensureDescriptors } from '../edfi/descriptors.js';
import { loadEdfiModel } from '../edfi/model/index.js';
import { loadDocuments } from '../edfi/seed.js';

interface DemoSeed {
  educationOrganizations: Array<Record<string, unknown>>;
  /** Ed-Fi items by resource name, in dependency order (students before their associations). */
  roster?: Record<string, Array<Record<string, unknown>>>;
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
    const roster = await loadDocuments(db, model, seed.roster ?? {});
    const rosterLines = Object.entries(roster).map(([name, c]) => `  ${name}: ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged`);
    return {
      json: { education_organizations: edorgs, roster },
      human: [`demo district: ${edorgs.created} ed-orgs created, ${edorgs.updated} updated, ${edorgs.unchanged} unchanged`, ...rosterLines].join('\n'),
    };
  },
};
