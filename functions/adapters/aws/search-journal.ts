/**
 * The text journal: a PullIndex decorator that writes each message's search document to
 * `search/pending/...` (search-keys.ts) BEFORE the record. A record therefore never exists whose
 * text is neither in a segment nor pending: if the record write fails, the pending document is
 * harmless (the next run writes both again, to the same key); if the run dies after the record,
 * the document is already there for the next flush (search-flush.ts). Rewriting a pending document
 * is idempotent: same key, same content.
 */
import type {
  LeaseHolder,
  LeaseRequest,
  MessageRecord,
  PullIndex,
  PutMessageResult,
  RunRecord,
} from '../../core/archive/ports.js';
import { searchDocumentOf } from '../../core/search/search-document.js';
import type { MessageText, SearchDocument } from '../../core/search/search-ports.js';
import type { S3SearchObjects } from './s3-search-objects.js';
import { pendingKey } from './search-keys.js';
import { PENDING_VERSION, type PendingDocument } from './search-pending.js';

/** Builds the document the index holds from a record and its text (search-document.ts). */
export type DocumentBuilder = (
  record: MessageRecord,
  text: MessageText | undefined,
) => SearchDocument;

/**
 * The shared document of a record; a record written without text (a caller that passes none) is
 * still found by subject, addresses and attachment names; the puller's backfill (search-backfill.ts)
 * reads back the body of mail archived before search was on.
 */
export const journalDocument: DocumentBuilder = (record, text) =>
  searchDocumentOf(record, text ?? { body: '', truncated: false });

/**
 * Writes a record's search document to the journal, under a key of its message key and content
 * digest and carrying the digest, so the flush can tell it from another message's text for the same
 * key (search-flush.ts). The pull path and the backfill both journal through here.
 */
export async function journalText(
  objects: S3SearchObjects,
  record: MessageRecord,
  document: SearchDocument,
): Promise<void> {
  const pending: PendingDocument = { version: PENDING_VERSION, sha256: record.sha256, document };
  await objects.putJson(pendingKey(record.mailboxId, record.messageKey, record.sha256), pending);
}

export class SearchJournalIndex implements PullIndex {
  readonly #inner: PullIndex;
  readonly #objects: S3SearchObjects;
  readonly #toDocument: DocumentBuilder;

  constructor(inner: PullIndex, objects: S3SearchObjects, toDocument: DocumentBuilder) {
    this.#inner = inner;
    this.#objects = objects;
    this.#toDocument = toDocument;
  }

  async putMessage(record: MessageRecord, text?: MessageText): Promise<PutMessageResult> {
    await journalText(this.#objects, record, this.#toDocument(record, text));
    return this.#inner.putMessage(record, text);
  }

  getMessages(
    mailboxId: string,
    messageKeys: readonly string[],
  ): Promise<Map<string, MessageRecord>> {
    return this.#inner.getMessages(mailboxId, messageKeys);
  }

  markDeleted(mailboxId: string, messageKeys: readonly string[], at: string): Promise<void> {
    return this.#inner.markDeleted(mailboxId, messageKeys, at);
  }

  acquireLease(request: LeaseRequest): Promise<boolean> {
    return this.#inner.acquireLease(request);
  }

  releaseLease(mailboxId: string, owner: string): Promise<void> {
    return this.#inner.releaseLease(mailboxId, owner);
  }

  leaseHolder(mailboxId: string): Promise<LeaseHolder | null> {
    return this.#inner.leaseHolder(mailboxId);
  }

  putRun(run: RunRecord): Promise<void> {
    return this.#inner.putRun(run);
  }

  listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    return this.#inner.listRuns(mailboxId, limit);
  }
}
