import { readFileSync } from 'node:fs';

import { fromRoot } from '../config/paths.js';
import { migrate } from '../db/knex.js';
import type { Command } from './context.js';
import { importEdorgs } from './edorg.js';
import { validateEdorgInput } from '../db/edorgs.js';

interface DemoSeed {
  educationOrganizations: Array<Record<string, unknown>>;
}

export const dbCommands: Record<string, Command> = {
  async migrate({ db }) {
    await migrate(db);
    return { json: { migrated: true }, human: 'database is up to date' };
  },
  /** The demo district from seeds/demo.json; safe to run again. */
  async seed({ db }) {
    const seed = JSON.parse(readFileSync(fromRoot('seeds', 'demo.json'), 'utf8')) as DemoSeed;
    const edorgs = await importEdorgs(db, seed.educationOrganizations.map((row) => validateEdorgInput(row)));
    return { json: { education_organizations: edorgs }, human: `demo district: ${edorgs.created} ed-orgs created, ${edorgs.updated} updated, ${edorgs.unchanged} unchanged` };
  },
};
