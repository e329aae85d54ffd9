import { ArchiveError, InvalidCursorError } from './errors.js';
import type { ListMessagesQuery } from './ports.js';
import { requireSortableIso } from './sort-date.js';

/**
 * Most items one listing call returns, for every index adapter alike, so a caller sees one API
 * whichever archive it talks to (DynamoDB's own ceiling is 1 MB per page).
 */
export const MAX_PAGE_LIMIT = 1000;

export function requirePageLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new ArchiveError(
      'INVALID_ARGUMENT',
      `limit must be an integer in [1, ${MAX_PAGE_LIMIT}]`,
    );
  }
  return limit;
}

/** Far above any cursor we issue; refuses a megabyte of "cursor" before decoding it. */
const MAX_CURSOR_LENGTH = 8192;
const CURSOR_VERSION = 1;

/** What every adapter's cursor says about where it was issued; each adds its own position fields. */
export interface CursorScope {
  /** Which listing of the mailbox (by date, by sender): an adapter-specific name. */
  listing: string;
  mailboxId: string;
  /** The partition queried within the listing (the sender address, or ''). */
  partition: string;
}

export function invalidCursor(why: string, cause?: unknown): never {
  throw new InvalidCursorError(`invalid cursor: ${why}`, { cause });
}

/** Opaque to callers: base64url of the scope plus the adapter's position. */
export function encodeCursor(scope: CursorScope, position: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ v: CURSOR_VERSION, ...scope, position }), 'utf8').toString(
    'base64url',
  );
}

/**
 * Accepts a cursor only if this index issued it for the same listing, mailbox and partition, and
 * returns its position for the adapter to check against the range being queried.
 */
export function decodeCursor(cursor: string, expected: CursorScope): Record<string, unknown> {
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    invalidCursor('not base64url');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    return invalidCursor('does not decode', error);
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return invalidCursor('does not decode');
  }
  const fields = payload as Record<string, unknown>;
  if (fields.v !== CURSOR_VERSION) invalidCursor('unknown version');
  if (fields.listing !== expected.listing) invalidCursor('issued for another listing');
  if (fields.mailboxId !== expected.mailboxId) invalidCursor('issued for another mailbox');
  if (fields.partition !== expected.partition) invalidCursor('issued for another query');
  const position = fields.position;
  if (position === null || typeof position !== 'object' || Array.isArray(position)) {
    return invalidCursor('no position');
  }
  return position as Record<string, unknown>;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Above every sortable ISO date: the open upper end of a range. */
const AFTER_EVERY_DATE = '\u{10FFFF}';

/** Where a page of a date-ordered listing starts: the last row the previous page returned. */
export interface DatePosition {
  sortDate: string;
  messageKey: string;
}

export interface DatePage {
  limit: number;
  /** Sortable ISO bounds, inclusive; '' and AFTER_EVERY_DATE when the query leaves them open. */
  low: string;
  high: string;
  after: DatePosition | null;
}

/**
 * The page a date-ordered listing asks for, every part checked: its size, its date range, and the
 * position its cursor names, which must lie inside that range (a cursor from a wider query would
 * otherwise resume outside this one).
 */
export function datePage(scope: CursorScope, query: ListMessagesQuery): DatePage {
  const limit = requirePageLimit(query.limit);
  const low = query.since === undefined ? '' : requireSortableIso('since', query.since);
  const high =
    query.until === undefined ? AFTER_EVERY_DATE : requireSortableIso('until', query.until);
  if (query.cursor === undefined || query.cursor === null) return { limit, low, high, after: null };
  const { sortDate, messageKey } = decodeCursor(query.cursor, scope);
  if (typeof sortDate !== 'string' || typeof messageKey !== 'string' || !ISO_UTC.test(sortDate)) {
    return invalidCursor('no position');
  }
  if (sortDate < low || sortDate > high) invalidCursor('position lies outside this query');
  return { limit, low, high, after: { sortDate, messageKey } };
}
