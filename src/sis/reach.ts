import type { Db } from '../db/knex.js';
import { ApiError } from '../errors.js';
import type { RosterRecord } from './roster.js';

/** The schools among `schoolIds` that lie within an institution's reach (itself and everything beneath it). */
async function schoolsInReachOf(db: Db, institution: number, schoolIds: number[]): Promise<Set<number>> {
  const reachable = new Set<number>();
  for (let i = 0; i < schoolIds.length; i += 500) {
    const rows = await db('edorg_closure as c')
      .join('education_organizations as e', 'e.id', 'c.descendant_id')
      .where('c.ancestor_id', institution)
      .andWhere('e.type', 'school')
      .whereIn('c.descendant_id', schoolIds.slice(i, i + 500))
      .select('c.descendant_id as id');
    for (const row of rows as Array<{ id: number | string }>) reachable.add(Number(row.id));
  }
  return reachable;
}

/** Refuses the whole batch when any record names a school the institution does not reach. */
export async function enforceReach(db: Db, institution: number, records: RosterRecord[]): Promise<void> {
  const reachable = await schoolsInReachOf(db, institution, [...new Set(records.map((r) => r.schoolId))]);
  const index = records.findIndex((r) => !reachable.has(r.schoolId));
  if (index === -1) return;
  const { schoolId } = records[index];
  throw new ApiError('school_not_permitted', `students[${index}].schoolId ${schoolId} is not a school within the reach of institution ${institution}`, {
    field: `students[${index}].schoolId`,
    schoolId,
  });
}
