import type { Db } from '../db/knex.js';

export interface DateRange {
  /** Inclusive YYYY-MM-DD bounds; absent means unbounded. */
  from?: string;
  to?: string;
}

export interface AttendanceFigures {
  students_enrolled: number;
  days_recorded: number;
  present: number;
  absent: number;
  tardy: number;
  excused: number;
  attendance_rate: number;
}

/**
 * The contract's buckets, by the descriptor's code value (the part after '#'), compared
 * case-insensitively: SQLite's LIKE ignores ASCII case and MySQL's follows the collation, so the
 * query lowers both sides and behaves the same on both engines.
 */
const buckets = {
  present: 'in attendance',
  tardy: 'tardy',
  excused: 'excused absence',
  absent: 'unexcused absence',
} as const;

type Bucket = keyof typeof buckets;

/** Event counts per bucket and recorded days for a school, in one pass over its index range. */
async function eventFigures(db: Db, schoolId: number, range: DateRange) {
  const sums = (Object.keys(buckets) as Bucket[]).map((bucket) => db.raw(`sum(case when lower(category) like ? then 1 else 0 end) as ??`, [`%#${buckets[bucket]}`, bucket]));
  const query = db('attendance_events')
    .where('school_id', schoolId)
    .select(...sums, db.raw('count(distinct event_date) as days_recorded'));
  if (range.from) query.where('event_date', '>=', range.from);
  if (range.to) query.where('event_date', '<=', range.to);
  const row = (await query.first()) as Record<Bucket | 'days_recorded', number | string | null>;
  // MySQL returns SUM() as a DECIMAL string, and NULL over no rows.
  const count = (key: Bucket | 'days_recorded') => Number(row?.[key] ?? 0);
  return { present: count('present'), tardy: count('tardy'), excused: count('excused'), absent: count('absent'), days_recorded: count('days_recorded') };
}

/** Students with a StudentSchoolAssociation to the school (the association's dates are not projected). */
async function studentsEnrolled(db: Db, schoolId: number): Promise<number> {
  const row = (await db('edfi_subject_edorgs')
    .where({ subject_type: 'student', edorg_id: schoolId })
    .countDistinct({ n: 'subject_id' })
    .first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}

export async function attendanceSummary(db: Db, schoolId: number, range: DateRange): Promise<AttendanceFigures> {
  const [events, students_enrolled] = await Promise.all([eventFigures(db, schoolId, range), studentsEnrolled(db, schoolId)]);
  const counted = events.present + events.tardy + events.excused + events.absent;
  return {
    students_enrolled,
    days_recorded: events.days_recorded,
    present: events.present,
    absent: events.absent,
    tardy: events.tardy,
    excused: events.excused,
    attendance_rate: counted === 0 ? 0 : (events.present + events.tardy) / counted,
  };
}
