import { describe, expect, it } from 'vitest';

import { boundStatements, createDb } from '../src/db/knex.js';
import { engines } from './helpers/engines.js';

/** A connection that answers as a server of one dialect: it knows some session variables and not others. */
function serverKnowing(...variables: string[]) {
  const sent: string[] = [];
  const conn = {
    query(sql: string, cb: (err: (Error & { errno?: number }) | null) => void) {
      sent.push(sql);
      const known = variables.some((name) => sql.includes(name));
      cb(known ? null : Object.assign(new Error(`Unknown system variable '${sql.split(' ')[2]}'`), { errno: 1193 }));
    },
  };
  return { conn, sent };
}

const bound = (conn: Parameters<typeof boundStatements>[0]) => new Promise<Error | null>((resolve) => boundStatements(conn, 1500, resolve));

describe('the server-side statement deadline on each MySQL-dialect connection', () => {
  it("uses MariaDB's max_statement_time, in seconds", async () => {
    const { conn, sent } = serverKnowing('max_statement_time');
    expect(await bound(conn)).toBeNull();
    expect(sent).toEqual(['SET SESSION max_statement_time = 1.5']);
  });

  it("falls back to max_execution_time, in milliseconds, on MySQL, TiDB and Aurora MySQL", async () => {
    const { conn, sent } = serverKnowing('max_execution_time');
    expect(await bound(conn)).toBeNull();
    expect(sent).toEqual(['SET SESSION max_statement_time = 1.5', 'SET SESSION max_execution_time = 1500']);
  });

  it('keeps the client deadline alone on a server that knows neither, and passes any other error on', async () => {
    expect(await bound(serverKnowing().conn)).toBeNull();
    const refusing = { query: (_sql: string, cb: (err: Error | null) => void) => cb(new Error('connection lost')) };
    expect((await bound(refusing))?.message).toBe('connection lost');
  });

  it.skipIf(!engines.some((e) => e.name === 'mysql'))('is set on a real MariaDB connection', async () => {
    const database = await engines.find((e) => e.name === 'mysql')!.createDatabase();
    const db = createDb(database.url, { timeoutMs: 2500 });
    try {
      const [rows] = (await db.raw('select @@max_statement_time as bound')) as [Array<{ bound: number | string }>];
      expect(Number(rows[0].bound)).toBe(2.5);
    } finally {
      await db.destroy();
      await database.drop();
    }
  });
});
