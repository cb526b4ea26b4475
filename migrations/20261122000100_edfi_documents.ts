import type { Knex } from 'knex';

/**
 * Data side, shared by the Ed-Fi resource API and the SIS sync (DMS-style document store):
 * - edfi_documents: one row per resource item, the body as JSON, plus the columns that
 *   authorisation and uniqueness need, extracted at write time from the resource declaration.
 * - edfi_subject_edorgs: which education organisation makes a student or staff member reachable,
 *   maintained in the same transaction as the association that causes it.
 * - attendance_events: a typed projection of StudentSchoolAttendanceEvent for the stats API.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('edfi_documents', (t) => {
    t.string('id', 32).primary(); // Ed-Fi resource id: 32 lower-case hex
    t.string('resource', 64).notNullable(); // e.g. 'students'
    t.string('key_hash', 64).notNullable(); // sha256 hex of the canonical natural key
    t.text('body', 'mediumtext').notNullable(); // JSON without id/_etag/_lastModifiedDate
    t.string('etag', 64).notNullable();
    t.bigInteger('last_modified').notNullable(); // epoch ms
    t.string('created_by', 64).nullable(); // client_id, for ownership-based authorisation
    t.bigInteger('edorg_id').nullable(); // school / ed-org the item hangs from
    t.string('student_unique_id', 32).nullable();
    t.string('staff_unique_id', 32).nullable();
    t.string('contact_unique_id', 32).nullable();
    t.unique(['resource', 'key_hash']);
    t.index(['resource', 'edorg_id']);
    t.index(['resource', 'student_unique_id']);
    t.index(['resource', 'staff_unique_id']);
    t.index(['resource', 'contact_unique_id']);
  });

  await knex.schema.createTable('edfi_subject_edorgs', (t) => {
    t.string('subject_type', 16).notNullable(); // 'student' | 'staff'
    t.string('subject_id', 32).notNullable(); // studentUniqueId / staffUniqueId
    t.bigInteger('edorg_id').notNullable();
    t.string('via_document_id', 32).notNullable().references('id').inTable('edfi_documents').onDelete('CASCADE');
    t.primary(['via_document_id', 'subject_type', 'subject_id', 'edorg_id']);
    t.index(['subject_type', 'edorg_id', 'subject_id']);
    t.index(['subject_type', 'subject_id']);
  });

  await knex.schema.createTable('attendance_events', (t) => {
    t.string('document_id', 32).primary().references('id').inTable('edfi_documents').onDelete('CASCADE');
    t.bigInteger('school_id').notNullable();
    t.string('student_unique_id', 32).notNullable();
    t.string('event_date', 10).notNullable(); // YYYY-MM-DD, compares correctly as text
    t.string('category', 255).notNullable(); // attendanceEventCategoryDescriptor URI
    t.index(['school_id', 'event_date']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['attendance_events', 'edfi_subject_edorgs', 'edfi_documents']) {
    await knex.schema.dropTableIfExists(table);
  }
}
