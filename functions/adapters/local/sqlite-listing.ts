/**
 * The local index's listings, newest first over the date or sender index: a plan checked before the
 * database is touched (limit, bounds, cursor), then one indexed range read from the cursor on.
 */
import { type CursorScope, datePage, encodeCursor } from '../../core/archive/listing-cursor.js';
import type { ListMessagesQuery, MessagePage, MessageRecord } from '../../core/archive/ports.js';
import { type MessageRow, messageFromRow } from './sqlite-rows.js';
import type { Listing, Statements } from './sqlite-statements.js';

export interface ListingPlan {
  scope: CursorScope & { listing: Listing };
  limit: number;
  low: string;
  high: string;
  after: { sortDate: string; messageKey: string } | null;
  matches: (row: MessageRow) => boolean;
  /** Rows examined at most. */
  scan: number;
}

export function planListing(
  scope: CursorScope & { listing: Listing },
  query: ListMessagesQuery,
  scannedRowsPerCall: number,
): ListingPlan {
  const { limit, low, high, after } = datePage(scope, query);
  // An empty substring would match every subject, and nothing else about the query changes.
  const subject = query.subject === undefined ? '' : query.subject.toLowerCase();
  const { hasAttachments } = query;
  const selective = subject !== '' || hasAttachments !== undefined;
  const matches = (row: MessageRow): boolean =>
    (subject === '' || row.subject_lower?.includes(subject) === true) &&
    (hasAttachments === undefined || row.attachment_count > 0 === hasAttachments);
  // One row past the page tells whether another page exists, so the last page has no cursor.
  const scan = selective ? Math.max(limit + 1, scannedRowsPerCall) : limit + 1;
  return { scope, limit, low, high, after, matches, scan };
}

export function readListing(statements: Statements, plan: ListingPlan): MessagePage {
  const { scope, limit, after, matches, scan } = plan;
  const statement =
    after === null ? statements.list[scope.listing].first : statements.list[scope.listing].next;
  const params = {
    mailboxId: scope.mailboxId,
    partition: scope.partition,
    low: plan.low,
    high: plan.high,
    scan,
    ...(after === null ? {} : { afterDate: after.sortDate, afterKey: after.messageKey }),
  };
  const items: MessageRecord[] = [];
  let examined = 0;
  let last: MessageRow | null = null;
  let more = false;
  for (const row of statement.iterate(params) as IterableIterator<MessageRow>) {
    if (matches(row)) {
      if (items.length === limit) {
        more = true;
        break;
      }
      items.push(messageFromRow(row));
    }
    examined += 1;
    last = row;
  }
  // Stopped by the scan bound: what lies past the last row examined is unknown yet.
  if (examined === scan) more = true;
  return {
    items,
    cursor:
      more && last !== null
        ? encodeCursor(scope, { sortDate: last.sort_date, messageKey: last.message_key })
        : null,
  };
}
