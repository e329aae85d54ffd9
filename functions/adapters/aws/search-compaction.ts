/**
 * Which segments a flush merges, log-structured: while a mailbox has more than MAX_LIVE_SEGMENTS,
 * the two neighbouring segments (in sequence order) whose sizes add up to the least are merged into
 * one. New segments are small, so they merge with each other first and sizes grow roughly
 * geometrically, like a binary counter: a document is rewritten about log2(messages / messages per
 * flush) times over the archive's life, never on every flush. Merging only neighbours keeps the
 * order that decides which copy of a message is the newer one (search-manifest.ts).
 */
import type { SearchDocument } from '../../core/search/search-ports.js';
import type { SegmentEntry } from './search-manifest.js';

/**
 * A query opens every live segment (a download and an open on a cold cache), so their number bounds
 * query latency; each merge rewrites the merged documents, so a lower number costs flush time. 8
 * keeps a cold query to 8 downloads made in parallel, and merges to one pair per flush in the steady
 * state (BENCHMARKS.md, "AWS search").
 */
export const MAX_LIVE_SEGMENTS = 8;

/** The index of the first of the two neighbours to merge next, or null when none need merging. */
export function pairToMerge(
  segments: readonly SegmentEntry[],
  maxSegments = MAX_LIVE_SEGMENTS,
): number | null {
  if (segments.length <= Math.max(1, maxSegments)) return null;
  let best = 0;
  let bestOctets = Number.POSITIVE_INFINITY;
  for (let i = 0; i + 1 < segments.length; i++) {
    const octets = (segments[i] as SegmentEntry).octets + (segments[i + 1] as SegmentEntry).octets;
    // Ties go to the newer pair: the newest segments are the ones most recently written.
    if (octets <= bestOctets) {
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
