/**
 * One page of a search, as both archives serve it: the cursor is an offset into the ranked results,
 * bound to the query and the mailboxes it was issued for. An offset, not a position after the last
 * hit, because bm25 scores move as messages are indexed: a later page may repeat or miss a hit
 * when mail arrives in between, the usual trade of ranked search.
 */
import { createHash } from 'node:crypto';
import { ArchiveError } from '../archive/errors.js';
import { decodeCursor, encodeCursor, invalidCursor } from '../archive/listing-cursor.js';
import type { MessageRecord } from '../archive/ports.js';
import { type IndexHit, searchIndex } from './fts5-index.js';
import type { SearchPage, SearchRequest, SqlDriver } from './search-ports.js';

/** Most hits one page returns. */
export const MAX_SEARCH_LIMIT = 100;

/**
 * How far into the ranking pages go. Every page ranks every match again, and nobody reads the
 * thousandth-best hit: a search that needs more should be narrowed (a field, a date, a mailbox).
 */
export const MAX_SEARCH_RESULTS = 1000;

function scopeOf(request: SearchRequest) {
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([[...request.mailboxIds].sort(), request.query]))
    .digest('base64url')
    .slice(0, 22);
  return { listing: 'search', mailboxId: '', partition: fingerprint };
}

function offsetOf(request: SearchRequest): number {
  if (request.cursor === null) return 0;
  const position = decodeCursor(request.cursor, scopeOf(request));
  const offset = position.offset;
  if (typeof offset !== 'number' || !Number.isInteger(offset) || offset < 0) {
    return invalidCursor('bad offset');
  }
  return offset;
}

export interface IndexPage {
  hits: IndexHit[];
  cursor: string | null;
}

/** A page of hits for `request` (limit 1..MAX_SEARCH_LIMIT), and the cursor of the next one. */
export function searchIndexPage(db: SqlDriver, request: SearchRequest): IndexPage {
  const { limit } = request;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    throw new ArchiveError(
      'INVALID_ARGUMENT',
      `limit must be an integer in [1, ${MAX_SEARCH_LIMIT}]`,
    );
  }
  const offset = offsetOf(request);
  const room = Math.max(0, Math.min(limit, MAX_SEARCH_RESULTS - offset));
  if (room === 0) return { hits: [], cursor: null };
  const found = searchIndex(db, {
    mailboxIds: request.mailboxIds,
    query: request.query,
    limit: room + 1,
    offset,
  });
  const hits = found.slice(0, room);
  const more = found.length > room && offset + room < MAX_SEARCH_RESULTS;
  return {
    hits,
    cursor: more ? encodeCursor(scopeOf(request), { offset: offset + room }) : null,
  };
}

/** A batch lookup of records in one mailbox, as MessageWriter.getMessages does it. */
export type RecordLookup = (
  mailboxId: string,
  messageKeys: readonly string[],
) => Promise<Map<string, MessageRecord>>;

/**
 * The page the API answers: each hit with its record, in rank order, one lookup per mailbox. A hit
 * whose record is not there (text indexed ahead of a record that was never written) is left out.
 */
export async function withRecords(page: IndexPage, lookup: RecordLookup): Promise<SearchPage> {
  const keysByMailbox = new Map<string, string[]>();
  for (const hit of page.hits) {
    const keys = keysByMailbox.get(hit.mailboxId) ?? [];
    keys.push(hit.messageKey);
    keysByMailbox.set(hit.mailboxId, keys);
  }
  const found = new Map<string, Map<string, MessageRecord>>();
  for (const [mailboxId, keys] of keysByMailbox)
    found.set(mailboxId, await lookup(mailboxId, keys));
  const items = page.hits.flatMap((hit) => {
    const record = found.get(hit.mailboxId)?.get(hit.messageKey);
    return record === undefined ? [] : [{ record, rank: hit.rank, snippet: hit.snippet }];
  });
  return { items, cursor: page.cursor };
}
