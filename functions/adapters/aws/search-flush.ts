/**
 * The flush: at the end of a pull run, while the run still holds the mailbox lease (so it is the
 * mailbox's only writer), the pending documents become one new immutable segment:
 *
 *   list pending -> read them -> build and PUT a segment -> merge neighbours while there are too
 *   many (search-compaction.ts) -> PUT the manifest -> delete the pending documents indexed ->
 *   delete segments the manifest no longer names.
 *
 * Each step is safe to die after. Before the manifest is written nothing is visible: the pending
 * documents are still there and the next flush redoes the work (the orphan segment is deleted by
 * that flush's last step). After it, a pending document not yet deleted is indexed again into a
 * later segment: readers and merges keep one copy per message. A reader that fetched the old
 * manifest and finds a merged-away segment gone reads the manifest again (s3-archive-search.ts).
 */
import { randomBytes } from 'node:crypto';
import type { PullIndex } from '../../core/archive/ports.js';
import type { SearchDocument } from '../../core/search/search-ports.js';
import { forEachLimited, type ListedObject, type S3SearchObjects } from './s3-search-objects.js';
import { MAX_LIVE_SEGMENTS, mergeDocuments, pairToMerge } from './search-compaction.js';
import { manifestKey, pendingPrefix, segmentKey, segmentsPrefix } from './search-keys.js';
import {
  nextSequence,
  readManifest,
  type SearchManifest,
  type SegmentEntry,
  segmentId,
} from './search-manifest.js';
import { type PendingEntry, parsePendingEntry } from './search-pending.js';

/** How segments are made and read back: FTS5 databases through sqlite-wasm (sqlite-wasm-segments.ts). */
export interface SegmentFormat {
  /** An SQLite file whose FTS5 index holds these documents. */
  build(documents: readonly SearchDocument[]): Promise<Uint8Array>;
  /** The documents a segment holds (for merging). */
  read(segment: Uint8Array): Promise<SearchDocument[]>;
}

export interface SearchFlushDeps {
  objects: S3SearchObjects;
  format: SegmentFormat;
  now: () => number;
  /** 16 hex digits; tests make it predictable. */
  random?: () => string;
  maxSegments?: number;
  maxDocumentsPerFlush?: number;
  /**
   * The records pending documents belong to: a document is indexed only if its record exists with
   * the bytes the text came from. The puller always passes its index; without it, every pending
   * document is indexed (tests of segments alone).
   */
  records?: Pick<PullIndex, 'getMessages'>;
}

/**
 * Pending documents one flush indexes at most: each is held in memory with its text (bounded per
 * message), and the new segment (~4.7 KB a message measured, so ~45 MB) stays under the merge cap
 * (MAX_MERGED_SEGMENT_OCTETS). A mailbox that received more catches up over the next runs.
 */
export const MAX_DOCUMENTS_PER_FLUSH = 10_000;
/** Pending documents read at once (small GETs: the round trip is the cost). */
export const PENDING_READ_CONCURRENCY = 16;
export const SEGMENT_CONTENT_TYPE = 'application/vnd.sqlite3';

export interface FlushReport {
  indexed: number;
  /** Pending objects that were not a document of this mailbox: deleted, and counted here. */
  unreadable: number;
  /**
   * Pending documents whose record is missing or holds other bytes (a UIDL reused for another
   * message, whose record was refused under that key): deleted, never indexed.
   */
  stale: number;
  /** Pending documents left for the next flush (over MAX_DOCUMENTS_PER_FLUSH). */
  deferred: number;
  segmentsWritten: number;
  merges: number;
  segmentsDeleted: number;
  /** Live segments after the flush (0 when there was nothing to index: the manifest is not read). */
  liveSegments: number;
  /** Octets of the mailbox's live segments (0 when there was nothing to index: not read then). */
  liveOctets: number;
}

interface FlushContext {
  mailboxId: string;
  deps: SearchFlushDeps;
  /** Segments built during this flush, by id: merged without downloading them again. */
  built: Map<string, Uint8Array>;
  report: FlushReport;
}

/** Indexes the mailbox's pending documents. Throws on any failure: the caller decides (it logs). */
export async function flushSearch(
  mailboxId: string,
  deps: SearchFlushDeps,
  signal?: AbortSignal,
): Promise<FlushReport> {
  const { objects } = deps;
  const report: FlushReport = {
    indexed: 0,
    unreadable: 0,
    stale: 0,
    deferred: 0,
    segmentsWritten: 0,
    merges: 0,
    segmentsDeleted: 0,
    liveSegments: 0,
    liveOctets: 0,
  };
  const pending = await objects.list(pendingPrefix(mailboxId));
  const batch = pending.slice(0, deps.maxDocumentsPerFlush ?? MAX_DOCUMENTS_PER_FLUSH);
  report.deferred = pending.length - batch.length;
  // An idle run costs one LIST: nothing to index means nothing to merge either (a merge only ever
  // follows a new segment), so the manifest is not even read.
  if (batch.length === 0) return report;
  const manifest = await readManifest(objects, mailboxId, { listFirst: true });
  const ctx: FlushContext = { mailboxId, deps, built: new Map(), report };
  const max = deps.maxSegments ?? MAX_LIVE_SEGMENTS;
  const documents = await readPending(ctx, batch);
  let segments = [...manifest.segments];
  if (documents.length > 0) {
    segments.push(await writeSegment(ctx, documents, nextSequence(manifest)));
  }
  segments = await compact(ctx, segments, max);
  // A run that lost its lease is no longer the only writer: leave everything for the holder.
  signal?.throwIfAborted();
  await writeManifest(ctx, manifest, segments);
  await objects.delete(batch.map((o) => o.key));
  await sweep(ctx, segments);
  manifest.segments = segments;
  report.liveSegments = manifest.segments.length;
  report.liveOctets = manifest.segments.reduce((sum, s) => sum + s.octets, 0);
  return report;
}

