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
 * Schema (version in `PRAGMA user_version`; MIGRATIONS[n] takes a file from version n to n + 1):
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
 *
 * Text compares in SQLite's BINARY collation (UTF-8 bytes), which is also DynamoDB's order, so both
 * indexes list ties and mailboxes alike.
 */

import { closeSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ArchiveError, type ArchiveErrorCode } from '../../core/archive/errors.js';
import {
  decodeCursor,
  encodeCursor,
  invalidCursor,
  requirePageLimit,
} from '../../core/archive/listing-cursor.js';
import type {
  AddressSummary,
  AttachmentSummary,
  LeaseHolder,
  LeaseRequest,
  ListMessagesQuery,
  MailboxSummary,
  MessageIndex,
  MessagePage,
  MessageRecord,
  PutMessageResult,
  RunCounts,
  RunOutcome,
  RunRecord,
  RunSession,
} from '../../core/archive/ports.js';
import { requireSortableIso, senderOf, sortDateOf } from '../../core/archive/sort-date.js';
import { UNVERSIONED_PARSER } from '../../core/message/parser-version.js';

/**
 * A filtered listing walks the date index until it has `limit` matches, but examines at most this
 * many rows per call, so one request stays fast however rare the matches are; the caller gets a
 * short page and a cursor instead (as from DynamoDB, whose bound is in pages).
 */
