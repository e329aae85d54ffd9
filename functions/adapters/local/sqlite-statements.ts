/**
 * Every statement the local index runs, prepared once per open database.
 */
import type Database from 'better-sqlite3';

export type Listing = 'date' | 'sender';

export const MESSAGE_COLUMNS = [
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
  'text_truncated',
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

export type Statements = ReturnType<typeof prepareStatements>;

export function prepareStatements(db: Database.Database) {
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
    // archived_at is ISO 8601 in UTC, so its first ten characters are the UTC day.
    countDay: db.prepare(
      `INSERT INTO mailbox_days (mailbox_id, day, messages)
        VALUES (@mailboxId, substr(@archivedAt, 1, 10), 1)
        ON CONFLICT (mailbox_id, day) DO UPDATE SET messages = messages + 1`,
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
    leaseHolder: db.prepare(
      'SELECT mailbox_id, owner, expires_at FROM leases WHERE mailbox_id = ?',
    ),
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
    archivedPerDay: db.prepare(
      'SELECT day, messages FROM mailbox_days WHERE mailbox_id = ? AND day >= ? ORDER BY day',
    ),
  };
}
