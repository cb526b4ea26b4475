import type Router from '@koa/router';
import type { Context } from 'koa';

import type { Db } from '../db/knex.js';
import { ApiError } from '../errors.js';
import { approvedSchools } from '../gateway/index.js';
import { attendanceSummary, type DateRange } from './attendance.js';

/** One query parameter as a string: absent → undefined; repeated → refused, not silently picked. */
function param(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new ApiError('invalid_parameter', `${name} may be given once`, { parameter: name });
  return value === undefined || value === '' ? undefined : value;
}

/** A real calendar date in YYYY-MM-DD (2026-02-30 is refused, not rolled over). */
function dateParam(ctx: Context, name: string): string | undefined {
  const value = param(ctx, name);
  if (value === undefined) return undefined;
  const parsed = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T00:00:00Z`) : undefined;
  if (!parsed || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value) {
    throw new ApiError('invalid_date', `${name} must be a calendar date as YYYY-MM-DD, got "${value}"`, { parameter: name });
  }
  return value;
}

function dateRange(ctx: Context): DateRange {
  const range = { from: dateParam(ctx, 'from'), to: dateParam(ctx, 'to') };
  if (range.from && range.to && range.from > range.to) {
    throw new ApiError('invalid_date_range', `from (${range.from}) is after to (${range.to})`);
  }
  return range;
}

/** The school asked for, if the gateway approved it for this client: the school-level check. */
function approvedSchool(ctx: Context): string {
  const schoolId = param(ctx, 'school_id');
  if (!schoolId) throw new ApiError('missing_parameter', 'school_id is required', { parameter: 'school_id' });
  if (!approvedSchools(ctx).includes(schoolId)) {
    throw new ApiError('school_not_approved', `school ${schoolId} is not among the schools your token approves`);
  }
  return schoolId;
}

/** The one statistics route; the OpenAPI description (openapi.ts) is keyed by it. */
export const attendanceSummaryPath = '/stats/v1/attendance/summary';

export function statsRoutes(router: Router, { db }: { db: Db }): void {
  router.get(attendanceSummaryPath, async (ctx) => {
    const schoolId = approvedSchool(ctx);
    const range = dateRange(ctx);
    const figures = await attendanceSummary(db, Number(schoolId), range);
    ctx.body = { school_id: schoolId, from: range.from ?? null, to: range.to ?? null, ...figures };
  });
}
