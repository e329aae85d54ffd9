/**
 * Which segments a flush merges, log-structured: while a mailbox has more than MAX_LIVE_SEGMENTS,
 * the two neighbouring segments (in sequence order) whose sizes add up to the least are merged into
 * one, as long as the result stays under MAX_MERGED_SEGMENT_OCTETS. New segments are small, so they
 * merge with each other first and sizes grow roughly geometrically, like a binary counter: a
 * document is rewritten about log2(segment size / run size) times, never on every flush. Merging
 * only neighbours keeps the order that decides which copy of a message is the newer one
 * (search-manifest.ts).
 *
 * The size cap bounds the puller's memory: a merge holds both segments' documents in JavaScript and
 * the new segment in WebAssembly memory (which never shrinks back), ~1.6 GB of RSS for a merge into a
 * 330 MB segment when measured, far over the puller's 1 GiB. Past the cap, segments stop merging and
 * a large archive simply has more of them: its queries open each (BENCHMARKS.md section 9).
 */
import type { SearchDocument } from '../../core/search/search-ports.js';
import type { SegmentEntry } from './search-manifest.js';

/**
 * A query opens every live segment (a download and an open on a cold cache), so their number bounds
 * query latency; each merge rewrites the merged documents, so a lower number costs flush time. 8
 * keeps a cold query to 8 downloads made in parallel, and merges to one pair per flush in the steady
 * state (BENCHMARKS.md section 9).
 */
export const MAX_LIVE_SEGMENTS = 8;

/**
 * No merge makes a segment larger than this: 64 MiB is about 14,000 messages of ordinary mail, and
 * the merge's peak memory (both inputs' documents, the new database) stays a few hundred MB.
 */
export const MAX_MERGED_SEGMENT_OCTETS = 64 * 1024 * 1024;

/** The index of the first of the two neighbours to merge next, or null when none need merging. */
export function pairToMerge(
  segments: readonly SegmentEntry[],
  maxSegments = MAX_LIVE_SEGMENTS,
  maxMergedOctets = MAX_MERGED_SEGMENT_OCTETS,
): number | null {
  if (segments.length <= Math.max(1, maxSegments)) return null;
  let best: number | null = null;
  let bestOctets = Number.POSITIVE_INFINITY;
  for (let i = 0; i + 1 < segments.length; i++) {
    const octets = (segments[i] as SegmentEntry).octets + (segments[i + 1] as SegmentEntry).octets;
    // Ties go to the newer pair: the newest segments are the ones most recently written.
    if (octets <= maxMergedOctets && octets <= bestOctets) {
      best = i;
      bestOctets = octets;
    }
  }
  return best;
}

/**
 * The documents of several segments as one, each message once: `ordered` is oldest first, and a
 * message found in two keeps the newer copy (its text may have been reindexed since).
 */
export function mergeDocuments(ordered: readonly (readonly SearchDocument[])[]): SearchDocument[] {
  const byKey = new Map<string, SearchDocument>();
  for (const documents of ordered) {
    for (const document of documents) {
      byKey.delete(document.messageKey);
      byKey.set(document.messageKey, document);
    }
  }
  return [...byKey.values()];
}
