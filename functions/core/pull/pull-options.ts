import type { Pop3ClientOptions, Pop3Credentials } from '../pop3/client.js';

/**
 * What happens to a message on the server once it is archived:
 * - `delete`: DELE as soon as its raw bytes and index record are both acknowledged (the default);
 * - `keep`: never DELE; archive each UIDL once;
 * - `delete-after-days`: archive now, DELE once the message has been archived for `days` days.
 */
export type ServerPolicy =
  | { kind: 'delete' }
  | { kind: 'keep' }
  | { kind: 'delete-after-days'; days: number };

export interface PullOptions {
  mailboxId: string;
  /** How to reach the server; credentials and the session deadline are supplied by the run. */
  server: Omit<Pop3ClientOptions, 'credentials' | 'deadline'>;
  policy: ServerPolicy;
  /** Messages larger than this (by LIST size) are `skip`ped (left on the server, reported) or `store`d anyway. */
  maxMessageBytes?: number;
  oversize?: 'skip' | 'store';
  /** Per-run caps; the rest waits for the next run. */
  maxMessagesPerRun?: number;
  maxBytesPerRun?: number;
  /**
   * Epoch ms by which the run must be over (a Lambda's hard end). Retrieval stops `finishReserveMs`
   * before it, so writes, DELEs and QUIT still fit; the POP3 session is cut at `hardDeadline` minus a
   * small margin, which deletes nothing.
   */
  hardDeadline: number;
  finishReserveMs?: number;
  /**
   * Messages persisted at once while retrieval goes on (default PULL_DEFAULTS.persistConcurrency).
   * A store whose puts wait on the disk rather than the network wants more (LOCAL_PERSIST_CONCURRENCY).
   */
  persistConcurrency?: number;
  /** Disk the run's spool files may use together (default PULL_DEFAULTS.spoolDiskOctets). */
  spoolDiskOctets?: number;
  /** Octets read and dropped past a message's limit (default PULL_DEFAULTS.overLimitDrainOctets). */
  overLimitDrainOctets?: number;
  /** How long the mailbox lease lasts unrenewed (default PULL_DEFAULTS.leaseTtlMs). */
  leaseTtlMs?: number;
}

/** Supplies credentials; `invalidate` drops a cached token after the server rejected it. */
export interface CredentialsSource {
  get(): Promise<Pop3Credentials>;
  invalidate?(): void;
}

/** The subset of Powertools Logger the run uses: message plus structured attributes, never mail content. */
export interface RunLogger {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export const SILENT_LOGGER: RunLogger = {
  info() {},
  warn() {},
  error() {},
};

/** Defaults, each with its reason. */
export const PULL_DEFAULTS = {
  /** Below this a message is spooled in memory; above it to a file, so RSS stays bounded. */
  memorySpoolOctets: 4 * 1024 * 1024,
  /**
   * Messages being uploaded and indexed while the next ones are retrieved. Each put waits on a
   * round trip, so throughput is this many divided by the round trip: 8 keeps ~160 messages/s going
   * against 50 ms storage requests, more than a Lambda's share of a CPU parses. Each one in flight
   * holds SDK request state: at 64 the JS heap of a 2,000-message pull into S3 and DynamoDB grew by
   * ~35 MB, at 16 the peak RSS still passed 150 MB (BENCHMARKS.md section 3).
   */
  persistConcurrency: 8,
  /**
   * Memory that messages being persisted may hold: retrieval waits while more is held. Bounds memory
   * however many messages are in flight (64 in-memory spools of 4 MiB would be 256 MiB). An in-memory
   * spool counts its size; a spool file counts `spoolFilePersistOctets`.
   */
  persistMemoryOctets: 32 * 1024 * 1024,
  /**
   * What a store may buffer to upload one spool file: the S3 store reads up to 16 MiB whole, or holds
   * its multipart parts in flight plus the one being read (3 x 8 MiB). So at most two large messages
   * are uploaded at once, whatever their number.
   */
  spoolFilePersistOctets: 24 * 1024 * 1024,
  /** At least this long is kept back for finishing writes, DELEs and QUIT... */
  minFinishReserveMs: 10_000,
  /** ...or this share of the whole budget, whichever is larger. */
  finishReserveShare: 0.2,
  /** The POP3 session ends this long before the hard deadline, whatever happens. */
  sessionMarginMs: 2_000,
  /**
   * A lease lasts this long and a live run renews it every third of that, so a crashed run (a killed
   * CLI, an out-of-memory Lambda) blocks its mailbox for two minutes at most, not for its whole budget.
   */
  leaseTtlMs: 120_000,
  /**
   * The spool directory's hard cap, checked as octets are written: a Lambda's /tmp is 512 MiB, and
   * a server that sends more than it listed must not fill it. A message that would pass it is left
   * on the server as a failure.
   */
  spoolDiskOctets: 400 * 1024 * 1024,
  /**
   * A message that passes its limit while it arrives is read on and dropped for up to this many
   * more octets, so the session stays in step and the run can still DELE and QUIT; past it, the
   * session is dropped without QUIT. Reading and dropping 64 MiB takes a second or two.
   */
  overLimitDrainOctets: 64 * 1024 * 1024,
  /** Per-message failures kept in the run record (the counts are always complete). */
  maxFailuresRecorded: 50,
} as const;

/**
 * Spool files a run can hold at once: those being uploaded (each counts spoolFilePersistOctets against
 * persistMemoryOctets, and retrieval waits once the budget is passed, so one past the budget's share)
 * plus the one being written by retrieval. Sizes a Lambda's /tmp.
 */
export const MAX_SPOOL_FILES_AT_ONCE =
  Math.floor(PULL_DEFAULTS.persistMemoryOctets / PULL_DEFAULTS.spoolFilePersistOctets) + 2;
