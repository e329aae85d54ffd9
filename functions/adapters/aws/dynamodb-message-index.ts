/**
 * The message index, leases and run records in one DynamoDB table (layout: dynamodb-table.ts).
 *
 * Reads of the base table are strongly consistent: the pull run decides from them what is already
 * archived, and must see its own and the previous run's writes. Queries on GSIs (listings, search)
 * are eventually consistent, as GSIs always are; they serve the query API, not the pull path.
 *
 * Lookups of keys too large to be stored find nothing instead of failing: a server may send a
 * 2 KB UIDL, and only the write of that one message should fail (KEY_TOO_LARGE), not the run.
 *
 * A mailbox's summary counts its records in the same transaction that creates them, so the counts
 * never drift from the records, whatever fails or is retried. Its last run is kept by conditional
 * updates that only ever move it forward in time.
 */

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type {
  DayCount,
  LeaseHolder,
  LeaseRequest,
  ListMessagesQuery,
  MailboxSummary,
  MessageIndex,
  MessagePage,
  MessageRecord,
  PutMessageResult,
  RunRecord,
} from '../../core/archive/ports.js';
import {
  DEFAULT_FILTERED_PAGE_ITEMS,
  DEFAULT_LIST_PAGES_PER_CALL,
  DynamoArchiveReader,
  type ListBudget,
} from './dynamodb-archive-reader.js';
import { DynamoTable, type RetryPolicy } from './dynamodb-calls.js';
import { DynamoMailboxLease } from './dynamodb-mailbox-lease.js';
import {
  DEFAULT_BATCH_RETRY,
  DEFAULT_TRANSACT_RETRY,
  DynamoMessageWriter,
} from './dynamodb-message-writer.js';
import { DynamoRunLog } from './dynamodb-run-log.js';

export {
  DEFAULT_FILTERED_PAGE_ITEMS,
  DEFAULT_LIST_PAGES_PER_CALL,
  type ListBudget,
} from './dynamodb-archive-reader.js';
export type { RetryPolicy } from './dynamodb-calls.js';
export {
  BATCH_GET_MAX_KEYS,
  DEFAULT_BATCH_RETRY,
  DEFAULT_TRANSACT_RETRY,
  MARK_DELETED_CONCURRENCY,
} from './dynamodb-message-writer.js';

export interface DynamoMessageIndexOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Back-off for unprocessed batch keys (tests shorten it). */
  batchRetry?: RetryPolicy;
  /** Back-off for transactions cancelled by a conflict (tests shorten it). */
  transactRetry?: RetryPolicy;
  /** How much one filtered listing call may read (tests shrink it). */
  listBudget?: ListBudget;
}

/** The whole index over one table: each role in its own file, sharing one document client. */
export class DynamoMessageIndex implements MessageIndex {
  readonly #writer: DynamoMessageWriter;
  readonly #lease: DynamoMailboxLease;
  readonly #runs: DynamoRunLog;
  readonly #reader: DynamoArchiveReader;

  constructor(options: DynamoMessageIndexOptions) {
    const table = new DynamoTable(options.client, options.tableName);
    this.#runs = new DynamoRunLog(table);
    this.#lease = new DynamoMailboxLease(table);
    this.#reader = new DynamoArchiveReader(
      table,
      options.listBudget ?? {
        pagesPerCall: DEFAULT_LIST_PAGES_PER_CALL,
        filteredPageItems: DEFAULT_FILTERED_PAGE_ITEMS,
      },
      this.#runs,
    );
    this.#writer = new DynamoMessageWriter(
      table,
      {
        batch: options.batchRetry ?? DEFAULT_BATCH_RETRY,
        transact: options.transactRetry ?? DEFAULT_TRANSACT_RETRY,
      },
      (mailboxId, messageKey) => this.#reader.getMessage(mailboxId, messageKey),
    );
  }

  putMessage(record: MessageRecord): Promise<PutMessageResult> {
    return this.#writer.putMessage(record);
  }

  getMessages(
    mailboxId: string,
    messageKeys: readonly string[],
  ): Promise<Map<string, MessageRecord>> {
    return this.#writer.getMessages(mailboxId, messageKeys);
  }

  markDeleted(mailboxId: string, messageKeys: readonly string[], at: string): Promise<void> {
    return this.#writer.markDeleted(mailboxId, messageKeys, at);
  }

  acquireLease(request: LeaseRequest): Promise<boolean> {
    return this.#lease.acquireLease(request);
  }

  releaseLease(mailboxId: string, owner: string): Promise<void> {
    return this.#lease.releaseLease(mailboxId, owner);
  }

  leaseHolder(mailboxId: string): Promise<LeaseHolder | null> {
    return this.#lease.leaseHolder(mailboxId);
  }

  putRun(run: RunRecord): Promise<void> {
    return this.#runs.putRun(run);
  }

  listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    return this.#runs.listRuns(mailboxId, limit);
  }

  getMessage(mailboxId: string, messageKey: string): Promise<MessageRecord | null> {
    return this.#reader.getMessage(mailboxId, messageKey);
  }

  listMessages(mailboxId: string, query: ListMessagesQuery): Promise<MessagePage> {
    return this.#reader.listMessages(mailboxId, query);
  }

  listBySender(mailboxId: string, address: string, query: ListMessagesQuery): Promise<MessagePage> {
    return this.#reader.listBySender(mailboxId, address, query);
  }

  findByMessageId(messageId: string): Promise<MessageRecord[]> {
    return this.#reader.findByMessageId(messageId);
  }

  listMailboxes(): Promise<MailboxSummary[]> {
    return this.#reader.listMailboxes();
  }

  getMailbox(mailboxId: string): Promise<MailboxSummary | null> {
    return this.#reader.getMailbox(mailboxId);
  }

  archivedPerDay(mailboxId: string, sinceDay: string): Promise<DayCount[]> {
    return this.#reader.archivedPerDay(mailboxId, sinceDay);
  }
}