export const DEFAULT_SCANNED_ROWS_PER_CALL = 5000;
/** How long a write waits for another process's transaction (a `read` beside a `pull`). */
export const BUSY_TIMEOUT_MS = 5000;
/** Mail is private: the index is its owner's alone, like the directory it lives in. */
export const DATABASE_FILE_MODE = 0o600;
export const DATABASE_DIRECTORY_MODE = 0o700;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Above every sortable ISO date (they start with a digit), so "no until" needs no second query. */
const AFTER_EVERY_DATE = '\u{10FFFF}';

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE messages (
    mailbox_id TEXT NOT NULL,
    message_key TEXT NOT NULL,
    sort_date TEXT NOT NULL,
    sender TEXT,
    subject_lower TEXT,
    attachment_count INTEGER NOT NULL,
    message_id TEXT,
    from_json TEXT NOT NULL,
    to_json TEXT NOT NULL,
    cc_json TEXT NOT NULL,
    addresses_truncated INTEGER NOT NULL,
    subject TEXT,
    date_header TEXT,
    date TEXT,
    attachments_json TEXT NOT NULL,
    attachments_truncated INTEGER NOT NULL,
    snippet TEXT NOT NULL,
    parse_error TEXT,
    uidl TEXT,
    octets INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    raw_key TEXT NOT NULL,
    archived_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    deleted_from_server_at TEXT,
    PRIMARY KEY (mailbox_id, message_key)
  ) STRICT;
  CREATE INDEX messages_by_date ON messages (mailbox_id, sort_date, message_key);
  CREATE INDEX messages_by_message_id ON messages (message_id) WHERE message_id IS NOT NULL;
  CREATE INDEX messages_by_sender ON messages (mailbox_id, sender, sort_date, message_key)
    WHERE sender IS NOT NULL;

  CREATE TABLE runs (
    mailbox_id TEXT NOT NULL,
    started_order TEXT NOT NULL,
    run_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    counts_json TEXT NOT NULL,
    stop_reason TEXT,
    error_code TEXT,
    error_message TEXT,
    failures_json TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, started_order, run_id)
  ) STRICT;

  CREATE TABLE leases (
    mailbox_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE mailboxes (
    mailbox_id TEXT PRIMARY KEY,
    messages INTEGER NOT NULL DEFAULT 0,
    octets INTEGER NOT NULL DEFAULT 0,
    last_run_id TEXT,
    last_run_outcome TEXT,
    last_run_ended_at TEXT,
    last_run_ended_order TEXT,
    last_run_error_code TEXT,
    last_run_error_message TEXT,
    last_success_at TEXT,
    last_success_order TEXT
  ) STRICT;
  `,
  // Run records gain what their POP3 session was like (RunSession); older runs read back as null.
  `
  ALTER TABLE runs ADD COLUMN session_json TEXT;
  `,
  // Message records gain the version of the parser that wrote them; older ones read back as
  // UNVERSIONED_PARSER (0).
  `
  ALTER TABLE messages ADD COLUMN parser_version INTEGER NOT NULL DEFAULT 0;
  `,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

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

interface MessageRow {
  mailbox_id: string;
  message_key: string;
  sort_date: string;
  sender: string | null;
  subject_lower: string | null;
  attachment_count: number;
  message_id: string | null;
  from_json: string;
  to_json: string;
  cc_json: string;
  addresses_truncated: number;
  subject: string | null;
  date_header: string | null;
  date: string | null;
  attachments_json: string;
  attachments_truncated: number;
  snippet: string;
  parse_error: string | null;
  parser_version: number;
  uidl: string | null;
  octets: number;
  sha256: string;
  raw_key: string;
  archived_at: string;
  run_id: string;
  deleted_from_server_at: string | null;
}

interface RunRow {
  mailbox_id: string;
  started_order: string;
  run_id: string;
  started_at: string;
  ended_at: string;
  outcome: string;
  counts_json: string;
  stop_reason: string | null;
  error_code: string | null;
  error_message: string | null;
  failures_json: string;
  session_json: string | null;
}

interface MailboxRow {
  mailbox_id: string;
  messages: number;
  octets: number;
  last_run_id: string | null;
  last_run_outcome: string | null;
  last_run_ended_at: string | null;
  last_run_error_code: string | null;
  last_run_error_message: string | null;
  last_success_at: string | null;
}

type Listing = 'date' | 'sender';

function toRow(record: MessageRecord): MessageRow {
  return {
    mailbox_id: record.mailboxId,
    message_key: record.messageKey,
    sort_date: sortDateOf(record),
    sender: senderOf(record),
    subject_lower: record.subject === null ? null : record.subject.toLowerCase(),
    attachment_count: record.attachments.length,
    message_id: record.messageId,
    from_json: JSON.stringify(record.from),
    to_json: JSON.stringify(record.to),
    cc_json: JSON.stringify(record.cc),
    addresses_truncated: record.addressesTruncated ? 1 : 0,
    subject: record.subject,
    date_header: record.dateHeader,
    date: record.date,
    attachments_json: JSON.stringify(record.attachments),
    attachments_truncated: record.attachmentsTruncated ? 1 : 0,
    snippet: record.snippet,
    parse_error: record.parseError,
    // A record from code that predates parser versions has none: it is stored as unversioned.
    parser_version: record.parserVersion ?? UNVERSIONED_PARSER,
    uidl: record.uidl,
    octets: record.octets,
    sha256: record.sha256,
    raw_key: record.rawKey,
    archived_at: record.archivedAt,
    run_id: record.runId,
    deleted_from_server_at: record.deletedFromServerAt,
  };
}

function toMessage(row: MessageRow): MessageRecord {
  return {
    messageId: row.message_id,
    from: JSON.parse(row.from_json) as AddressSummary[],
    to: JSON.parse(row.to_json) as AddressSummary[],
    cc: JSON.parse(row.cc_json) as AddressSummary[],
    addressesTruncated: row.addresses_truncated === 1,
    subject: row.subject,
    dateHeader: row.date_header,
    date: row.date,
    attachments: JSON.parse(row.attachments_json) as AttachmentSummary[],
    attachmentsTruncated: row.attachments_truncated === 1,
    snippet: row.snippet,
    parseError: row.parse_error,
    parserVersion: row.parser_version,
    mailboxId: row.mailbox_id,
    messageKey: row.message_key,
    uidl: row.uidl,
    octets: row.octets,
    sha256: row.sha256,
    rawKey: row.raw_key,
    archivedAt: row.archived_at,
    runId: row.run_id,
    deletedFromServerAt: row.deleted_from_server_at,
  };
}

function toRun(row: RunRow): RunRecord {
  return {
    mailboxId: row.mailbox_id,
    runId: row.run_id,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    outcome: row.outcome as RunOutcome,
    counts: JSON.parse(row.counts_json) as RunCounts,
    stopReason: row.stop_reason,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    failures: JSON.parse(row.failures_json) as RunRecord['failures'],
    session: row.session_json === null ? null : (JSON.parse(row.session_json) as RunSession),
  };
}

function toSummary(row: MailboxRow): MailboxSummary {
  return {
    mailboxId: row.mailbox_id,
    messages: row.messages,
    octets: row.octets,
    lastRun:
      row.last_run_id === null
        ? null
        : {
            runId: row.last_run_id,
            outcome: row.last_run_outcome as RunOutcome,
            endedAt: row.last_run_ended_at as string,
            errorCode: row.last_run_error_code,
            errorMessage: row.last_run_error_message,
          },
    lastSuccessAt: row.last_success_at,
  };
}

const SQLITE_CODES: ReadonlyArray<[RegExp, ArchiveErrorCode]> = [
  // Another process held the write lock past the busy timeout: the next attempt will get it.
  [/^SQLITE_(BUSY|LOCKED)/, 'STORE_UNAVAILABLE'],
  [/^SQLITE_FULL/, 'STORE_UNAVAILABLE'],
  [/^SQLITE_(READONLY|PERM|AUTH)/, 'STORE_ACCESS_DENIED'],
  [/^SQLITE_CANTOPEN/, 'STORE_MISSING'],
  [/^SQLITE_(TOOBIG|CONSTRAINT|MISMATCH|RANGE)/, 'STORE_REJECTED'],
];

/** Maps what better-sqlite3 threw to an ArchiveError (an ArchiveError passes through). */
function toArchiveError(error: unknown, operation: string): ArchiveError {
  if (error instanceof ArchiveError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const sqliteCode = typeof code === 'string' ? code : null;
  const mapped =
    (sqliteCode !== null && SQLITE_CODES.find(([pattern]) => pattern.test(sqliteCode))?.[1]) ||
    'STORE_FAILED';
  const detail = error instanceof Error ? error.message : String(error);
  return new ArchiveError(
    mapped,
    `sqlite ${operation} failed: ${sqliteCode ?? 'error'}: ${detail.slice(0, 300)} (${mapped})`,
    { cause: error },
  );
}

/** A cursor's position must name a row inside the range being listed. */
function positionFrom(
  position: Record<string, unknown>,
  range: { low: string; high: string },
): { sortDate: string; messageKey: string } {
  const { sortDate, messageKey } = position;
  if (typeof sortDate !== 'string' || typeof messageKey !== 'string' || !ISO_UTC.test(sortDate)) {
    return invalidCursor('no position');
  }
  if (sortDate < range.low || sortDate > range.high)
    invalidCursor('position lies outside this query');
  return { sortDate, messageKey };
}

/** Creates the file owner-only (and its directory 0700) before SQLite opens it with its own mode. */
function createPrivateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: DATABASE_DIRECTORY_MODE });
  let fd: number;
  try {
    fd = openSync(path, 'wx', DATABASE_FILE_MODE);
  } catch (error) {
    // An existing file keeps the permissions its owner gave it.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw error;
  }
  try {
    // The mode passed to open() is filtered through the umask; this one is not.
    fchmodSync(fd, DATABASE_FILE_MODE);
  } finally {
    closeSync(fd);
  }
}

function openDatabase(path: string): Database.Database {
  try {
    createPrivateFile(path);
    // SQLite creates the -wal and -shm files with the database file's permissions.
    return new Database(path);
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code;
    if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') {
      throw new ArchiveError('STORE_ACCESS_DENIED', `cannot create the index at ${path}`, {
        cause: error,
      });
    }
    throw toArchiveError(error, 'open');
  }
}

/** Applies every migration the file lacks, in one transaction; refuses a newer schema. */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    // Read inside the write transaction: two processes opening a new file migrate it once.
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new ArchiveError(
        'STORE_REJECTED',
        `the index has schema version ${version}; this popvault knows up to ${SCHEMA_VERSION}`,
      );
    }
    for (let next = version; next < SCHEMA_VERSION; next++) db.exec(MIGRATIONS[next] as string);
    if (version !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

const MESSAGE_COLUMNS = [
  'mailbox_id',
  'message_key',
  'sort_date',
  'sender',
  'subject_lower',
  'attachment_count',
  'message_id',
  'from_json',
  'to_json',
  'cc_json',
  'addresses_truncated',
  'subject',
  'date_header',
  'date',
  'attachments_json',
  'attachments_truncated',
  'snippet',
  'parse_error',
  'parser_version',
  'uidl',
  'octets',
  'sha256',
  'raw_key',
  'archived_at',
  'run_id',
  'deleted_from_server_at',
] as const;

// A later page starts at its cursor: `(sort_date, message_key) < (...)` is a range on the index, no
// row before it is read, so page n costs what page 1 does. INDEXED BY turns a missing or unusable
// index into an error instead of a silent table scan.
const LISTINGS: Record<Listing, { first: string; next: string }> = {
  date: {
    first: `SELECT * FROM messages INDEXED BY messages_by_date
      WHERE mailbox_id = @mailboxId AND sort_date >= @low AND sort_date <= @high
      ORDER BY sort_date DESC, message_key DESC LIMIT @scan`,
    next: `SELECT * FROM messages INDEXED BY messages_by_date
      WHERE mailbox_id = @mailboxId AND sort_date >= @low
        AND (sort_date, message_key) < (@afterDate, @afterKey)
      ORDER BY sort_date DESC, message_key DESC LIMIT @scan`,
  },
  sender: {
    first: `SELECT * FROM messages INDEXED BY messages_by_sender
      WHERE mailbox_id = @mailboxId AND sender = @partition
        AND sort_date >= @low AND sort_date <= @high
      ORDER BY sort_date DESC, message_key DESC LIMIT @scan`,
    next: `SELECT * FROM messages INDEXED BY messages_by_sender
      WHERE mailbox_id = @mailboxId AND sender = @partition AND sort_date >= @low
        AND (sort_date, message_key) < (@afterDate, @afterKey)
      ORDER BY sort_date DESC, message_key DESC LIMIT @scan`,
  },
};

/**
 * How long a put waits for others to share its commit. A commit costs one fsync (about 1.5 ms on
 * the machines measured, blocking the event loop, since better-sqlite3 is synchronous); 4 ms lets a
 * pull's concurrent puts ride together while adding little to any one message's latency.
 */
const GROUP_COMMIT_WINDOW_MS = 4;

export class SqliteMessageIndex implements MessageIndex {
  readonly #db: Database.Database;
  readonly #owned: boolean;
  readonly #scannedRowsPerCall: number;
  readonly #statements: ReturnType<typeof prepareStatements>;
  readonly #pendingPuts: Array<{
    record: MessageRecord;
    row: ReturnType<typeof toRow>;
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
   * means "durable".
   */
  async putMessage(record: MessageRecord): Promise<PutMessageResult> {
    const row = toRow(record);
    return new Promise<PutMessageResult>((resolve, reject) => {
      this.#pendingPuts.push({ record, row, resolve, reject });
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
        this.#db
          .transaction(() => batch.map((put) => this.#putOne(put.record, put.row)))
          .immediate(),
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
              this.#db.transaction(() => this.#putOne(put.record, put.row)).immediate(),
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

  #putOne(record: MessageRecord, row: ReturnType<typeof toRow>): PutMessageResult {
    if (this.#statements.insertMessage.run(row).changes === 1) {
      this.#statements.countMessage.run({ mailboxId: record.mailboxId, octets: record.octets });
      return { created: true };
    }
    const existing = this.#statements.getMessage.get(record.mailboxId, record.messageKey) as
      | MessageRow
      | undefined;
    if (existing === undefined) {
      // Not reachable inside one transaction; kept so a schema change cannot make it silent.
      throw new ArchiveError('STORE_CONFLICT', `record ${record.messageKey} neither new nor old`);
    }
    return { created: false, existing: toMessage(existing) };
  }

  async getMessage(mailboxId: string, messageKey: string): Promise<MessageRecord | null> {
    return this.#run('getMessage', () => {
      const row = this.#statements.getMessage.get(mailboxId, messageKey) as MessageRow | undefined;
      return row === undefined ? null : toMessage(row);
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
      for (const row of rows) found.set(row.message_key, toMessage(row));
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
    const limit = requirePageLimit(query.limit);
    const low = query.since === undefined ? '' : requireSortableIso('since', query.since);
    const high =
      query.until === undefined ? AFTER_EVERY_DATE : requireSortableIso('until', query.until);
    const after =
      query.cursor === undefined || query.cursor === null
        ? null
        : positionFrom(decodeCursor(query.cursor, { listing, mailboxId, partition }), {
            low,
            high,
          });
    // An empty substring would match every subject, and nothing else about the query changes.
    const subject = query.subject === undefined ? '' : query.subject.toLowerCase();
    const { hasAttachments } = query;
    const selective = subject !== '' || hasAttachments !== undefined;
    const matches = (row: MessageRow): boolean =>
      (subject === '' || row.subject_lower?.includes(subject) === true) &&
      (hasAttachments === undefined || row.attachment_count > 0 === hasAttachments);
    // One row past the page tells whether another page exists, so the last page has no cursor.
    const scan = selective ? Math.max(limit + 1, this.#scannedRowsPerCall) : limit + 1;

    return this.#run('listMessages', () => {
      const statement =
        after === null ? this.#statements.list[listing].first : this.#statements.list[listing].next;
      const params = {
        mailboxId,
        partition,
        low,
        high,
        scan,
        ...(after === null ? {} : { afterDate: after.sortDate, afterKey: after.messageKey }),
      };
      const items: MessageRecord[] = [];
      let examined = 0;
      let last: MessageRow | null = null;
      let more = false;
      for (const row of statement.iterate(params) as IterableIterator<MessageRow>) {
        if (matches(row)) {
          if (items.length === limit) {
            more = true;
            break;
          }
          items.push(toMessage(row));
        }
        examined += 1;
        last = row;
      }
      // Stopped by the scan bound: what lies past the last row examined is unknown yet.
      if (examined === scan) more = true;
      return {
        items,
        cursor:
          more && last !== null
            ? encodeCursor(
                { listing, mailboxId, partition },
                { sortDate: last.sort_date, messageKey: last.message_key },
              )
            : null,
      };
    });
  }

  async findByMessageId(messageId: string): Promise<MessageRecord[]> {
    if (messageId === '') return [];
    return this.#run('findByMessageId', () =>
      (this.#statements.findByMessageId.all(messageId) as MessageRow[]).map(toMessage),
    );
  }

  async acquireLease(request: LeaseRequest): Promise<boolean> {
    if (
      !Number.isSafeInteger(request.now) ||
      !Number.isSafeInteger(request.ttlMs) ||
      request.ttlMs <= 0
    ) {
      throw new ArchiveError('INVALID_ARGUMENT', 'lease now and ttlMs must be integers, ttlMs > 0');
    }
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
        | { owner: string; expires_at: number }
        | undefined;
      return row === undefined ? null : { owner: row.owner, expiresAt: row.expires_at };
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
      (this.#statements.listRuns.all(mailboxId, limit) as RunRow[]).map(toRun),
    );
  }

  async listMailboxes(): Promise<MailboxSummary[]> {
    return this.#run('listMailboxes', () =>
      (this.#statements.listMailboxes.all() as MailboxRow[]).map(toSummary),
    );
  }

  async getMailbox(mailboxId: string): Promise<MailboxSummary | null> {
    return this.#run('getMailbox', () => {
      const row = this.#statements.getMailbox.get(mailboxId) as MailboxRow | undefined;
      return row === undefined ? null : toSummary(row);
    });
  }

  #run<T>(operation: string, call: () => T): T {
    try {
      return call();
    } catch (error) {
      throw toArchiveError(error, operation);
    }
  }
}

function prepareStatements(db: Database.Database) {
  const columns = MESSAGE_COLUMNS.join(', ');
  const placeholders = MESSAGE_COLUMNS.map((c) => `@${c}`).join(', ');
  const prepareListing = (listing: Listing) => ({
    first: db.prepare(LISTINGS[listing].first),
    next: db.prepare(LISTINGS[listing].next),
  });
  return {
    insertMessage: db.prepare(
      `INSERT INTO messages (${columns}) VALUES (${placeholders})
        ON CONFLICT (mailbox_id, message_key) DO NOTHING`,
    ),
    countMessage: db.prepare(
      `INSERT INTO mailboxes (mailbox_id, messages, octets) VALUES (@mailboxId, 1, @octets)
        ON CONFLICT (mailbox_id) DO UPDATE SET
          messages = messages + 1, octets = octets + excluded.octets`,
    ),
    getMessage: db.prepare('SELECT * FROM messages WHERE mailbox_id = ? AND message_key = ?'),
    // One statement for any number of keys: the keys travel as one JSON array.
    getMessages: db.prepare(
      `SELECT * FROM messages
        WHERE mailbox_id = ? AND message_key IN (SELECT value FROM json_each(?))`,
    ),
    markDeleted: db.prepare(
      `UPDATE messages SET deleted_from_server_at = ?
        WHERE mailbox_id = ? AND message_key IN (SELECT value FROM json_each(?))`,
    ),
    list: { date: prepareListing('date'), sender: prepareListing('sender') },
    findByMessageId: db.prepare(
      `SELECT * FROM messages WHERE message_id = ? ORDER BY mailbox_id, message_key`,
    ),
    // The same rule as the DynamoDB condition: free, expired, or already ours.
    acquireLease: db.prepare(
      `INSERT INTO leases (mailbox_id, owner, expires_at) VALUES (@mailboxId, @owner, @expiresAt)
        ON CONFLICT (mailbox_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
        WHERE leases.expires_at < @now OR leases.owner = @owner OR leases.owner = @takeOverFrom`,
    ),
    leaseHolder: db.prepare('SELECT owner, expires_at FROM leases WHERE mailbox_id = ?'),
    releaseLease: db.prepare('DELETE FROM leases WHERE mailbox_id = ? AND owner = ?'),
    putRun: db.prepare(
      `INSERT OR REPLACE INTO runs (mailbox_id, started_order, run_id, started_at, ended_at, outcome,
          counts_json, stop_reason, error_code, error_message, failures_json, session_json)
        VALUES (@mailbox_id, @started_order, @run_id, @started_at, @ended_at, @outcome,
          @counts_json, @stop_reason, @error_code, @error_message, @failures_json, @session_json)`,
    ),
    ensureMailbox: db.prepare(
      'INSERT INTO mailboxes (mailbox_id) VALUES (?) ON CONFLICT (mailbox_id) DO NOTHING',
    ),
    // ">=": the run's record written again at its end, with the same endedAt, replaces itself.
    advanceLastRun: db.prepare(
      `UPDATE mailboxes SET last_run_id = @runId, last_run_outcome = @outcome,
          last_run_ended_at = @endedAt, last_run_ended_order = @endedOrder,
          last_run_error_code = @errorCode, last_run_error_message = @errorMessage
        WHERE mailbox_id = @mailboxId
          AND (last_run_ended_order IS NULL OR last_run_ended_order <= @endedOrder)`,
    ),
    advanceLastSuccess: db.prepare(
      `UPDATE mailboxes SET last_success_at = @endedAt, last_success_order = @endedOrder
        WHERE mailbox_id = @mailboxId
          AND (last_success_order IS NULL OR last_success_order <= @endedOrder)`,
    ),
    listRuns: db.prepare(
      `SELECT * FROM runs WHERE mailbox_id = ?
        ORDER BY started_order DESC, run_id DESC LIMIT ?`,
    ),
    listMailboxes: db.prepare('SELECT * FROM mailboxes ORDER BY mailbox_id'),
    getMailbox: db.prepare('SELECT * FROM mailboxes WHERE mailbox_id = ?'),
  };
}
