/**
 * A pending search document as the journal stores it (one small JSON object per message) and the
 * flush reads it back, checked: a damaged object is reported and dropped, never indexed as garbage.
 * Checked by hand rather than with zod: the puller does not otherwise load zod, which would add
 * 0.4 MB to its bundle.
 */
import type { SearchDocument } from '../../core/search/search-ports.js';

export const PENDING_VERSION = 1;

export interface PendingDocument {
  version: typeof PENDING_VERSION;
  /**
   * The content digest of the message the text is from (MessageRecord.sha256): the flush indexes
   * the text only while the record under its key has these bytes. Absent in documents journalled
   * before it was added; those are indexed when their record exists.
   */
  sha256?: string;
  document: SearchDocument;
}

export interface PendingEntry {
  document: SearchDocument;
  sha256: string | null;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The document and the digest it was journalled with, or null as for parsePending. */
export function parsePendingEntry(value: unknown, mailboxId: string): PendingEntry | null {
  const document = parsePending(value, mailboxId);
  if (document === null) return null;
  const sha256 = (value as { sha256?: unknown }).sha256;
  if (sha256 === undefined) return { document, sha256: null };
  return typeof sha256 === 'string' && SHA256_HEX.test(sha256) ? { document, sha256 } : null;
}

const TEXT_FIELDS = [
  'mailboxId',
  'messageKey',
  'sortDate',
  'subject',
  'from',
  'to',
  'attachmentNames',
  'body',
] as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The document, or null when the object is not a pending document of this mailbox. */
export function parsePending(value: unknown, mailboxId: string): SearchDocument | null {
  if (!isObject(value) || value.version !== PENDING_VERSION || !isObject(value.document))
    return null;
  const document = value.document;
  if (TEXT_FIELDS.some((field) => typeof document[field] !== 'string')) return null;
  if (typeof document.hasAttachments !== 'boolean' || document.mailboxId !== mailboxId) return null;
  const text = (field: (typeof TEXT_FIELDS)[number]) => document[field] as string;
  return {
    mailboxId: text('mailboxId'),
    messageKey: text('messageKey'),
    sortDate: text('sortDate'),
    subject: text('subject'),
    from: text('from'),
    to: text('to'),
    attachmentNames: text('attachmentNames'),
    body: text('body'),
    hasAttachments: document.hasAttachments,
  };
}
