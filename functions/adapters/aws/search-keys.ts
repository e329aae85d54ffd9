/**
 * Where a mailbox's search index lives in the archive bucket, beside its raw mail:
 *
 * - `search/pending/<mailbox>/<sha256(messageKey, content sha256)>.json`: one message's search document, written
 *   before its record (the text journal), deleted once a segment holds it;
 * - `search/segments/<mailbox>/<sequence>-<random>.sqlite`: immutable FTS5 segments;
 * - `search/manifest/<mailbox>.json`: which segments are live. Readers read only this and the
 *   segments it names, never a listing;
 * - `search/backfill/<mailbox>.json`: how far the puller has read back the text of mail archived
 *   before search (search-backfill.ts).
 *
 * The mailbox id is base64url-encoded as in raw keys (ids may hold "/" or ".."), so one mailbox's
 * prefix never contains another's and IAM grants can be per mailbox. The message key is hashed: a
 * UIDL may be 70 octets of anything, and the pending key only has to be stable.
 */
import { createHash } from 'node:crypto';
import { encodeKeySegment } from '../../core/archive/raw-object-key.js';

export const SEARCH_PREFIX = 'search/';
export const PENDING_PREFIX = `${SEARCH_PREFIX}pending/`;
export const SEGMENTS_PREFIX = `${SEARCH_PREFIX}segments/`;
export const MANIFEST_PREFIX = `${SEARCH_PREFIX}manifest/`;
export const BACKFILL_PREFIX = `${SEARCH_PREFIX}backfill/`;

export function pendingPrefix(mailboxId: string): string {
  return `${PENDING_PREFIX}${encodeKeySegment(mailboxId)}/`;
}

/**
 * One pending object per message key AND content: a UIDL a server reuses for other bytes journals
 * the second message under a key of its own, so it never overwrites the first one's text before
 * its record is refused (the flush then drops it, search-flush.ts).
 */
export function pendingKey(mailboxId: string, messageKey: string, sha256: string): string {
  const digest = createHash('sha256').update(`${messageKey}\n${sha256}`, 'utf8').digest('hex');
  return `${pendingPrefix(mailboxId)}${digest}.json`;
}

export function segmentsPrefix(mailboxId: string): string {
  return `${SEGMENTS_PREFIX}${encodeKeySegment(mailboxId)}/`;
}

export function segmentKey(mailboxId: string, segmentId: string): string {
  return `${segmentsPrefix(mailboxId)}${segmentId}.sqlite`;
}

export function manifestKey(mailboxId: string): string {
  return `${MANIFEST_PREFIX}${encodeKeySegment(mailboxId)}.json`;
}

export function backfillKey(mailboxId: string): string {
  return `${BACKFILL_PREFIX}${encodeKeySegment(mailboxId)}.json`;
}
