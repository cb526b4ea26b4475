import type { Knex } from 'knex';

import { byteCollation } from '../src/db/collation.js';

/**
 * Change queries (Ed-Fi's change versions, tracked deletes and key changes):
 * - edfi_change_version: one row holding the newest change version issued. A write bumps it in its own transaction
 *   (UPDATE … SET version = version + n), so versions come from the database, never from a process, and a later
 *   commit always holds a larger version: the row lock is held until commit. Deliberately not AUTO_INCREMENT, which
 *   distributed MySQL engines (TiDB) hand out in per-server batches that do not grow monotonically across servers.
 * - edfi_documents.change_version: the version of the write that last changed the item. Existing items get 0.
 * - edfi_tracked_changes: one row per delete (kind 'delete') and per identity change (kind 'keyChange'), with the
 *   identity it had (old_key), the identity it got (new_key, key changes only), and the securable values and subject
 *   link it had then, so that reading it is authorised by the reach the item had when it was deleted or changed.
 */
export async function up(knex: Knex): Promise<void> {
  const collation = knex.client.config.client === 'mysql2' ? await byteCollation(knex) : undefined;
  await knex.schema.createTable('edfi_change_version', (t) => {
    if (collation) t.collate(collation);
    t.integer('id').primary(); // always 1: the one row
    t.bigInteger('version').notNullable();
  });
  await knex('edfi_change_version').insert({ id: 1, version: 0 });

  await knex.schema.alterTable('edfi_documents', (t) => {
    t.bigInteger('change_version').notNullable().defaultTo(0);
    // minChangeVersion/maxChangeVersion read a resource's range; cursor pages walk a resource's ids, checking a
    // window's versions in the index as they go (no row read for an item outside the window).
    t.index(['resource', 'change_version']);
    t.index(['resource', 'id', 'change_version']);
  });

  await knex.schema.createTable('edfi_tracked_changes', (t) => {
    if (collation) t.collate(collation);
    t.bigInteger('change_version').notNullable();
    t.string('document_id', 32).notNullable(); // the item's resource id, which outlives it here
    t.string('kind', 16).notNullable(); // 'delete' | 'keyChange'
    t.string('resource', 64).notNullable();
    t.string('key_hash', 64).notNullable(); // the identity before: a delete whose identity lives again is not reported
    t.text('old_key').notNullable(); // keyValues JSON, as the ODS/API reports them
    t.text('new_key').nullable();
    t.string('created_by', 64).nullable();
    t.bigInteger('edorg_id').nullable();
    t.string('student_unique_id', 32).nullable();
    t.string('staff_unique_id', 32).nullable();
    t.string('contact_unique_id', 32).nullable();
    t.string('namespace', 255).nullable();
    // The subject link a deleted association made ('student', studentUniqueId, schoolId): a student deleted after
    // its enrolment stays visible, in /deletes, to the schools that reached it.
    t.string('subject_type', 16).nullable();
    t.string('subject_id', 32).nullable();
    t.bigInteger('subject_edorg_id').nullable();
    t.primary(['change_version', 'document_id', 'kind']);
    t.index(['resource', 'kind', 'change_version'], 'edfi_tracked_changes_resource');
    t.index(['subject_type', 'subject_edorg_id', 'subject_id'], 'edfi_tracked_changes_subject');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('edfi_tracked_changes');
  await knex.schema.alterTable('edfi_documents', (t) => {
    t.dropIndex(['resource', 'id', 'change_version']);
    t.dropIndex(['resource', 'change_version']);
  });
  // Not knex's dropColumn: on SQLite it rebuilds the table, and inside the migration's transaction the foreign keys
  // stay on, so dropping the old copy would cascade into every table that references a document. Both engines drop
  // an unindexed column in place.
  await knex.raw('alter table edfi_documents drop column change_version');
  await knex.schema.dropTableIfExists('edfi_change_version');
}
