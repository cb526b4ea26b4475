import type { Knex } from 'knex';

/**
 * SIS sync secrets: an institution (any education organisation) may hold up to two live secrets,
 * so an integrator can switch to a new one before the old one is retired. Only a keyed hash is
 * stored; `id` is a short public handle for listing and revoking one secret.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sis_secrets', (t) => {
    t.string('id', 16).primary();
    t.bigInteger('edorg_id').notNullable().references('id').inTable('education_organizations').onDelete('CASCADE');
    t.string('secret_hash', 64).notNullable().unique(); // hex HMAC-SHA-256; the lookup key
    t.bigInteger('created_at').notNullable();
    t.index(['edorg_id', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('sis_secrets');
}
