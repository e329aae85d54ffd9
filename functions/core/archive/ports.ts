/**
 * The archive as the pull run and the query API see it: a raw store for exact message bytes and an
 * index for records, leases and runs. Adapters (S3 + DynamoDB, or local files + SQLite) implement these
 * and take their SDK clients injected.
 *
 * Idempotency is part of the contract: putting the same raw bytes twice yields the same key and no
 * second object; putting a message record whose key exists never creates a second record.
 */
import type { Readable } from 'node:stream';
import type { ErrorKind } from '../errors/error-codes.js';
import type { MessageText } from '../search/search-ports.js';

/** Where the bytes to store come from: a file spooled to disk, or a buffer for small messages. */
export type RawSource = { kind: 'buffer'; data: Buffer } | { kind: 'file'; path: string };

export interface RawPutInput {
  mailboxId: string;
  /** Hex SHA-256 of the exact bytes, computed while they were received; the store must verify it. */
  sha256: string;
  octets: number;
  source: RawSource;
}

export interface RawObjectRef {
  /** Content-addressed key (see rawObjectKey): the same bytes in one mailbox always get the same key. */
  key: string;
  sha256: string;
  octets: number;
}

export interface RawStore {
  /** Resolves only once the store has durably acknowledged the bytes and verified their checksum. */
  put(input: RawPutInput): Promise<RawObjectRef>;
  /** The exact stored bytes. */
  get(key: string): Promise<Readable>;
  /** Whether an object exists at `key` (tests and consistency checks; never on the hot path). */
  has(key: string): Promise<boolean>;
}

export interface AttachmentSummary {
  /** Sanitised file name, bounded (see message limits); null when the part has none. */
  filename: string | null;
  contentType: string;
  octets: number;
  sha256: string;
}

export interface AddressSummary {
  /** Lower-cased address, bounded; empty when the header held only a display name. */
  address: string;
  name: string;
}

/** What parsing a message yields. Every field is bounded so any message fits one index item. */
export interface MessageMetadata {
  messageId: string | null;
  from: AddressSummary[];
  to: AddressSummary[];
  cc: AddressSummary[];
  /** True when an address list or an address was cut to its bound. */
  addressesTruncated: boolean;
  subject: string | null;
  /** The Date header exactly as sent (bounded), null if absent. */
  dateHeader: string | null;
  /** The Date header parsed to ISO 8601, or null when it does not parse: never the import time. */
  date: string | null;
  attachments: AttachmentSummary[];
  attachmentsTruncated: boolean;
  snippet: string;
  /** Why parsing failed, if it did; the raw bytes are archived regardless. */
  parseError: string | null;
  /**
   * The version of the parser that wrote the fields above (functions/core/message/parser-version.ts):
   * attachment numbers and hashes are that version's reading of the message. UNVERSIONED_PARSER (0)
   * for a record written before versions were recorded.
   */
  parserVersion: number;
  /**
   * True when the message's text reached the search index's limit (MAX_INDEXED_TEXT_LENGTH): words
   * past it are not found. False for records written before text was kept.
   */
  textTruncated: boolean;
}

export interface MessageRecord extends MessageMetadata {
  mailboxId: string;
  /**
   * The message's identity in its mailbox: the UIDL, or "sha256:<hex>" on a server without UIDL, or
   * "<uidl>#sha256:<hex>" when a UIDL turned out to name two different messages.
   */
  messageKey: string;
  uidl: string | null;
  octets: number;
  sha256: string;
  rawKey: string;
  /** ISO 8601. */
  archivedAt: string;
  runId: string;
  /** ISO 8601 once a QUIT after DELE of this message was acknowledged; null while on the server. */
  deletedFromServerAt: string | null;
}

export type PutMessageResult = { created: true } | { created: false; existing: MessageRecord };

export interface MessagePage {
  items: MessageRecord[];
  /** Opaque; pass back to get the next page. Null on the last page. */
  cursor: string | null;
}

export interface ListMessagesQuery {
  limit: number;
  cursor?: string | null;
  /** ISO 8601 bounds on the message date (archive time when the Date header did not parse). */
  since?: string;
  until?: string;
  /** Case-insensitive substring of the subject; applied while reading the date index, never a scan. */
  subject?: string;
  /** Only messages with (true) or without (false) attachments. */
  hasAttachments?: boolean;
}

/** A mailbox as the API lists it; kept up to date by putMessage (counts) and putRun (last runs). */
export interface MailboxSummary {
  mailboxId: string;
  /** Records indexed (each message once, variants included). */
  messages: number;
  /** Raw octets of those messages. */
  octets: number;
  lastRun: Pick<RunRecord, 'runId' | 'outcome' | 'endedAt' | 'errorCode' | 'errorMessage'> | null;
  /** endedAt of the last run whose outcome was success or partial. */
  lastSuccessAt: string | null;
}

export type RunOutcome = 'success' | 'partial' | 'retry-later' | 'failed';

export interface RunCounts {
  listed: number;
  retrieved: number;
  stored: number;
  alreadyStored: number;
  deleted: number;
  skipped: number;
  failed: number;
  /** Octets received from the server (counted, not taken from LIST). */
  octets: number;
  /** Messages left on the server when the session ended. */
  remainingOnServer: number;
}

/** What the POP3 session of a run was like. */
export interface RunSession {
  /**
   * RFC 6856 UTF-8 mode: 'active' (the server accepted UTF8, so mail with raw UTF-8 headers is served
   * as it is), 'refused' (listed in CAPA, answered -ERR), 'not-offered'.
   */
  utf8: 'active' | 'refused' | 'not-offered';
  /** Messages whose octets received disagree with their LIST size (see functions/core/pop3/listed-size.ts). */
  sizeMismatches: number;
  /** True when so many sizes disagreed that the listing does not describe the mail served. */
  sizesSuspect: boolean;
}

