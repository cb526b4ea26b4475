import { createHash } from 'node:crypto';

import type { Knex } from 'knex';


/**
 * The generic document store (every resource of the model, served from an ApiSchema):
 * - edfi_references: one row per reference a document makes, to the resolved target's resource and
 *   identity hash, written in the write's transaction; a delete finds its dependants by index.
 * - edfi_documents.namespace: the namespace of descriptors and of resources identified by one
 *   (assessments), for namespace-based authorisation of reads.
 * - an index on key_hash alone: a reference to an abstract resource (EducationOrganization) looks
 *   its target up among several resources at once.
 * Existing documents keep their key_hash (the identity order of the model is the order the
 * hand-written declarations hashed in); their references are written here.
 */

/** The references the resources had when this migration was written: member.field → target resource. */
const referencesThen: Record<string, Array<{ path: [string, string]; target: string }>> = {
  studentSchoolAssociations: [
    { path: ['studentReference', 'studentUniqueId'], target: 'students' },
    { path: ['schoolReference', 'schoolId'], target: 'schools' },
  ],
  studentSchoolAttendanceEvents: [
    { path: ['studentReference', 'studentUniqueId'], target: 'students' },
    { path: ['schoolReference', 'schoolId'], target: 'schools' },
  ],
  studentContactAssociations: [
    { path: ['studentReference', 'studentUniqueId'], target: 'students' },
    { path: ['contactReference', 'contactUniqueId'], target: 'contacts' },
  ],
  staffEducationOrganizationAssignmentAssociations: [
    { path: ['staffReference', 'staffUniqueId'], target: 'staffs' },
    { path: ['educationOrganizationReference', 'educationOrganizationId'], target: 'edorg' },
  ],
  schools: [{ path: ['localEducationAgencyReference', 'localEducationAgencyId'], target: 'localEducationAgencies' }],
  localEducationAgencies: [
    { path: ['educationServiceCenterReference', 'educationServiceCenterId'], target: 'educationServiceCenters' },
    { path: ['stateEducationAgencyReference', 'stateEducationAgencyId'], target: 'stateEducationAgencies' },
  ],
};

const edorgEndpoints: Record<string, string> = { sea: 'stateEducationAgencies', esc: 'educationServiceCenters', lea: 'localEducationAgencies', school: 'schools' };

const keyHash = (value: unknown) => createHash('sha256').update(JSON.stringify([String(value)])).digest('hex');

async function backfillReferences(knex: Knex): Promise<void> {
  const types = new Map(((await knex('education_organizations').select('id', 'type')) as Array<{ id: number | string; type: string }>).map((r) => [String(r.id), r.type]));
  for (const [resource, references] of Object.entries(referencesThen)) {
    let after = '';
    for (;;) {
      const rows = (await knex('edfi_documents').where('resource', resource).andWhere('id', '>', after).orderBy('id').limit(1000).select('id', 'body')) as Array<{ id: string; body: string }>;
      if (!rows.length) break;
      after = rows[rows.length - 1].id;
      const inserts = rows.flatMap(({ id, body }) => {
        const doc = JSON.parse(body) as Record<string, Record<string, unknown> | undefined>;
        return references.flatMap(({ path: [member, field], target }) => {
          const value = doc[member]?.[field];
          if (value === undefined || value === null) return [];
          const endpoint = target === 'edorg' ? edorgEndpoints[types.get(String(value)) ?? ''] : target;
          return endpoint ? [{ document_id: id, referenced_resource: endpoint, referenced_key_hash: keyHash(value) }] : [];
        });
      });
      for (let i = 0; i < inserts.length; i += 500) await knex('edfi_references').insert(inserts.slice(i, i + 500));
    }
  }
}

export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('edfi_documents', (t) => {
    t.string('namespace', 255).nullable();
    t.index(['key_hash']);
    t.index(['resource', 'namespace']);
  });
  // A MySQL foreign key needs both columns in one collation: take edfi_documents.id's, whichever
  // it is when this runs (before or after the byte-collation migration).
  const collation = knex.client.config.client === 'mysql2' ? await collationOfDocumentIds(knex) : undefined;
  await knex.schema.createTable('edfi_references', (t) => {
    if (collation) {
      t.charset('utf8mb4');
      t.collate(collation);
    }
    t.string('document_id', 32).notNullable().references('id').inTable('edfi_documents').onDelete('CASCADE');
    t.string('referenced_resource', 100).notNullable();
    t.string('referenced_key_hash', 64).notNullable();
    t.primary(['document_id', 'referenced_resource', 'referenced_key_hash']);
    t.index(['referenced_key_hash', 'referenced_resource']);
  });
  await backfillAssessmentNamespaces(knex);
  await backfillReferences(knex);
}

async function collationOfDocumentIds(knex: Knex): Promise<string> {
  const [rows] = (await knex.raw(
    "select collation_name as c from information_schema.columns where table_schema = database() and table_name = 'edfi_documents' and column_name = 'id'",
  )) as [Array<{ c: string }>];
  return rows[0].c;
}

async function backfillAssessmentNamespaces(knex: Knex): Promise<void> {
  const rows = (await knex('edfi_documents').where('resource', 'assessments').select('id', 'body')) as Array<{ id: string; body: string }>;
  for (const { id, body } of rows) {
    const namespace = (JSON.parse(body) as { namespace?: string }).namespace;
    if (namespace) await knex('edfi_documents').where({ id }).update({ namespace });
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('edfi_references');
  await knex.schema.alterTable('edfi_documents', (t) => {
    t.dropIndex(['resource', 'namespace']);
    t.dropIndex(['key_hash']);
  });
  // Not knex's dropColumn: on SQLite it rebuilds the table, and inside the migration's transaction the foreign keys
  // stay on, so dropping the old copy cascades into every table that references a document (the reach links).
  // Both engines drop an unindexed column in place.
  await knex.raw('alter table edfi_documents drop column namespace');
}
