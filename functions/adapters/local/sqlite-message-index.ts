/**
 * The message index, leases and run records in one SQLite file, for the embedded local archive (no
 * AWS). Same semantics as the DynamoDB index (dynamodb-message-index.ts) for everything in the port:
 * conditional creates, newest-first listings with opaque cursors, lease rules, run summaries.
 *
 * Durability before DELE is the product: WAL with `synchronous = FULL` makes every commit fsync the
 * log before it returns, so a record the pull run was told about survives a power cut. Every write
 * is one transaction; better-sqlite3 is synchronous, so within a process no two interleave, and
 * across processes (a `read` next to a `pull`) SQLite's locks and the busy timeout serialise them.
 *
 * Schema (version in `PRAGMA user_version`, which is also every row's version: sqlite-schema.ts says why;
 * MIGRATIONS[n] takes a file from version n to n + 1):
 *
 *   messages   (mailbox_id, message_key) primary key; scalar fields as columns, lists as JSON;
 *              derived: sort_date (the date, or the archive time), sender (first From, lower-cased),
 *              subject_lower, attachment_count
 *              indexes: (mailbox_id, sort_date, message_key)          listings, newest first
 *                       (message_id) where present                    findByMessageId
 *                       (mailbox_id, sender, sort_date, message_key)  listBySender
 *   runs       (mailbox_id, started_order, run_id) primary key (started_order: startedAt as UTC);
 *              counts, failures and session as JSON
 *   leases     mailbox_id primary key; owner, expires_at (epoch ms)
 *   mailboxes  mailbox_id primary key; counts, last run, last success (with their UTC end times)
 *   mailbox_days  (mailbox_id, day) primary key; messages archived that UTC day
 *
 * Text compares in SQLite's BINARY collation (UTF-8 bytes), which is also DynamoDB's order, so both
 * indexes list ties and mailboxes alike.
 */

import type Database from 'better-sqlite3';
import { ArchiveError } from '../../core/archive/errors.js';
import { checkLeaseRequest } from '../../core/archive/lease-request.js';
import { requirePageLimit } from '../../core/archive/listing-cursor.js';
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
import { requireSortableIso } from '../../core/archive/sort-date.js';
import { withRecords } from '../../core/search/search-page.js';
import type {
  ArchiveSearch,
  MessageText,
  SearchPage,
  SearchRequest,
} from '../../core/search/search-ports.js';
import { planListing, readListing } from './sqlite-listing.js';
import {
  leaseFromRow,
  type MailboxRow,
  type MessageRow,
  messageFromRow,
  type RunRow,
  runFromRow,
  summaryFromRow,
  toRow,
} from './sqlite-rows.js';
import { migrate, openDatabase, toArchiveError } from './sqlite-schema.js';
import { type Listing, prepareStatements, type Statements } from './sqlite-statements.js';
import { SqliteTextIndex, type TextlessPosition } from './sqlite-text-index.js';

export { DATABASE_DIRECTORY_MODE, DATABASE_FILE_MODE, SCHEMA_VERSION } from './sqlite-schema.js';

/**
 * A filtered listing walks the date index until it has `limit` matches, but examines at most this
 * many rows per call, so one request stays fast however rare the matches are; the caller gets a
 * short page and a cursor instead (as from DynamoDB, whose bound is in pages).
 */
export const DEFAULT_SCANNED_ROWS_PER_CALL = 5000;
/** How long a write waits for another process's transaction (a `read` beside a `pull`). */
export const BUSY_TIMEOUT_MS = 5000;

export type SqliteMessageIndexOptions = (
  | { path: string; database?: never }
  | {
      /** An open database, e.g. ':memory:'; its owner closes it. */
      database: Database.Database;
      path?: never;
    }
) & {
  /** How many index rows one filtered listing call may examine (tests shrink it). */
  scannedRowsPerCall?: number;
};

/**
 * How long a put waits for others to share its commit. A commit costs one fsync (about 1.5 ms on
 * the machines measured, blocking the event loop, since better-sqlite3 is synchronous); 4 ms lets a
 * pull's concurrent puts ride together while adding little to any one message's latency.
 */
const GROUP_COMMIT_WINDOW_MS = 4;