export interface RunRecord {
  mailboxId: string;
  runId: string;
  startedAt: string;
  endedAt: string;
  outcome: RunOutcome;
  counts: RunCounts;
  /**
   * Why the run stopped early: 'budget-time', 'budget-messages', 'budget-octets', 'listing-capped'
   * (more listing entries than MAX_LISTING_ENTRIES), 'message-over-limit' (a message sent more octets
   * than the limit allows), or null.
   */
  stopReason: string | null;
  /** Stable code of the error that ended or degraded the run (a Pop3Error code, 'STORE_FAILED', ...). */
  errorCode: string | null;
  /** What kind of failure `errorCode` is (ERROR_CODES); absent when the run had no error. */
  errorKind?: ErrorKind;
  errorMessage: string | null;
  /** Per-message failures, bounded. */
  failures: Array<{ messageKey: string; errorCode: string; message: string }>;
  /** Null when the run never logged in (lease held, credentials missing, connection refused). */
  session: RunSession | null;
}

export interface LeaseRequest {
  mailboxId: string;
  /** Unique per run. */
  owner: string;
  /** Epoch ms. */
  now: number;
  /** How long the lease holds without renewal; a crashed run's lease expires by itself. */
  ttlMs: number;
  /**
   * Also take the lease if this owner holds it, expired or not: the caller has proved that holder
   * dead (a local run killed on this machine, see functions/cli/run-identity.ts). Compared in the
   * same conditional write, so a lease that changed hands since it was read is left alone.
   */
  takeOverFrom?: string;
}

export interface LeaseHolder {
  owner: string;
  /** Epoch ms. */
  expiresAt: number;
}

/**
 * What the pull run writes and reads back to decide what is archived: records, their batch lookup,
 * and the mark that a record's message left the server.
 */
export interface MessageWriter {
  /**
   * Conditional create: a record that already exists is returned, never overwritten or duplicated. A
   * created record counts into its mailbox summary in the same atomic write. `text` is the message's
   * decoded text for the search index (search-ports.ts): an index that searches stores it with the
   * record (locally in the same transaction), or journals it before the record (AWS), so no record
   * exists whose text is neither searchable nor pending.
   */
  putMessage(record: MessageRecord, text?: MessageText): Promise<PutMessageResult>;
  /** Batch lookup (no per-message round trips on the pull path). Missing keys are absent from the map. */
  getMessages(
    mailboxId: string,
    messageKeys: readonly string[],
  ): Promise<Map<string, MessageRecord>>;
  /** Sets deletedFromServerAt on records that exist; unknown keys are ignored. */
  markDeleted(mailboxId: string, messageKeys: readonly string[], at: string): Promise<void>;
}

/** One run per mailbox at a time: a lease that expires by itself when its run dies. */
export interface MailboxLease {
  /** True if this owner now holds the mailbox's lease (it was free, expired, or already ours). */
  acquireLease(request: LeaseRequest): Promise<boolean>;
  /** Releases the lease if this owner still holds it. */
  releaseLease(mailboxId: string, owner: string): Promise<void>;
  /** Who holds the mailbox's lease (expired or not), or null when nobody does. */
  leaseHolder(mailboxId: string): Promise<LeaseHolder | null>;
}

/** Runs read back, most recent first (the query API's run history, the pull run's own log). */
export interface RunHistory {
  /** Most recent first. */
  listRuns(mailboxId: string, limit: number): Promise<RunRecord[]>;
}

/** The record of each run, written at its start and again at its end. */
export interface RunLog extends RunHistory {
  putRun(run: RunRecord): Promise<void>;
}

/** What the query API reads: records, listings, searches, mailbox summaries and run history. */
export interface ArchiveReader extends RunHistory {
  getMessage(mailboxId: string, messageKey: string): Promise<MessageRecord | null>;
  /**
   * A mailbox's messages, newest first by date. With filters, a page may hold fewer than `limit` items
   * and still carry a cursor: the adapter reads a bounded number of index pages per call.
   */
  listMessages(mailboxId: string, query: ListMessagesQuery): Promise<MessagePage>;
  findByMessageId(messageId: string): Promise<MessageRecord[]>;
  /** A mailbox's messages from one sender address (case-insensitive), newest first. */
  listBySender(mailboxId: string, address: string, query: ListMessagesQuery): Promise<MessagePage>;
  /** Every mailbox that has a record or a run, by id. Read from summary items, never a scan. */
  listMailboxes(): Promise<MailboxSummary[]>;
  getMailbox(mailboxId: string): Promise<MailboxSummary | null>;
  /**
   * Records archived per UTC day (by archivedAt), from `sinceDay` (YYYY-MM-DD) on, oldest first;
   * days without any are left out. Each record counts once, variants included, as in `messages`.
   */
  archivedPerDay(mailboxId: string, sinceDay: string): Promise<DayCount[]>;
}

export interface DayCount {
  /** YYYY-MM-DD, UTC. */
  day: string;
  messages: number;
}

/** What a pull run needs of the index: its writes, the mailbox lease, and its run records. */
export interface PullIndex extends MessageWriter, MailboxLease, RunLog {}

/** The whole index, as each adapter implements it: every role above over one store. */
export interface MessageIndex extends MessageWriter, MailboxLease, RunLog, ArchiveReader {}
