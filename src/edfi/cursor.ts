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
  // The ODS/API's words; the suites check them.
  return new ApiError('invalid_query', 'The page token provided was invalid.');
}

export function decodeCursor(token: string): Cursor {
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(token)) throw invalidToken();
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
 * The tokens of partitions that start at the given ids (ascending, each the first id of a partition after the first):
 * together they cover every id once, whatever is written later.
 */
export function partitionCursors(starts: string[]): Cursor[] {
  const bounds = [undefined, ...starts, undefined];
  return bounds.slice(0, -1).map((from, i) => ({ ...(from && { from }), ...(bounds[i + 1] && { until: bounds[i + 1] }) }));
}
