import type { Knex } from 'knex';

import { byteCollation } from '../src/db/collation.js';

/**
 * MySQL/MariaDB only: every text column, and the database default for tables made later, compares
 * byte for byte with trailing spaces significant, as SQLite's BINARY does (see src/db/collation.ts).
 * Converting to a stricter collation creates no duplicate, so existing data moves as it is.
 * The previous collations are kept in `settings` so `down` can restore them.
 */
const remembered = 'collation_before_byte_collation';

interface Collations {
  database: string;
  tables: Record<string, string>;
}

const isMysql = (knex: Knex) => knex.client.config.client === 'mysql2';

async function currentCollations(knex: Knex): Promise<Collations> {
  const [[{ collation }]] = (await knex.raw('select default_collation_name as collation from information_schema.schemata where schema_name = database()')) as [
    Array<{ collation: string }>,
  ];
  const [rows] = (await knex.raw(
    "select table_name as name, table_collation as collation from information_schema.tables where table_schema = database() and table_type = 'BASE TABLE' and table_name not like 'knex%'",
  )) as [Array<{ name: string; collation: string }>];
  return { database: collation, tables: Object.fromEntries(rows.map((r) => [r.name, r.collation])) };
}

interface ForeignKey {
  name: string;
  table: string;
  columns: string[];
  referencedTable: string;
  referencedColumns: string[];
  onDelete: string;
  onUpdate: string;
}

async function foreignKeys(knex: Knex): Promise<ForeignKey[]> {
  const [rows] = (await knex.raw(
    `select k.constraint_name as name, k.table_name as t, k.column_name as c, k.referenced_table_name as rt, k.referenced_column_name as rc,
            r.delete_rule as del, r.update_rule as upd
       from information_schema.key_column_usage k
       join information_schema.referential_constraints r on r.constraint_schema = k.constraint_schema and r.constraint_name = k.constraint_name
      where k.table_schema = database() and k.referenced_table_name is not null
      order by k.table_name, k.constraint_name, k.ordinal_position`,
  )) as [Array<{ name: string; t: string; c: string; rt: string; rc: string; del: string; upd: string }>];
  const byName = new Map<string, ForeignKey>();
  for (const row of rows) {
    const key = `${row.t}.${row.name}`;
    const fk = byName.get(key) ?? { name: row.name, table: row.t, columns: [], referencedTable: row.rt, referencedColumns: [], onDelete: row.del, onUpdate: row.upd };
    fk.columns.push(row.c);
    fk.referencedColumns.push(row.rc);
    byName.set(key, fk);
  }
  return [...byName.values()];
}

const rules = new Set(['CASCADE', 'SET NULL', 'RESTRICT', 'NO ACTION', 'SET DEFAULT']);
const rule = (value: string) => {
  if (!rules.has(value)) throw new Error(`unexpected foreign key rule ${value}`);
  return value;
};

/**
 * MariaDB refuses to change the collation of a column in a foreign key, even with
 * foreign_key_checks off, so the keys are dropped, the tables converted, and the keys re-created.
 */
async function convert(knex: Knex, database: string, tables: Record<string, string>): Promise<void> {
  const keys = await foreignKeys(knex);
  for (const fk of keys) await knex.raw('alter table ?? drop foreign key ??', [fk.table, fk.name]);
  await knex.raw(`alter database character set utf8mb4 collate ${database}`);
  for (const [table, collation] of Object.entries(tables)) {
    await knex.raw(`alter table ?? convert to character set utf8mb4 collate ${collation}`, [table]);
  }
  for (const fk of keys) {
    const list = (names: string[]) => names.map(() => '??').join(', ');
    await knex.raw(
      `alter table ?? add constraint ?? foreign key (${list(fk.columns)}) references ?? (${list(fk.referencedColumns)}) on delete ${rule(fk.onDelete)} on update ${rule(fk.onUpdate)}`,
      [fk.table, fk.name, ...fk.columns, fk.referencedTable, ...fk.referencedColumns],
    );
  }
}

export async function up(knex: Knex): Promise<void> {
  if (!isMysql(knex)) return;
  const before = await currentCollations(knex);
  const target = await byteCollation(knex);
  await convert(knex, target, Object.fromEntries(Object.keys(before.tables).map((t) => [t, target])));
  await knex('settings').insert({ name: remembered, value: JSON.stringify(before) });
}

export async function down(knex: Knex): Promise<void> {
  if (!isMysql(knex)) return;
  const row = await knex('settings').where({ name: remembered }).first('value');
  if (!row) return;
  const before = JSON.parse(row.value as string) as Collations;
  await knex('settings').where({ name: remembered }).delete();
  // Tables made after `up` (later migrations that stay) take the database's old default, as they would have been made
  // then: a foreign key from one of them to a restored table needs both sides in the same collation.
  const now = await currentCollations(knex);
  await convert(knex, before.database, Object.fromEntries(Object.keys(now.tables).map((t) => [t, before.tables[t] ?? before.database])));
}