/** The documents whose record exists with the bytes their text came from. */
async function current(
  ctx: FlushContext,
  entries: readonly PendingEntry[],
): Promise<SearchDocument[]> {
  const { records } = ctx.deps;
  if (records === undefined) return entries.map((e) => e.document);
  const keys = [...new Set(entries.map((e) => e.document.messageKey))];
  const found = await records.getMessages(ctx.mailboxId, keys);
  return entries
    .filter((e) => {
      const record = found.get(e.document.messageKey);
      return record !== undefined && (e.sha256 === null || e.sha256 === record.sha256);
    })
    .map((e) => e.document);
}

async function readPending(
  ctx: FlushContext,
  batch: readonly ListedObject[],
): Promise<SearchDocument[]> {
  const entries: (PendingEntry | null)[] = new Array(batch.length).fill(null);
  await forEachLimited(batch, PENDING_READ_CONCURRENCY, async (object, i) => {
    entries[i] = parsePendingEntry(await ctx.deps.objects.getJson(object.key), ctx.mailboxId);
  });
  const parsed = entries.filter((e): e is PendingEntry => e !== null);
  ctx.report.unreadable += batch.length - parsed.length;
  const readable = await current(ctx, parsed);
  ctx.report.stale += parsed.length - readable.length;
  // Pending keys are one per message key, so this only orders: by key, for a reproducible segment.
  const merged = mergeDocuments([readable]).sort((a, b) =>
    a.messageKey < b.messageKey ? -1 : a.messageKey > b.messageKey ? 1 : 0,
  );
  ctx.report.indexed += merged.length;
  return merged;
}

async function writeSegment(
  ctx: FlushContext,
  documents: readonly SearchDocument[],
  sequence: number,
): Promise<SegmentEntry> {
  const bytes = await ctx.deps.format.build(documents);
  const random = ctx.deps.random?.() ?? randomBytes(8).toString('hex');
  const id = segmentId(sequence, random);
  await ctx.deps.objects.put(segmentKey(ctx.mailboxId, id), bytes, SEGMENT_CONTENT_TYPE);
  ctx.built.set(id, bytes);
  ctx.report.segmentsWritten++;
  return {
    id,
    sequence,
    documents: documents.length,
    octets: bytes.length,
    createdAt: new Date(ctx.deps.now()).toISOString(),
  };
}

/** Merges neighbours until at most `max` segments are live. */
async function compact(
  ctx: FlushContext,
  segments: SegmentEntry[],
  max: number,
): Promise<SegmentEntry[]> {
  let live = segments;
  for (let at = pairToMerge(live, max); at !== null; at = pairToMerge(live, max)) {
    const pair = live.slice(at, at + 2) as [SegmentEntry, SegmentEntry];
    const [older, newer] = await Promise.all(pair.map((s) => segmentDocuments(ctx, s)));
    const merged = await writeSegment(
      ctx,
      mergeDocuments([older ?? [], newer ?? []]),
      pair[1].sequence,
    );
    live = [...live.slice(0, at), merged, ...live.slice(at + 2)];
    ctx.report.merges++;
  }
  return live;
}

async function segmentDocuments(ctx: FlushContext, entry: SegmentEntry): Promise<SearchDocument[]> {
  let bytes = ctx.built.get(entry.id);
  if (bytes === undefined) {
    const key = segmentKey(ctx.mailboxId, entry.id);
    const fetched = await ctx.deps.objects.get(key);
    if (fetched === null) {
      throw new Error(
        `search segment ${key} is named by the manifest but missing; the mailbox's search index needs a reindex`,
      );
    }
    bytes = fetched;
  }
  return ctx.deps.format.read(bytes);
}

async function writeManifest(
  ctx: FlushContext,
  previous: SearchManifest,
  segments: SegmentEntry[],
): Promise<void> {
  const manifest: SearchManifest = {
    ...previous,
    segments,
    updatedAt: new Date(ctx.deps.now()).toISOString(),
  };
  await ctx.deps.objects.putJson(manifestKey(ctx.mailboxId), manifest);
}

/** Deletes every segment object the manifest does not name: merged away, or left by a dead flush. */
async function sweep(ctx: FlushContext, live: readonly SegmentEntry[]): Promise<void> {
  const keep = new Set(live.map((s) => segmentKey(ctx.mailboxId, s.id)));
  const stale = (await ctx.deps.objects.list(segmentsPrefix(ctx.mailboxId)))
    .map((o) => o.key)
    .filter((key) => !keep.has(key));
  await ctx.deps.objects.delete(stale);
  ctx.report.segmentsDeleted += stale.length;
}
