import type { Knex } from 'knex';

import { byteCollation } from '../src/db/collation.js';

/**
 * The developer portal: partners (vendor organisations) and their approved reach, the people who
 * sign in for them, one-time invites, the applications they register (clients with a partner and an
 * approval state), access requests, the append-only audit trail, portal sessions, and what
 * oidc-provider persists for the sign-in flow (interactions, sessions, codes, grants).
 *
 * Identity columns (ids, e-mail addresses, token hashes) compare byte for byte on MariaDB as on
 * SQLite: a binary NO PAD collation, named on each table because knex names the connection's
 * character set in CREATE TABLE, which would otherwise pick that set's case-insensitive default.
 */

export async function up(knex: Knex): Promise<void> {
  const collation = knex.client.config.client === 'mysql2' ? await byteCollation(knex) : undefined;
  const createTable = (name: string, build: (t: Knex.CreateTableBuilder) => void) =>
    knex.schema.createTable(name, (t) => {
      if (collation) t.collate(collation);
      build(t);
    });
  const id = (t: Knex.CreateTableBuilder, name: string, length = 32) => t.string(name, length);

  await createTable('partners', (t) => {
    id(t, 'id').primary();
    t.string('name', 255).notNullable();
    t.bigInteger('created_at').notNullable();
  });

  // A partner's approved reach: every application it registers gets these ed-orgs.
  await createTable('partner_edorgs', (t) => {
    id(t, 'partner_id').notNullable().references('id').inTable('partners').onDelete('CASCADE');
    t.bigInteger('edorg_id').notNullable().references('id').inTable('education_organizations');
    t.primary(['partner_id', 'edorg_id']);
  });

  await createTable('portal_users', (t) => {
    id(t, 'id').primary();
    id(t, 'partner_id').notNullable().references('id').inTable('partners').onDelete('CASCADE');
    id(t, 'email', 254).notNullable().unique(); // stored trimmed and lower-cased
    t.string('password_hash', 255).nullable(); // scrypt; null until the invite is used
    t.bigInteger('created_at').notNullable();
    t.bigInteger('updated_at').notNullable();
    t.index(['partner_id']);
  });

  await createTable('portal_invites', (t) => {
    id(t, 'token_hash', 64).primary(); // HMAC of the one-time token; the token itself is never stored
    id(t, 'user_id').notNullable().references('id').inTable('portal_users').onDelete('CASCADE');
    t.bigInteger('created_at').notNullable();
    t.bigInteger('expires_at').notNullable();
    t.bigInteger('used_at').nullable();
    t.index(['user_id']);
  });

  // A client registered through the portal: its partner, who made it, and whether an admin must approve it first.
  await createTable('portal_applications', (t) => {
    id(t, 'client_id', 64).primary();
    id(t, 'partner_id').notNullable().references('id').inTable('partners').onDelete('CASCADE');
    id(t, 'created_by').notNullable();
    t.boolean('pending').notNullable();
    t.string('approved_by', 320).nullable();
    t.bigInteger('approved_at').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['partner_id', 'created_at']);
  });

  await createTable('access_requests', (t) => {
    id(t, 'id').primary();
    id(t, 'partner_id').notNullable().references('id').inTable('partners').onDelete('CASCADE');
    id(t, 'requested_by').notNullable();
    t.text('edorg_ids').notNullable(); // JSON array of ed-org ids
    t.text('reason').notNullable();
    t.string('status', 16).notNullable(); // pending | approved | denied
    t.string('decided_by', 320).nullable();
    t.bigInteger('decided_at').nullable();
    t.text('decision_note').nullable();
    t.bigInteger('created_at').notNullable();
    t.index(['partner_id', 'created_at']);
    t.index(['status', 'created_at']);
  });

  // Append-only: the code has no update or delete for it. Never a secret in any column.
  await createTable('audit_events', (t) => {
    t.increments('id').primary();
    t.bigInteger('at').notNullable();
    t.string('actor', 320).notNullable(); // user:<email> | admin:<os user> | anonymous
    t.string('action', 64).notNullable();
    t.string('subject', 255).nullable();
    id(t, 'partner_id').nullable();
    t.string('request_id', 128).nullable();
    t.text('detail').nullable(); // JSON
    t.index(['at']);
    t.index(['partner_id', 'at']);
  });

  // Portal sessions when no Redis is configured: the cookie holds an id, this table its SHA-256.
  await createTable('portal_sessions', (t) => {
    id(t, 'id_hash', 64).primary();
    t.text('data').notNullable(); // JSON
    t.bigInteger('expires_at').notNullable();
    t.index(['expires_at']);
  });

  // oidc-provider's models (Session, Interaction, AuthorizationCode, Grant, …), shared by every instance.
  await createTable('oidc_models', (t) => {
    t.string('model', 32).notNullable();
    id(t, 'id', 255).notNullable();
    t.text('payload').notNullable(); // JSON
    id(t, 'grant_id', 255).nullable();
    id(t, 'uid', 255).nullable();
    t.bigInteger('expires_at').nullable();
    t.bigInteger('consumed_at').nullable();
    t.primary(['model', 'id']);
    t.index(['model', 'uid']);
    t.index(['grant_id']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'oidc_models',
    'portal_sessions',
    'audit_events',
    'access_requests',
    'portal_applications',
    'portal_invites',
    'portal_users',
    'partner_edorgs',
    'partners',
  ]) {
    await knex.schema.dropTableIfExists(table);
  }
}
