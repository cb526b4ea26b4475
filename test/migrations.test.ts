/**
 * Every migration runs up, down and up again, on each engine, with data in the tables (as Backstage's
 * catalog-backend tests its migrations): newest first, each one's down/up must leave the rows and the columns of
 * every table it does not own as they were, and its own tables as its up made them.
 */
import { describe, expect, it } from 'vitest';

import { migrate, migrationSource } from '../migrations/index.js';
import { createClient } from '../src/db/clients.js';
import { putEdorg, type EdorgInput } from '../src/db/edorgs.js';
import { createDb, dialectOf, type Db } from '../src/db/knex.js';
import { ensureDescriptors } from '../src/edfi/descriptors.js';
import { loadEdfiModel } from '../src/edfi/model/index.js';
import { loadDocuments } from '../src/edfi/seed.js';
import { createPartner } from '../src/portal/partners.js';
import { issueSisSecret } from '../src/sis/institution-secrets.js';
import { grandBend } from './helpers/app.js';
import { engines } from './helpers/engines.js';

async function tablesOf(db: Db): Promise<string[]> {
  const rows =
    dialectOf(db) === 'mysql'
      ? ((await db.raw('select table_name as name from information_schema.tables where table_schema = database()'))[0] as Array<{ name: string }>)
      : await db('sqlite_master').where({ type: 'table' }).andWhereNot('name', 'like', 'sqlite_%').select('name');
  return rows.map((r) => r.name).filter((name) => !name.startsWith('knex_')).sort();
}

/** Each table's columns and row count: what a down/up of another migration must not change. */
async function snapshot(db: Db): Promise<Record<string, { columns: string[]; rows: number }>> {
  const out: Record<string, { columns: string[]; rows: number }> = {};
  for (const table of await tablesOf(db)) {
    const [{ n }] = await db(table).count({ n: '*' });
    out[table] = { columns: Object.keys(await db(table).columnInfo()).sort(), rows: Number(n) };
  }
  return out;
}

/** Rows in every table the app writes: ed-orgs, a client, a SIS secret, a student and an enrolment, a partner. */
async function fill(db: Db): Promise<void> {
  for (const row of grandBend) await putEdorg(db, row, { upsert: true });
  await createClient(db, Buffer.alloc(32, 7), { name: 'Vendor', tier: 'standard', edorgIds: [255901] }, { tiers: ['standard'], claimSets: ['SIS Vendor'] });
  await issueSisSecret(db, Buffer.alloc(32, 7), 255901);
  const student = { studentUniqueId: 'M1', firstName: 'Mig', lastSurname: 'Ration', birthDate: '2010-01-01' };
  const enrolment = {
    studentReference: { studentUniqueId: 'M1' },
    schoolReference: { schoolId: 255901001 },
    entryDate: '2025-08-20',
    entryGradeLevelDescriptor: 'uri://ed-fi.org/GradeLevelDescriptor#Ninth grade',
  };
  const model = loadEdfiModel();
  await ensureDescriptors(db, model);
  await loadDocuments(db, model, { students: [student], studentSchoolAssociations: [enrolment] });
  await createPartner(db, { name: 'Partner', edorgIds: [255901] });
}

