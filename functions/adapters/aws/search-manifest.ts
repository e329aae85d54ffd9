/**
 * A mailbox's search manifest: the live segments, oldest first. It is the only thing a reader
 * trusts about which segments exist: segments not named here are leftovers of a flush that died
 * (or were merged away) and are never searched.
 *
 * Each segment has a sequence number; a merged segment takes the highest of the segments it
 * replaces, and only neighbours in the sequence are merged, so "higher sequence" always means "more
 * recent text" for a message found in two segments (a flush that died after uploading its segment
 * but before deleting the pending documents indexes them again next time).
 */
import { ArchiveError } from '../../core/archive/errors.js';
import { manifestKey } from './search-keys.js';

export interface SegmentEntry {
  /** `<sequence, zero-padded>-<random>`: also the segment's object name and its cache key. */
  id: string;
  sequence: number;
  documents: number;
  octets: number;
  createdAt: string;
}

export interface SearchManifest {
  version: 1;
  mailboxId: string;
  segments: SegmentEntry[];
  updatedAt: string;
}

const SEGMENT_ID = /^[0-9]{12}-[0-9a-f]{16}$/;

function isSegment(value: unknown): value is SegmentEntry {
  if (typeof value !== 'object' || value === null) return false;
  const s = value as Record<string, unknown>;
  const count = (n: unknown) => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
  return (
    typeof s.id === 'string' &&
    SEGMENT_ID.test(s.id) &&
    count(s.sequence) &&
    count(s.documents) &&
    count(s.octets) &&
    typeof s.createdAt === 'string'
  );
}

export function emptyManifest(mailboxId: string): SearchManifest {
  return { version: 1, mailboxId, segments: [], updatedAt: new Date(0).toISOString() };
}

/**
 * A stored manifest, checked (by hand: the puller does not otherwise load zod): a damaged one must
 * not send readers to arbitrary keys.
 */
export function parseManifest(value: unknown, mailboxId: string, key: string): SearchManifest {
  const m = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const valid =
    m.version === 1 &&
    m.mailboxId === mailboxId &&
    typeof m.updatedAt === 'string' &&
    Array.isArray(m.segments) &&
    m.segments.every(isSegment);
  if (!valid) {
    throw new ArchiveError(
      'STORE_CORRUPT',
      `search manifest ${key} is not a popvault manifest of mailbox ${mailboxId}; delete it and its segments, then reindex the mailbox`,
    );
  }
  return m as unknown as SearchManifest;
}

/** A new segment's id, ordered by sequence. */
export function segmentId(sequence: number, random: string): string {
  return `${String(sequence).padStart(12, '0')}-${random}`;
}

export function nextSequence(manifest: SearchManifest): number {
  return manifest.segments.reduce((max, s) => Math.max(max, s.sequence), 0) + 1;
}

/**
 * The mailbox's manifest, or an empty one when it has none yet.
 *
 * `listFirst` is for the puller: S3 answers a GET of a missing key with 404 only to a caller allowed
 * s3:ListBucket on the whole bucket, and the puller may list only its own mailbox's search prefixes
 * (a prefix condition S3 does not apply to that decision), so its GET of a manifest not yet written
 * would be a 403 indistinguishable from a real denial. It lists the key first instead.
 */
export async function readManifest(
  objects: {
    getJson(key: string): Promise<unknown>;
    list(prefix: string): Promise<{ key: string }[]>;
  },
  mailboxId: string,
  options: { listFirst?: boolean } = {},
): Promise<SearchManifest> {
  const key = manifestKey(mailboxId);
  if (options.listFirst && !(await objects.list(key)).some((o) => o.key === key)) {
    return emptyManifest(mailboxId);
  }
  const stored = await objects.getJson(key);
  return stored === null ? emptyManifest(mailboxId) : parseManifest(stored, mailboxId, key);
}
