/**
 * The local index's SQLite file: created owner-only, opened, and migrated to SCHEMA_VERSION.
 *
 * The schema version (`PRAGMA user_version`) is also the version of every row in the file: rows are
 * only ever written by code that first migrated the file to its version, so a per-row column would
 * always equal it. A file from before versions migrates forward; a file from a newer popvault (a
 * higher version) is refused whole before any row is read.
 */
import { closeSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ArchiveError, type ArchiveErrorCode } from '../../core/archive/errors.js';
import { SEARCH_SCHEMA } from '../../core/search/fts5-index.js';

/** Mail is private: the index is its owner's alone, like the directory it lives in. */
export const DATABASE_FILE_MODE = 0o600;
export const DATABASE_DIRECTORY_MODE = 0o700;

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
  // Full-text search: the FTS5 tables (core/search/fts5-index.ts), and whether a record's text was
  // cut at MAX_INDEXED_TEXT_LENGTH. Older records read back as not cut; their text is not indexed
  // until `popvault reindex` reads it from their raw message.
  `
  ALTER TABLE messages ADD COLUMN text_truncated INTEGER NOT NULL DEFAULT 0;
  ${SEARCH_SCHEMA}
  `,
  // The viewer's chart of messages archived per UTC day, counted as each message is inserted (as
  // DynamoDB's day items are), so a year's chart reads at most 366 rows instead of grouping every
  // message of the year: 97 ms at 100,000 messages (BENCHMARKS.md section 5). Existing messages
  // are counted once, here; archived_at is ISO 8601 in UTC, so its first ten characters are the day.
  `
  CREATE TABLE mailbox_days (
    mailbox_id TEXT NOT NULL,
    day TEXT NOT NULL,
    messages INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, day)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO mailbox_days (mailbox_id, day, messages)
    SELECT mailbox_id, substr(archived_at, 1, 10), count(*) FROM messages GROUP BY 1, 2;
  `,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

const SQLITE_CODES: ReadonlyArray<[RegExp, ArchiveErrorCode]> = [
  // Another process held the write lock past the busy timeout: the next attempt will get it.
  [/^SQLITE_(BUSY|LOCKED)/, 'STORE_UNAVAILABLE'],
  [/^SQLITE_FULL/, 'STORE_UNAVAILABLE'],
  [/^SQLITE_(READONLY|PERM|AUTH)/, 'STORE_ACCESS_DENIED'],
  [/^SQLITE_CANTOPEN/, 'STORE_MISSING'],
  [/^SQLITE_(TOOBIG|CONSTRAINT|MISMATCH|RANGE)/, 'STORE_REJECTED'],
];

/** Maps what better-sqlite3 threw to an ArchiveError (an ArchiveError passes through). */
export function toArchiveError(error: unknown, operation: string): ArchiveError {
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

export function openDatabase(path: string): Database.Database {
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
export function migrate(db: Database.Database): void {
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