describe.each(engines)('migrations on $name', (engine) => {
  it('each runs up, down and up again with data in the tables, newest first', async () => {
    const database = await engine.createDatabase();
    const db = createDb(database.url);
    try {
      await migrate(db);
      await fill(db);
      const names = (await migrationSource.getMigrations([])).map((m) => migrationSource.getMigrationName(m)).reverse();
      for (const name of names) {
        const before = await snapshot(db);
        await db.migrate.down({ migrationSource, name });
        const without = await tablesOf(db);
        await db.migrate.up({ migrationSource, name });
        const after = await snapshot(db);
        // Tables this migration owns (dropped by its down) come back empty; every other table is as it was.
        const owned = Object.keys(before).filter((table) => !without.includes(table));
        for (const table of owned) after[table].rows = before[table].rows;
        expect({ name, tables: after }, `down and up of ${name}`).toEqual({ name, tables: before });
        // Step below it, to take the next one down and up with its own data still in place.
        await db.migrate.down({ migrationSource, name });
      }
      expect(await tablesOf(db)).toEqual([]);
      await migrate(db);
      await fill(db);
      expect((await snapshot(db)).edfi_documents.rows).toBeGreaterThan(0);
    } finally {
      await db.destroy();
      await database.drop();
    }
  }, 120_000);

  it('edorg_kinds down removes the kinds older code does not know, children first, and up takes them again', async () => {
    const database = await engine.createDatabase();
    const db = createDb(database.url);
    const name = '20261202030000_edorg_kinds';
    const newKinds: EdorgInput[] = [
      { id: 51, type: 'postsecondary', name: 'College' },
      { id: 5000, type: 'community_org', name: 'Trust' },
      { id: 5001, type: 'community_provider', name: 'Provider', parentId: 5000 },
      { id: 7001, type: 'department', name: 'Department', parentId: 255901 },
      { id: 7002, type: 'department', name: 'Sub-department', parentId: 7001 },
    ];
    try {
      await migrate(db);
      for (const row of [...grandBend, ...newKinds]) await putEdorg(db, row, { upsert: true });
      await db.migrate.down({ migrationSource, name });
      const ids = async (table: string, column: string) => [...new Set((await db(table).select(column)).map((r: Record<string, number | string>) => Number(r[column])))].sort((a, b) => a - b);
      expect(await ids('education_organizations', 'id')).toEqual(grandBend.map((r) => r.id).sort((a, b) => a - b));
      expect(await ids('edorg_closure', 'descendant_id')).toEqual(grandBend.map((r) => r.id).sort((a, b) => a - b));
      await db.migrate.up({ migrationSource, name });
      for (const row of newKinds) await putEdorg(db, row, { upsert: true });
      expect(await db('education_organizations').where({ id: 5001 }).first('type')).toEqual({ type: 'community_provider' });
    } finally {
      await db.destroy();
      await database.drop();
    }
  }, 60_000);

  it('ownership_tokens gives every existing client a token of its own and stamps the items it created with it', async () => {
    const database = await engine.createDatabase();
    const db = createDb(database.url);
    const name = '20261202040000_ownership_tokens';
    try {
      await migrate(db);
      await fill(db);
      const [{ client_id: clientId }] = (await db('clients').select('client_id')) as Array<{ client_id: string }>;
      await db.migrate.down({ migrationSource, name });
      // Items the client created (and one it deleted), and one the seed wrote, as the older code recorded them.
      const [created, seeded] = (await db('edfi_documents').orderBy('id').limit(2).select('id')) as Array<{ id: string }>;
      await db('edfi_documents').where({ id: created.id }).update({ created_by: clientId });
      await db('edfi_tracked_changes').insert({ change_version: 999, document_id: 'f'.repeat(32), kind: 'delete', resource: 'students', key_hash: 'k', old_key: '{}', created_by: clientId });
      await db.migrate.up({ migrationSource, name });

      const client = (await db('clients').where({ client_id: clientId }).first('creator_ownership_token_id')) as { creator_ownership_token_id: number | string };
      const token = (await db('ownership_tokens').where({ name: `client:${clientId}` }).first('id')) as { id: number | string };
      expect(Number(client.creator_ownership_token_id)).toBe(Number(token.id));
      expect((await db('client_ownership_tokens').where({ client_id: clientId }).select('ownership_token_id')).map((r: { ownership_token_id: number | string }) => Number(r.ownership_token_id))).toEqual([Number(token.id)]);
      const stamp = async (table: string, column: string, id: string) => ((await db(table).where(column, id).first('created_by_ownership_token_id')) as { created_by_ownership_token_id: number | string | null }).created_by_ownership_token_id;
      expect(Number(await stamp('edfi_documents', 'id', created.id))).toBe(Number(token.id));
      expect(await stamp('edfi_documents', 'id', seeded.id)).toBeNull();
      expect(Number(await stamp('edfi_tracked_changes', 'document_id', 'f'.repeat(32)))).toBe(Number(token.id));
    } finally {
      await db.destroy();
      await database.drop();
    }
  }, 60_000);
});
