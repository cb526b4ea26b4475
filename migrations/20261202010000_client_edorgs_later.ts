import type { Knex } from 'knex';

/**
 * A client may be assigned an ed-org that does not exist yet, as the ODS/API's admin tools allow: its reach starts
 * when the ed-org is written (reach joins the closure table, which has no rows for it until then). So
 * client_edorgs.edorg_id no longer references education_organizations. Down deletes such assignments first.
 */
const isMysql = (knex: Knex) => knex.client.config.client === 'mysql2';

/** The foreign key's name as the database holds it (the byte-collation migration re-created it). */
async function edorgForeignKey(knex: Knex): Promise<string | undefined> {
  const [rows] = (await knex.raw(
    "select constraint_name as name from information_schema.key_column_usage where table_schema = database() and table_name = 'client_edorgs' and column_name = 'edorg_id' and referenced_table_name is not null",
  )) as [Array<{ name: string }>];
  return rows[0]?.name;
}

export async function up(knex: Knex): Promise<void> {
  if (isMysql(knex)) {
    const name = await edorgForeignKey(knex);
    if (name) await knex.raw('alter table client_edorgs drop foreign key ??', [name]);
    return;
  }
  await knex.schema.alterTable('client_edorgs', (t) => t.dropForeign(['edorg_id']));
}

export async function down(knex: Knex): Promise<void> {
  await knex('client_edorgs').whereNotIn('edorg_id', knex('education_organizations').select('id')).del();
  await knex.schema.alterTable('client_edorgs', (t) => t.foreign('edorg_id').references('id').inTable('education_organizations'));
}
