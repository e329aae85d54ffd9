/**
 * ArchiveSearch over the per-mailbox FTS5 segments in S3 (search-flush.ts writes them): read the
 * manifest of each mailbox searched (only those: the request's mailboxIds are the caller's readable
 * mailboxes, and nothing else is ever opened), open its segments through the cache, run the shared
 * FTS5 search on each, merge by rank, keep each message once, page, then load the records.
 *
 * Ranks are bm25 scores computed per segment. Segments of one mailbox hold disjoint messages
 * (apart from a copy left by a flush that died) but their term statistics differ, so two hits'
 * order across segments is approximately, not exactly, what one index would give.
 *
 * Paging is by position in the merged ranking (search-cursor.ts). Each segment is asked for
 * offset + limit + 1 hits; a message found in two segments keeps its best-ranked hit, which makes
 * that enough: every hit ranked above it in its own segment is a distinct message ranked above it
 * in the merge.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { MessageWriter } from '../../core/archive/ports.js';
import { compileMatch } from '../../core/search/fts5-index.js';
import { withRecords } from '../../core/search/search-page.js';
import type {
  ArchiveSearch,
  SearchPage,
  SearchQuery,
  SearchRequest,
} from '../../core/search/search-ports.js';
import { forEachLimited, S3SearchObjects } from './s3-search-objects.js';
import { nextCursor, searchWindow } from './search-cursor.js';
import { segmentKey } from './search-keys.js';
import { readManifest } from './search-manifest.js';
import { SegmentCache, SegmentGoneError } from './search-segment-cache.js';
import { openWasmDatabase } from './sqlite-wasm-driver.js';
import { searchSegment } from './sqlite-wasm-segments.js';

/** One match in one segment (the shared FTS5 search, sqlite-wasm-segments.ts). */
export interface SegmentHit {
  messageKey: string;
  sortDate: string;
  /** -bm25: higher is better. */
  rank: number;
  snippet: string;
}

export interface S3ArchiveSearchOptions {
  objects: S3SearchObjects;
  /** Batch record lookup (BatchGetItem): one call per mailbox on a page. */
  records: Pick<MessageWriter, 'getMessages'>;
  segments: SegmentCache;
}

/** Segments downloaded at once on a cold cache. */
export const SEGMENT_FETCH_CONCURRENCY = 8;

interface Candidate extends SegmentHit {
  mailboxId: string;
}

/** Best first: rank is -bm25 (higher is better), ties in a fixed order so pages are stable. */
function byRank(a: Candidate, b: Candidate): number {
  if (a.rank !== b.rank) return b.rank - a.rank;
  if (a.mailboxId !== b.mailboxId) return a.mailboxId < b.mailboxId ? -1 : 1;
  return a.messageKey < b.messageKey ? -1 : a.messageKey > b.messageKey ? 1 : 0;
}

export class S3ArchiveSearch implements ArchiveSearch {
  readonly #options: S3ArchiveSearchOptions;

  constructor(options: S3ArchiveSearchOptions) {
    this.#options = options;
  }

  async search(request: SearchRequest): Promise<SearchPage> {
    const { offset, room } = searchWindow(request);
    // A query FTS5 cannot run fails here, whether or not any segment exists yet.
    compileMatch(request.query);
    if (room === 0) return { items: [], cursor: null };
    const want = offset + room + 1;
    const mailboxIds = [...new Set(request.mailboxIds)];
    const found = await Promise.all(
      mailboxIds.map((mailboxId) => this.#searchMailbox(mailboxId, request.query, want)),
    );
    const best = new Map<string, Candidate>();
    for (const hit of found.flat()) {
      const id = JSON.stringify([hit.mailboxId, hit.messageKey]);
      const seen = best.get(id);
      if (seen === undefined || byRank(hit, seen) < 0) best.set(id, hit);
    }
    const ranked = [...best.values()].sort(byRank);
    const end = offset + room;
    const page = {
      hits: ranked.slice(offset, end),
      cursor: nextCursor(request, end, ranked.length > end),
    };
    // A hit without a record (its text journalled, its record write failed) is left out.
    return withRecords(page, (mailboxId, keys) =>
      this.#options.records.getMessages(mailboxId, keys),
    );
  }

  /** The mailbox's hits; a segment gone since the manifest was read means: read it once more. */
  async #searchMailbox(mailboxId: string, query: SearchQuery, want: number): Promise<Candidate[]> {
    try {
      return await this.#searchSegments(mailboxId, query, want);
    } catch (error) {
      if (!(error instanceof SegmentGoneError)) throw error;
      return this.#searchSegments(mailboxId, query, want);
    }
  }

  async #searchSegments(mailboxId: string, query: SearchQuery, want: number): Promise<Candidate[]> {
    const { objects, segments } = this.#options;
    const manifest = await readManifest(objects, mailboxId);
    const keys = manifest.segments.map((s) => segmentKey(mailboxId, s.id));
    await forEachLimited(keys, SEGMENT_FETCH_CONCURRENCY, (key) => segments.prefetch(key));
    const hits: Candidate[] = [];
    // One at a time: a segment opened may evict the one before, which is searched by then.
    for (const key of keys) {
      const db = await segments.open(key);
      for (const hit of searchSegment(mailboxId, db.driver, query, want))
        hits.push({ ...hit, mailboxId });
    }
    return hits;
  }
}

/** The search as the query function builds it: one bucket, segments cached under `cacheDirectory`. */
export function createS3ArchiveSearch(options: {
  client: S3Client;
  bucket: string;
  records: Pick<MessageWriter, 'getMessages'>;
  cacheDirectory: string;
  diskBudgetOctets?: number;
  memoryBudgetOctets?: number;
}): S3ArchiveSearch {
  const objects = new S3SearchObjects(options.client, options.bucket, { deniedIsMissing: true });
  const segments = new SegmentCache({
    directory: options.cacheDirectory,
    ...(options.diskBudgetOctets === undefined
      ? {}
      : { diskBudgetOctets: options.diskBudgetOctets }),
    ...(options.memoryBudgetOctets === undefined
      ? {}
      : { memoryBudgetOctets: options.memoryBudgetOctets }),
    fetch: (key) => objects.get(key),
    open: openWasmDatabase,
  });
  return new S3ArchiveSearch({ objects, records: options.records, segments });
}
