/**
 * The one place where what a store held becomes a MessageRecord, RunRecord, lease or summary. Each
 * adapter first turns its stored form into plain values (DynamoDB: the item less its key attributes;
 * SQLite: the row with its JSON columns parsed), then hands them here, so a shape is checked once,
 * field by field, and an item that is not what it should be fails as STORE_CORRUPT naming its key and
 * field, not as a TypeError somewhere in the pull run or the API.
 *
 * Hand-written rather than zod: the shapes are small and fixed, the puller bundle stays free of a
 * schema library, and each failure names the stored key, which a generic schema error would not.
 *
 * Every stored item carries STORED_ITEM_VERSION. An item without one was written before versions were
 * recorded and reads as version 1; an item from a newer popvault is refused rather than misread.
 */
import { UNVERSIONED_PARSER } from '../message/parser-version.js';
import { ArchiveError } from './errors.js';
import type {
  AddressSummary,
  AttachmentSummary,
  LeaseHolder,
  MailboxSummary,
  MessageRecord,
  RunCounts,
  RunOutcome,
  RunRecord,
  RunSession,
} from './ports.js';

/** The layout of stored records this code writes and reads. */
export const STORED_ITEM_VERSION = 1;
/** What an item written before versions were recorded counts as. */
export const UNVERSIONED_ITEM = 1;

/** A stored item that is not the record it should be. */
export class CorruptItemError extends ArchiveError {
  override name = 'CorruptItemError';
  readonly key: string;
  readonly field: string;

  constructor(key: string, field: string, problem: string) {
    super('STORE_CORRUPT', `stored item ${key.slice(0, 300)}: ${field} ${problem}`);
    this.key = key;
    this.field = field;
  }
}

type Values = Record<string, unknown>;

/** Reads fields of one stored item; every failure names the item's key and the field. */
export class FieldReader {
  readonly #values: Values;
  readonly #key: string;
  readonly #prefix: string;

  constructor(values: unknown, key: string, prefix = '') {
    this.#key = key;
    this.#prefix = prefix;
    if (typeof values !== 'object' || values === null || Array.isArray(values)) {
      throw new CorruptItemError(key, prefix === '' ? 'item' : prefix, 'is not an object');
    }
    this.#values = values as Values;
  }

