/**
 * A pending search document as the journal stores it (one small JSON object per message) and the
 * flush reads it back, checked: a damaged object is reported and dropped, never indexed as garbage.
 */
import { z } from 'zod';
import type { SearchDocument } from '../../core/search/search-ports.js';

export const PENDING_VERSION = 1;

export interface PendingDocument {
  version: typeof PENDING_VERSION;
  document: SearchDocument;
}

const documentSchema = z.object({
  mailboxId: z.string(),
  messageKey: z.string(),
  sortDate: z.string(),
  subject: z.string(),
  from: z.string(),
  to: z.string(),
  attachmentNames: z.string(),
  body: z.string(),
  hasAttachments: z.boolean(),
});

const pendingSchema = z.object({ version: z.literal(PENDING_VERSION), document: documentSchema });

/** The document, or null when the object is not a pending document of this mailbox. */
export function parsePending(value: unknown, mailboxId: string): SearchDocument | null {
  const parsed = pendingSchema.safeParse(value);
  if (!parsed.success || parsed.data.document.mailboxId !== mailboxId) return null;
  return parsed.data.document;
}
