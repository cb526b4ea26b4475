import type { Knex } from 'knex';

/** Identity side: settings, the education-organisation tree, clients and signing keys. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('settings', (t) => {
    t.string('name', 64).primary();
    t.text('value').notNullable();
  });

  await knex.schema.createTable('education_organizations', (t) => {
    t.bigInteger('id').primary();
    t.string('type', 8).notNullable(); // sea | esc | lea | school
    t.string('name', 255).notNullable();
    t.bigInteger('parent_id').nullable().references('id').inTable('education_organizations');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['parent_id']);
  });

  // Closure table: "everything beneath X" is one indexed lookup on (ancestor_id).
  await knex.schema.createTable('edorg_closure', (t) => {
    t.bigInteger('ancestor_id').notNullable().references('id').inTable('education_organizations').onDelete('CASCADE');
    t.bigInteger('descendant_id').notNullable().references('id').inTable('education_organizations').onDelete('CASCADE');
    t.integer('depth').notNullable();
    t.primary(['ancestor_id', 'descendant_id']);
    t.index(['descendant_id', 'ancestor_id']);
  });

  await knex.schema.createTable('clients', (t) => {
    t.string('client_id', 64).primary();
    t.string('name', 255).notNullable();
    t.string('secret_hash', 64).notNullable(); // hex HMAC-SHA-256
    t.string('tier', 32).notNullable();
    t.string('claim_set', 64).notNullable();
    t.text('namespace_prefixes').notNullable(); // JSON array of strings
    t.text('profiles').notNullable(); // JSON array of profile names
    t.boolean('disabled').notNullable().defaultTo(false);
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['disabled', 'updated_at']);
  });

  await knex.schema.createTable('client_edorgs', (t) => {
    t.string('client_id', 64).notNullable().references('client_id').inTable('clients').onDelete('CASCADE');
    t.bigInteger('edorg_id').notNullable().references('id').inTable('education_organizations');
    t.primary(['client_id', 'edorg_id']);
    t.index(['edorg_id']);
  });

  await knex.schema.createTable('signing_keys', (t) => {
    t.string('kid', 64).primary();
    t.string('alg', 16).notNullable();
    t.text('public_jwk').notNullable();
    t.text('private_jwk').notNullable(); // JSON JWK, or an AES-256-GCM envelope when encrypted
    t.boolean('encrypted').notNullable();
    t.bigInteger('created_at').notNullable();
    // Null while the key signs; set when rotated out. It stays published until retired_at + TTL.
    t.bigInteger('retired_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['signing_keys', 'client_edorgs', 'clients', 'edorg_closure', 'education_organizations', 'settings']) {
    await knex.schema.dropTableIfExists(table);
  }
}
