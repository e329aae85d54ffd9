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
  document: SearchDocument;
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
