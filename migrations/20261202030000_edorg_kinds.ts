import type { Knex } from 'knex';

/**
 * Every concrete EducationOrganization is a kind of the ed-org tree (src/db/tables.ts `edorgTypes`), and
 * `community_provider` does not fit the 8 characters `type` had. MySQL/MariaDB widen it, keeping the column's
 * byte-wise collation (src/db/collation.ts); SQLite does not enforce a varchar's length, so there is nothing to change.
 * Down removes the ed-orgs of the new kinds, children first, since the older code knows none of them.
 */
const isMysql = (knex: Knex) => knex.client.config.client === 'mysql2';

const firstKinds = ['sea', 'esc', 'lea', 'school'];

async function typeCollation(knex: Knex): Promise<string> {
  const [[{ collation }]] = (await knex.raw(
    "select collation_name as collation from information_schema.columns where table_schema = database() and table_name = 'education_organizations' and column_name = 'type'",
  )) as [Array<{ collation: string }>];
  // Names come from the server and are checked before they are spliced in (knex cannot bind a collation).
  if (!/^\w+$/.test(collation)) throw new Error(`unexpected collation ${collation}`);
  return collation;
}

async function widen(knex: Knex, length: number): Promise<void> {
  const collation = await typeCollation(knex);
  await knex.raw(`alter table education_organizations modify type varchar(${length}) character set utf8mb4 collate ${collation} not null`);
}

export async function up(knex: Knex): Promise<void> {
  if (isMysql(knex)) await widen(knex, 32);
}

export async function down(knex: Knex): Promise<void> {
  // Leaves first: parent_id refuses to lose a parent that still has children.
  for (;;) {
    const leaves = (await knex('education_organizations as e')
      .whereNotIn('e.type', firstKinds)
      .whereNotExists(knex('education_organizations as c').select('c.id').whereRaw('c.parent_id = e.id'))
      .select('e.id')) as Array<{ id: number | string }>;
    if (!leaves.length) break;
    const ids = leaves.map((r) => r.id);
    await knex('edorg_closure').whereIn('descendant_id', ids).del();
    await knex('education_organizations').whereIn('id', ids).del();
  }
  if (isMysql(knex)) await widen(knex, 8);
}
