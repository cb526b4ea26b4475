import type { Knex } from 'knex';

import * as core from './20261122000000_core.js';
import * as edfiDocuments from './20261122000100_edfi_documents.js';
import * as sisSecrets from './20261122055000_sis_secrets.js';
import * as documentReferences from './20261130235900_document_references.js';
import * as byteCollation from './20261201000000_byte_collation.js';
import * as portal from './20261201010000_portal.js';
import * as clientEdorgsLater from './20261202010000_client_edorgs_later.js';
import * as changeQueries from './20261202020000_change_queries.js';
import * as edorgKinds from './20261202030000_edorg_kinds.js';
import * as ownershipTokens from './20261202040000_ownership_tokens.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/**
 * Migrations are listed here rather than discovered on disk, so the same list works from the
 * TypeScript sources (tests) and from the compiled dist/ (npm start). Append new ones in order.
 */
const migrations: Array<[string, Migration]> = [
  ['20261122000000_core', core],
  ['20261122000100_edfi_documents', edfiDocuments],
  ['20261122055000_sis_secrets', sisSecrets],
  ['20261130235900_document_references', documentReferences],
  ['20261201000000_byte_collation', byteCollation],
  ['20261201010000_portal', portal],
  ['20261202010000_client_edorgs_later', clientEdorgsLater],
  ['20261202020000_change_queries', changeQueries],
  ['20261202030000_edorg_kinds', edorgKinds],
  ['20261202040000_ownership_tokens', ownershipTokens],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  async getMigrations() {
    return migrations;
  },
  getMigrationName([name]) {
    return name;
  },
  async getMigration([, migration]) {
    return migration;
  },
};

/** Brings the schema to the latest migration; safe to run at every start. */
export async function migrate(db: Knex): Promise<void> {
  await db.migrate.latest({ migrationSource });
}

/** Undoes every migration, newest first. */
export async function rollbackAll(db: Knex): Promise<void> {
  await db.migrate.rollback({ migrationSource }, true);
}
