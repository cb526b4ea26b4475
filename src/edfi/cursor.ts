import { ApiError } from '../errors.js';

/**
 * Cursor paging (`pageToken` + `pageSize`, as ODS/API 7.3): a page is read by resource id, from where the last page
 * ended, so reading page 400 costs what reading page 1 costs (offset paging re-reads and skips every earlier row).
 * A token is opaque to clients: base64url JSON of the id range still to read,
 * `from` (inclusive) or `after` (exclusive), and `until` (exclusive) for a partition's end.
 */
export interface Cursor {
  from?: string;
  after?: string;
  until?: string;
}

const idPattern = /^[0-9a-f]{1,32}$/;

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

function invalidToken(): ApiError {
  return new ApiError('bad_request', 'pageToken is not a token this API issued: take it from a Next-Page-Token header or from /partitions.');
}

export function decodeCursor(token: string): Cursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken();
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw invalidToken();
  const cursor: Cursor = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!['from', 'after', 'until'].includes(name) || typeof value !== 'string' || !idPattern.test(value)) throw invalidToken();
    cursor[name as keyof Cursor] = value;
  }
  return cursor;
}

/** The token of the page after one that ended at `lastId`, within the same partition. */
export function nextCursor(cursor: Cursor, lastId: string): Cursor {
  return { after: lastId, ...(cursor.until && { until: cursor.until }) };
}

export const maxPartitions = 200;

/**
 * N tokens that together cover every id once. Resource ids are random (32 hex digits, uniformly spread), so equal
 * slices of the id space hold about equal numbers of items, whatever the filter: the split costs no query.
 */
export function partitionCursors(number: number): Cursor[] {
  const space = 16 ** 8;
  const bound = (i: number) => Math.floor((i * space) / number).toString(16).padStart(8, '0');
  return Array.from({ length: number }, (_, i) => ({
    ...(i > 0 && { from: bound(i) }),
    ...(i < number - 1 && { until: bound(i + 1) }),
  }));
}