export class SqliteMessageIndex implements MessageIndex, ArchiveSearch {
  readonly #db: Database.Database;
  readonly #owned: boolean;
  readonly #scannedRowsPerCall: number;
  readonly #statements: Statements;
  readonly #text: SqliteTextIndex;
  readonly #pendingPuts: Array<{
    record: MessageRecord;
    row: ReturnType<typeof toRow>;
    text: MessageText | undefined;
    resolve: (result: PutMessageResult) => void;
    reject: (error: unknown) => void;
  }> = [];
  #flushQueued = false;

  constructor(options: SqliteMessageIndexOptions) {
    this.#scannedRowsPerCall = options.scannedRowsPerCall ?? DEFAULT_SCANNED_ROWS_PER_CALL;
    if (!Number.isSafeInteger(this.#scannedRowsPerCall) || this.#scannedRowsPerCall < 1) {
      throw new ArchiveError('INVALID_ARGUMENT', 'scannedRowsPerCall must be a positive integer');
    }
    this.#owned = options.database === undefined;
    this.#db = options.database ?? openDatabase(options.path);
    try {
      this.#db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // Readers (the query API) never block the pull's writes, nor they them. An in-memory
      // database stays in 'memory' mode: it has no file to log to.
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      migrate(this.#db);
      this.#statements = prepareStatements(this.#db);
      this.#text = new SqliteTextIndex(this.#db);
    } catch (error) {
      if (this.#owned) this.#db.close();
      throw toArchiveError(error, 'open');
    }
  }

  /** Closes the database this index opened; one passed in is left to its owner. */
  close(): void {
    if (this.#owned && this.#db.open) this.#db.close();
  }

  /**
   * Group commit: puts that arrive within GROUP_COMMIT_WINDOW_MS of each other share one transaction
   * and so one fsync, yet each resolves only after the commit that holds it, so "acknowledged" still
   * means "durable". A created record's text is indexed in the same transaction; a record put
   * without text is left for `popvault reindex`, which finds it by its missing text.
   */
  async putMessage(record: MessageRecord, text?: MessageText): Promise<PutMessageResult> {
    const row = toRow(record);
    return new Promise<PutMessageResult>((resolve, reject) => {
      this.#pendingPuts.push({ record, row, text, resolve, reject });
      if (this.#flushQueued) return;
      this.#flushQueued = true;
      setTimeout(() => this.#flushPuts(), GROUP_COMMIT_WINDOW_MS);
    });
  }

  #flushPuts(): void {
    this.#flushQueued = false;
    const batch = this.#pendingPuts.splice(0);
    let results: PutMessageResult[];
    try {
      results = this.#run('putMessage', () =>
        this.#db.transaction(() => batch.map((put) => this.#putOne(put))).immediate(),
      );
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      // One bad record must not fail its neighbours: retry each in a transaction of its own.
      for (const put of batch) {
        try {
          put.resolve(
            this.#run('putMessage', () =>
              this.#db.transaction(() => this.#putOne(put)).immediate(),
            ),
          );
        } catch (single) {
          put.reject(single);
        }
      }
      return;
    }
    for (const [i, put] of batch.entries()) put.resolve(results[i] as PutMessageResult);
  }

  #putOne(put: {
    record: MessageRecord;
    row: ReturnType<typeof toRow>;
    text: MessageText | undefined;
  }): PutMessageResult {
    const { record } = put;
    if (this.#statements.insertMessage.run(put.row).changes === 1) {
      this.#statements.countMessage.run({ mailboxId: record.mailboxId, octets: record.octets });
      this.#statements.countDay.run({ mailboxId: record.mailboxId, archivedAt: record.archivedAt });
      if (put.text !== undefined) this.#text.indexText(record, put.text);
      return { created: true };
    }
    const existing = this.#statements.getMessage.get(record.mailboxId, record.messageKey) as
      | MessageRow
      | undefined;
    if (existing === undefined) {
      // Not reachable inside one transaction; kept so a schema change cannot make it silent.
      throw new ArchiveError('STORE_CONFLICT', `record ${record.messageKey} neither new nor old`);
    }
    return { created: false, existing: messageFromRow(existing) };
  }

  async getMessage(mailboxId: string, messageKey: string): Promise<MessageRecord | null> {
    return this.#run('getMessage', () => {
      const row = this.#statements.getMessage.get(mailboxId, messageKey) as MessageRow | undefined;
      return row === undefined ? null : messageFromRow(row);
    });
  }

  async getMessages(
    mailboxId: string,
    messageKeys: readonly string[],
  ): Promise<Map<string, MessageRecord>> {
    return this.#run('getMessages', () => {
      const found = new Map<string, MessageRecord>();
      if (messageKeys.length === 0) return found;
      const rows = this.#statements.getMessages.all(
        mailboxId,
        JSON.stringify([...new Set(messageKeys)]),
      ) as MessageRow[];
      for (const row of rows) found.set(row.message_key, messageFromRow(row));
      return found;
    });
  }

  async markDeleted(mailboxId: string, messageKeys: readonly string[], at: string): Promise<void> {
    requireSortableIso('at', at);
    if (messageKeys.length === 0) return;
    this.#run('markDeleted', () => {
      this.#statements.markDeleted.run(at, mailboxId, JSON.stringify([...new Set(messageKeys)]));
    });
  }

  listMessages(mailboxId: string, query: ListMessagesQuery): Promise<MessagePage> {
    return this.#list('date', mailboxId, '', query);
  }

  listBySender(mailboxId: string, address: string, query: ListMessagesQuery): Promise<MessagePage> {
    return this.#list('sender', mailboxId, address.trim().toLowerCase(), query);
  }

  async #list(
    listing: Listing,
    mailboxId: string,
    partition: string,
    query: ListMessagesQuery,
  ): Promise<MessagePage> {
    const plan = planListing({ listing, mailboxId, partition }, query, this.#scannedRowsPerCall);
    return this.#run('listMessages', () => readListing(this.#statements, plan));
  }

  async findByMessageId(messageId: string): Promise<MessageRecord[]> {
    if (messageId === '') return [];
    return this.#run('findByMessageId', () =>
      (this.#statements.findByMessageId.all(messageId) as MessageRow[]).map(messageFromRow),
    );
  }

  async acquireLease(request: LeaseRequest): Promise<boolean> {
    checkLeaseRequest(request);
    return this.#run(
      'acquireLease',
      () =>
        this.#statements.acquireLease.run({
          mailboxId: request.mailboxId,
          owner: request.owner,
          now: request.now,
          expiresAt: request.now + request.ttlMs,
          takeOverFrom: request.takeOverFrom ?? null,
        }).changes === 1,
    );
  }

  async leaseHolder(mailboxId: string): Promise<LeaseHolder | null> {
    return this.#run('leaseHolder', () => {
      const row = this.#statements.leaseHolder.get(mailboxId) as
        | { mailbox_id: string; owner: string; expires_at: number }
        | undefined;
      return row === undefined ? null : leaseFromRow(row);
    });
  }

  async releaseLease(mailboxId: string, owner: string): Promise<void> {
    this.#run('releaseLease', () => {
      // Someone else's lease (ours expired and was taken over) is theirs to release.
      this.#statements.releaseLease.run(mailboxId, owner);
    });
  }

  async putRun(run: RunRecord): Promise<void> {
    const startedOrder = requireSortableIso('startedAt', run.startedAt);
    // Compared as instants: "01:00+02:00" is earlier than "23:30Z" the day before, as strings not.
    const endedOrder = requireSortableIso('endedAt', run.endedAt);
    const succeeded = run.outcome === 'success' || run.outcome === 'partial';
    this.#run('putRun', () =>
      this.#db
        .transaction(() => {
          // A run's record is written again when it ends, replacing the one from its start.
          this.#statements.putRun.run({
            mailbox_id: run.mailboxId,
            started_order: startedOrder,
            run_id: run.runId,
            started_at: run.startedAt,
            ended_at: run.endedAt,
            outcome: run.outcome,
            counts_json: JSON.stringify(run.counts),
            stop_reason: run.stopReason,
            error_code: run.errorCode,
            error_message: run.errorMessage,
            failures_json: JSON.stringify(run.failures),
            session_json: run.session === null ? null : JSON.stringify(run.session),
          });
          this.#statements.ensureMailbox.run(run.mailboxId);
          // Only forward: a late writer of an older run leaves the newer one in place.
          this.#statements.advanceLastRun.run({
            mailboxId: run.mailboxId,
            runId: run.runId,
            outcome: run.outcome,
            endedAt: run.endedAt,
            endedOrder,
            errorCode: run.errorCode,
            errorMessage: run.errorMessage,
          });
          if (succeeded) {
            this.#statements.advanceLastSuccess.run({
              mailboxId: run.mailboxId,
              endedAt: run.endedAt,
              endedOrder,
            });
          }
        })
        .immediate(),
    );
  }

  async listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    requirePageLimit(limit);
    return this.#run('listRuns', () =>
      (this.#statements.listRuns.all(mailboxId, limit) as RunRow[]).map(runFromRow),
    );
  }

  async listMailboxes(): Promise<MailboxSummary[]> {
    return this.#run('listMailboxes', () =>
      (this.#statements.listMailboxes.all() as MailboxRow[]).map(summaryFromRow),
    );
  }

  async getMailbox(mailboxId: string): Promise<MailboxSummary | null> {
    return this.#run('getMailbox', () => {
      const row = this.#statements.getMailbox.get(mailboxId) as MailboxRow | undefined;
      return row === undefined ? null : summaryFromRow(row);
    });
  }

  async archivedPerDay(mailboxId: string, sinceDay: string): Promise<DayCount[]> {
    return this.#run('archivedPerDay', () =>
      (this.#statements.archivedPerDay.all(mailboxId, sinceDay) as DayCount[]).map((row) => ({
        day: row.day,
        messages: row.messages,
      })),
    );
  }

  /** Ranked full-text search over the mailboxes the request names (the caller's to check). */
  async search(request: SearchRequest): Promise<SearchPage> {
    const page = this.#run('search', () => this.#text.search(request));
    return withRecords(page, (mailboxId, keys) => this.getMessages(mailboxId, keys));
  }

  /** Records whose text was never indexed, in key order after `after` (for `popvault reindex`). */
  async textlessRecords(after: TextlessPosition | null, limit: number): Promise<MessageRecord[]> {
    return this.#run('textlessRecords', () => this.#text.textless(after, limit));
  }

  /** Indexes an existing record's text read back from its raw message; again replaces it. */
  async backfillText(record: MessageRecord, text: MessageText): Promise<void> {
    this.#run('backfillText', () => this.#text.backfillText(record, text));
  }

  #run<T>(operation: string, call: () => T): T {
    try {
      return call();
    } catch (error) {
      throw toArchiveError(error, operation);
    }
  }
}
