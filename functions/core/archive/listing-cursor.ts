import { ArchiveError, InvalidCursorError } from './errors.js';

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