  fail(field: string, problem: string): never {
    throw new CorruptItemError(this.#key, `${this.#prefix}${field}`, problem);
  }

  has(field: string): boolean {
    return this.#values[field] !== undefined;
  }

  raw(field: string): unknown {
    return this.#values[field];
  }

  string(field: string): string {
    const value = this.#values[field];
    return typeof value === 'string' ? value : this.fail(field, 'is not a string');
  }

  nullableString(field: string): string | null {
    return this.#values[field] === null ? null : this.string(field);
  }

  number(field: string): number {
    const value = this.#values[field];
    return typeof value === 'number' && Number.isFinite(value)
      ? value
      : this.fail(field, 'is not a number');
  }

  boolean(field: string): boolean {
    const value = this.#values[field];
    return typeof value === 'boolean' ? value : this.fail(field, 'is not a boolean');
  }

  oneOf<T extends string>(field: string, allowed: readonly T[]): T {
    const value = this.string(field);
    return (allowed as readonly string[]).includes(value)
      ? (value as T)
      : this.fail(field, `is not one of ${allowed.join(', ')}`);
  }

  object(field: string): FieldReader {
    return new FieldReader(this.#values[field], this.#key, `${this.#prefix}${field}.`);
  }

  list<T>(field: string, item: (reader: FieldReader) => T): T[] {
    const value = this.#values[field];
    if (!Array.isArray(value)) this.fail(field, 'is not a list');
    return value.map((entry, i) =>
      item(new FieldReader(entry, this.#key, `${this.#prefix}${field}[${i}].`)),
    );
  }

  /** The item's layout version: absent is an item from before versions, newer is refused. */
  version(field: string): number {
    if (!this.has(field)) return UNVERSIONED_ITEM;
    const version = this.number(field);
    if (version > STORED_ITEM_VERSION) {
      this.fail(
        field,
        `is ${version}: written by a newer popvault (this one reads up to ${STORED_ITEM_VERSION}); upgrade popvault to read it`,
      );
    }
    if (!Number.isSafeInteger(version) || version < 1) this.fail(field, 'is not a version');
    return version;
  }
}

const OUTCOMES: readonly RunOutcome[] = ['success', 'partial', 'retry-later', 'failed'];
const UTF8_MODES: readonly RunSession['utf8'][] = ['active', 'refused', 'not-offered'];
const COUNTS: readonly (keyof RunCounts)[] = [
  'listed',
  'retrieved',
  'stored',
  'alreadyStored',
  'deleted',
  'skipped',
  'failed',
  'octets',
  'remainingOnServer',
];

function address(r: FieldReader): AddressSummary {
  return { address: r.string('address'), name: r.string('name') };
}

function attachment(r: FieldReader): AttachmentSummary {
  return {
    filename: r.nullableString('filename'),
    contentType: r.string('contentType'),
    octets: r.number('octets'),
    sha256: r.string('sha256'),
  };
}

/** A message record from its stored fields (lists already parsed). */
export function decodeMessage(r: FieldReader): MessageRecord {
  return {
    messageId: r.nullableString('messageId'),
    from: r.list('from', address),
    to: r.list('to', address),
    cc: r.list('cc', address),
    addressesTruncated: r.boolean('addressesTruncated'),
    subject: r.nullableString('subject'),
    dateHeader: r.nullableString('dateHeader'),
    date: r.nullableString('date'),
    attachments: r.list('attachments', attachment),
    attachmentsTruncated: r.boolean('attachmentsTruncated'),
    snippet: r.string('snippet'),
    parseError: r.nullableString('parseError'),
    // Records written before records carried a parser version read back as unversioned.
    parserVersion: r.has('parserVersion') ? r.number('parserVersion') : UNVERSIONED_PARSER,
    // Records written before the text was kept for search read back as not cut.
    textTruncated: r.has('textTruncated') ? r.boolean('textTruncated') : false,
    mailboxId: r.string('mailboxId'),
    messageKey: r.string('messageKey'),
    uidl: r.nullableString('uidl'),
    octets: r.number('octets'),
    sha256: r.string('sha256'),
    rawKey: r.string('rawKey'),
    archivedAt: r.string('archivedAt'),
    runId: r.string('runId'),
    deletedFromServerAt: r.nullableString('deletedFromServerAt'),
  };
}

function counts(r: FieldReader): RunCounts {
  return Object.fromEntries(COUNTS.map((name) => [name, r.number(name)])) as Record<
    keyof RunCounts,
    number
  >;
}

function session(r: FieldReader): RunSession {
  return {
    utf8: r.oneOf('utf8', UTF8_MODES),
    sizeMismatches: r.number('sizeMismatches'),
    sizesSuspect: r.boolean('sizesSuspect'),
  };
}

/** A run record from its stored fields (counts, failures and session already parsed). */
export function decodeRun(r: FieldReader): RunRecord {
  return {
    mailboxId: r.string('mailboxId'),
    runId: r.string('runId'),
    startedAt: r.string('startedAt'),
    endedAt: r.string('endedAt'),
    outcome: r.oneOf('outcome', OUTCOMES),
    counts: counts(r.object('counts')),
    stopReason: r.nullableString('stopReason'),
    errorCode: r.nullableString('errorCode'),
    errorMessage: r.nullableString('errorMessage'),
    failures: r.list('failures', (f) => ({
      messageKey: f.string('messageKey'),
      errorCode: f.string('errorCode'),
      message: f.string('message'),
    })),
    // Runs written before RunRecord had a session read back as "no session recorded".
    session: r.raw('session') === null || !r.has('session') ? null : session(r.object('session')),
  };
}

export function decodeLease(r: FieldReader): LeaseHolder {
  return { owner: r.string('owner'), expiresAt: r.number('expiresAt') };
}

/**
 * A mailbox summary. `lastRun` is null or an object; a summary first created by a message has no
 * run fields yet, and counts that were never added read as zero.
 */
export function decodeSummary(r: FieldReader): MailboxSummary {
  const lastRun = r.raw('lastRun');
  return {
    mailboxId: r.string('mailboxId'),
    messages: r.has('messages') ? r.number('messages') : 0,
    octets: r.has('octets') ? r.number('octets') : 0,
    lastRun: lastRun === undefined || lastRun === null ? null : decodeLastRun(r.object('lastRun')),
    lastSuccessAt: r.has('lastSuccessAt') ? r.nullableString('lastSuccessAt') : null,
  };
}

function decodeLastRun(r: FieldReader): NonNullable<MailboxSummary['lastRun']> {
  return {
    runId: r.string('runId'),
    outcome: r.oneOf('outcome', OUTCOMES),
    endedAt: r.string('endedAt'),
    errorCode: r.nullableString('errorCode'),
    errorMessage: r.nullableString('errorMessage'),
  };
}
