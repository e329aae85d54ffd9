/** Which neighbouring segments a flush merges, and how their documents combine. */

import { describe, expect, it } from 'vitest';
import {
  MAX_MERGED_SEGMENT_OCTETS,
  mergeDocuments,
  pairToMerge,
} from '../../functions/adapters/aws/search-compaction.js';
import type { SegmentEntry } from '../../functions/adapters/aws/search-manifest.js';
import type { SearchDocument } from '../../functions/core/search/search-ports.js';
import { searchDoc } from '../support/search-documents.js';

function segments(octets: number[]): SegmentEntry[] {
  return octets.map((n, i) => ({
    id: `${String(i + 1).padStart(12, '0')}-${'0'.repeat(16)}`,
    sequence: i + 1,
    documents: 1,
    octets: n,
    createdAt: '2026-12-05T00:00:00.000Z',
  }));
}

function doc(messageKey: string, body: string): SearchDocument {
  return searchDoc(messageKey, { body });
}

describe('pairToMerge', () => {
  it('merges nothing at or under the limit', () => {
    expect(pairToMerge(segments([5, 1, 1]), 3)).toBeNull();
    expect(pairToMerge(segments([]), 3)).toBeNull();
  });

  it('picks the neighbours smallest together, the newer pair on a tie', () => {
    expect(pairToMerge(segments([100, 50, 20, 10, 10]), 4)).toBe(3);
    expect(pairToMerge(segments([100, 5, 5, 40, 10]), 4)).toBe(1);
    expect(pairToMerge(segments([10, 10, 10, 10]), 3)).toBe(2);
  });

  it('never makes a segment over the size cap, even with too many segments', () => {
    const big = MAX_MERGED_SEGMENT_OCTETS / 2 + 1;
    expect(pairToMerge(segments([big, big, big]), 2)).toBeNull();
    expect(pairToMerge(segments([big, big, 10, 10]), 2)).toBe(2);
    expect(pairToMerge(segments([30, 30, 30]), 2, 50)).toBeNull();
  });
});

describe('mergeDocuments', () => {
  it('keeps each message once, the copy from the later list', () => {
    const merged = mergeDocuments([
      [doc('a', 'old a'), doc('b', 'b')],
      [doc('a', 'new a'), doc('c', 'c')],
    ]);
    expect(merged.map((d) => [d.messageKey, d.body]).sort()).toEqual([
      ['a', 'new a'],
      ['b', 'b'],
      ['c', 'c'],
    ]);
  });
});
