/**
 * The AWS search's page cursor: an offset into the ranking merged across segments, bound to the
 * query and the mailboxes it was issued for (so it cannot be replayed against another query, or
 * another caller's mailboxes), in the archive's one cursor format (listing-cursor.ts). Pages stop at
 * MAX_SEARCH_RESULTS and hold at most MAX_SEARCH_LIMIT hits, as in the local archive
 * (search-page.ts).
 */
import { createHash } from 'node:crypto';
import { ArchiveError } from '../../core/archive/errors.js';
import {
  type CursorScope,
  decodeCursor,
  encodeCursor,
  invalidCursor,
} from '../../core/archive/listing-cursor.js';
import { MAX_SEARCH_LIMIT, MAX_SEARCH_RESULTS } from '../../core/search/search-page.js';
import type { SearchRequest } from '../../core/search/search-ports.js';

function scopeOf(request: SearchRequest): CursorScope {
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([[...new Set(request.mailboxIds)].sort(), request.query]))
    .digest('base64url')
    .slice(0, 22);
  return { listing: 's3-search', mailboxId: '', partition: fingerprint };
}

export interface SearchWindow {
  offset: number;
  /** Hits this page may hold: the limit, less what would pass MAX_SEARCH_RESULTS. */
  room: number;
}

/** Where the page starts and how many hits it may hold; a cursor of another query is refused. */
export function searchWindow(request: SearchRequest): SearchWindow {
  const { limit } = request;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SEARCH_LIMIT) {
    throw new ArchiveError(
      'INVALID_ARGUMENT',
      `limit must be an integer in [1, ${MAX_SEARCH_LIMIT}]`,
    );
  }
  let offset = 0;
  if (request.cursor !== null) {
    const position = decodeCursor(request.cursor, scopeOf(request));
    const { offset: at } = position;
    if (typeof at !== 'number' || !Number.isInteger(at) || at < 0) invalidCursor('bad offset');
    offset = at as number;
  }
  return { offset, room: Math.max(0, Math.min(limit, MAX_SEARCH_RESULTS - offset)) };
}

/** The next page's cursor, or null when `end` is the last hit or as deep as pages go. */
export function nextCursor(request: SearchRequest, end: number, more: boolean): string | null {
  return more && end < MAX_SEARCH_RESULTS ? encodeCursor(scopeOf(request), { offset: end }) : null;
}
