import type { Knex } from 'knex';

import { byteCollation } from '../src/db/collation.js';

/**
 * Ownership tokens, the ODS/API's record-level ownership (its OwnershipTokens, ApiClientOwnershipTokens and
 * CreatedByOwnershipTokenId):
 * - ownership_tokens: named tokens; authorisation compares their integer ids, never their names.
 * - clients.creator_ownership_token_id: the token stamped on every item the client creates.
 * - client_ownership_tokens: the tokens whose items the client may reach under the `ownership` strategy.
 * - edfi_documents / edfi_tracked_changes .created_by_ownership_token_id: the creating client's token, or null
 *   (items the seed, the SIS sync or a client without a token wrote: no client reaches those by ownership).
 *
 * Every existing client gets a token of its own as creator and as its one accessible token, and the items it created
 * (created_by) are stamped with it, so the `ownership` strategy keeps meaning "the creating client" for them.
 */
const isMysql = (knex: Knex) => knex.client.config.client === 'mysql2';

/** The name of the token a client gets when it is given none (src/db/clients.ts uses the same). */
const ownTokenName = (clientId: string) => `client:${clientId}`;

export async function up(knex: Knex): Promise<void> {
  const collation = isMysql(knex) ? await byteCollation(knex) : undefined;
  await knex.schema.createTable('ownership_tokens', (t) => {
    if (collation) t.collate(collation);
    t.increments('id').primary();
    t.string('name', 80).notNullable().unique();
    t.bigInteger('created_at').notNullable();
  });
  await knex.schema.createTable('client_ownership_tokens', (t) => {
    if (collation) t.collate(collation);
    t.string('client_id', 64).notNullable().references('client_id').inTable('clients').onDelete('CASCADE');
    t.integer('ownership_token_id').unsigned().notNullable().references('id').inTable('ownership_tokens');
    t.primary(['client_id', 'ownership_token_id']);
  });
  // No foreign keys to the tokens from here on: a token is never deleted, the documents' column is written on every
  // create, and SQLite cannot drop a column a foreign key names (down).
  await knex.schema.alterTable('clients', (t) => {
    t.integer('creator_ownership_token_id').unsigned().nullable();
  });
  await knex.schema.alterTable('edfi_documents', (t) => {
    t.integer('created_by_ownership_token_id').unsigned().nullable();
    // Lists under the ownership strategy read a resource's items by token.
    t.index(['resource', 'created_by_ownership_token_id'], 'edfi_documents_resource_ownership');
  });
  await knex.schema.alterTable('edfi_tracked_changes', (t) => {
    t.integer('created_by_ownership_token_id').unsigned().nullable();
  });
  await giveExistingClientsTheirOwnTokens(knex);
}

async function giveExistingClientsTheirOwnTokens(knex: Knex): Promise<void> {
  const clients = (await knex('clients').select('client_id')) as Array<{ client_id: string }>;
  const now = Date.now();
  for (const { client_id } of clients) {
    await knex('ownership_tokens').insert({ name: ownTokenName(client_id), created_at: now });
    const { id } = (await knex('ownership_tokens').where({ name: ownTokenName(client_id) }).first('id')) as { id: number };
    await knex('client_ownership_tokens').insert({ client_id, ownership_token_id: id });
    await knex('clients').where({ client_id }).update({ creator_ownership_token_id: id });
    for (const table of ['edfi_documents', 'edfi_tracked_changes']) {
      await knex(table).where({ created_by: client_id }).update({ created_by_ownership_token_id: id });
    }
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('edfi_documents', (t) => {
    t.dropIndex(['resource', 'created_by_ownership_token_id'], 'edfi_documents_resource_ownership');
  });
  // Not knex's dropColumn: on SQLite it rebuilds the table, and inside the migration's transaction the foreign keys
  // stay on, so dropping the old copy would cascade into every table that references a document or a client. Both
  // engines drop an unindexed column in place.
  for (const table of ['edfi_tracked_changes', 'edfi_documents', 'clients']) {
    const column = table === 'clients' ? 'creator_ownership_token_id' : 'created_by_ownership_token_id';
    await knex.raw(`alter table ${table} drop column ${column}`);
  }
  await knex.schema.dropTableIfExists('client_ownership_tokens');
  await knex.schema.dropTableIfExists('ownership_tokens');
}
