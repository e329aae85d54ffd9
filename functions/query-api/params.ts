/**
 * Validation of everything a client puts in a URL. Each helper returns the value in the form the
 * archive ports expect or throws an ApiError (400) that names the parameter and says what is wrong, so
 * bad input never reaches an adapter, where it would surface as a 500 or, worse, as a silently empty
 * listing. The routes' parameter schemas (schemas/parameter-schemas.ts) run these helpers, so the
 * rules and their messages stay in one place whatever declares the parameters.
 */

import { MAILBOX_ID } from '../core/archive/mailbox-id.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_SUBJECT_LENGTH,
} from '../core/message/message-limits.js';
import type { SearchQuery } from '../core/search/search-ports.js';
import { parseSearchQuery } from '../core/search/search-query.js';
import { SearchQueryError } from '../core/search/search-query-error.js';
import { ApiError } from './errors.js';

/** Messages per page when the client does not say. */
export const DEFAULT_MESSAGE_LIMIT = 50;
/**
 * Messages per page at most. A list item is bounded to ~10 KB of JSON even for hostile mail (see
 * listItem in presenters.ts), so 200 keep a page under ~2 MB: inside Lambda's 6 MB response
 * payload after base64.
 */
export const MAX_MESSAGE_LIMIT = 200;
/** Search hits per page when the client does not say: a screenful. */
export const DEFAULT_SEARCH_LIMIT = 20;
/** Runs per listing when the client does not say: a few days of a typical schedule. */
export const DEFAULT_RUN_LIMIT = 20;
/** Runs per listing at most; a run record carries up to its bounded failure list, so keep it small. */
export const MAX_RUN_LIMIT = 100;
/** Days of the archive chart when the client does not say: a month. */
export const DEFAULT_ACTIVITY_DAYS = 30;
/** Days at most: a year, 366 small counters in AWS (one Query), one grouped scan locally. */
export const MAX_ACTIVITY_DAYS = 366;
/**
 * Cursor length accepted. Adapters issue a few hundred characters (DynamoDB's at most 8192); anything
 * longer is not one of theirs, and refusing it here spares the adapter decoding megabytes.
 */
export const MAX_CURSOR_LENGTH = 8192;
/**
 * Length of a message id in a URL. Ids wrap a mailbox id (64 characters) and a message key, which the
 * index stores in a sort key of at most 1024 bytes: even with every character JSON-escaped, base64url
 * of that stays under 2900 characters. Refusing longer ones before decoding costs nothing.
 */
export const MAX_MESSAGE_REF_LENGTH = 4096;
/** Attachment positions are list indexes; the parser lists at most 50, so 9 digits is already absurd. */
const MAX_ATTACHMENT_INDEX_DIGITS = 9;
/** How much of a bad value an error message quotes: enough to recognise it, not to reflect a payload. */
const QUOTED_VALUE_LENGTH = 80;

const CONTROL_OR_SPACE = /[\s\p{Cc}]/u;
const CONTROL = /\p{Cc}/u;

/** A client-sent value as error messages quote it: JSON-escaped and cut short. */
export function quote(value: string): string {
  return JSON.stringify(
    value.length > QUOTED_VALUE_LENGTH ? `${value.slice(0, QUOTED_VALUE_LENGTH)}...` : value,
  );
}

function invalid(name: string, value: string, expected: string): ApiError {
  return new ApiError(400, 'INVALID_PARAMETER', `${name} ${quote(value)} is invalid: ${expected}`);
}

export function parseLimit(
  value: string | undefined,
  bounds: { default: number; max: number },
): number {
  if (value === undefined) return bounds.default;
  const expected = `an integer from 1 to ${bounds.max}`;
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw invalid('limit', value, expected);
  const limit = Number(value);
  if (limit > bounds.max) throw invalid('limit', value, expected);
  return limit;
}

/** `days` of GET /mailboxes/{mailboxId}/activity: an integer from 1 to MAX_ACTIVITY_DAYS. */
export function parseDays(value: string): number {
  const expected = `an integer from 1 to ${MAX_ACTIVITY_DAYS}`;
  if (!/^[1-9][0-9]{0,3}$/.test(value) || Number(value) > MAX_ACTIVITY_DAYS) {
    throw invalid('days', value, expected);
  }
  return Number(value);
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):(\d{2}))$/i;

/** Whether year-month-day names a day that exists (JavaScript's Date rolls "02-30" over to March). */
function isRealDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const probe = new Date(0);
  probe.setUTCFullYear(year, month, 0);
  return day <= probe.getUTCDate();
}

/**
 * An ISO 8601 bound on the message date, as the UTC string the index compares. A date alone is a UTC
 * day and includes all of it: `since=2024-05-15` starts at its first millisecond, `until=2024-05-15`
 * ends at its last. A date-time must carry its zone: "10:00" without one would be a guess.
 */
export function parseDateBound(name: 'since' | 'until', raw: string): string {
  // An unencoded "+" in a query string arrives as a space ("10:00:00 02:00"): unambiguous, so taken
  // for the "+" it was rather than refused.
  const value = raw.replace(/^(\S+T[\d:.]+) (\d{2}:\d{2})$/i, '$1+$2');
  const expected =
    'an ISO 8601 date (2024-05-15) or date-time with a zone (2024-05-15T10:00:00Z, ...+02:00)';
  const dateOnly = DATE_ONLY.exec(value);
  if (dateOnly) {
    const [year, month, day] = [dateOnly[1], dateOnly[2], dateOnly[3]].map(Number) as [
      number,
      number,
      number,
    ];
    if (!isRealDay(year, month, day)) throw invalid(name, value, `${expected}; no such day`);
    return `${value}T${name === 'since' ? '00:00:00.000' : '23:59:59.999'}Z`;
  }
  const match = DATE_TIME.exec(value);
  if (!match) throw invalid(name, value, expected);
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) =>
    Number(match[i] ?? '0'),
  ) as [number, number, number, number, number, number];
  if (!isRealDay(year, month, day)) throw invalid(name, value, `${expected}; no such day`);
  const zoneHours = Number(match[10] ?? '0');
  const zoneMinutes = Number(match[11] ?? '0');
  if (hour > 23 || minute > 59 || second > 59 || zoneHours > 23 || zoneMinutes > 59) {
    throw invalid(name, value, `${expected}; no such time`);
  }
  const ms = Date.parse(value);
  const earliest = Date.parse('0000-01-01T00:00:00.000Z');
  const latest = Date.parse('9999-12-31T23:59:59.999Z');
  // A zone can push 0000-01-01 or 9999-12-31 out of the four-digit years the index sorts by.
  if (!Number.isFinite(ms) || ms < earliest || ms > latest) {
    throw invalid(name, value, `${expected}; years 0000-9999 only`);
  }
  return new Date(ms).toISOString();
}

export function parseBoolean(name: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw invalid(name, value, 'true or false');
}

/** Any id the stack could not have issued cannot name a mailbox: refused as malformed, not looked up. */
export function parseMailboxId(value: string): string {
  if (!MAILBOX_ID.test(value)) {
    throw invalid('mailbox id', value, '1-64 letters, digits, ".", "_" or "-"');
  }
  return value;
}

/** A sender address as the index keys it: trimmed and lower-cased, as the parser stores it. */
export function parseAddress(value: string): string {
  const address = value.trim().toLowerCase();
  if (address === '' || address.length > MAX_ADDRESS_LENGTH || CONTROL_OR_SPACE.test(address)) {
    throw invalid(
      'from',
      value,
      `an address of 1-${MAX_ADDRESS_LENGTH} characters without spaces or control characters`,
    );
  }
  return address;
}

export function parseSubject(value: string): string {
  if (value.trim() === '' || value.length > MAX_SUBJECT_LENGTH || CONTROL.test(value)) {
    throw invalid(
      'subject',
      value,
      `1-${MAX_SUBJECT_LENGTH} characters of text, not only spaces, no control characters`,
    );
  }
  return value;
}

/** Cursors are opaque and checked by the index that issued them; this only bounds their size. */
export function parseCursor(value: string): string {
  if (value === '' || value.length > MAX_CURSOR_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new ApiError(400, 'INVALID_CURSOR', 'invalid cursor: pass back a nextCursor unchanged');
  }
  return value;
}

/**
 * A Message-ID as the parser stores it: angle brackets included, no whitespace (it keeps the raw
 * header's first <...> and strips spaces and controls inside it). Clients may leave the brackets out.
 */
export function parseMessageIdQuery(value: string): string {
  const trimmed = value.trim();
  const id = trimmed.startsWith('<') ? trimmed : `<${trimmed}>`;
  const body = id.slice(1, -1);
  if (
    !id.endsWith('>') ||
    body === '' ||
    id.length > MAX_MESSAGE_ID_LENGTH ||
    CONTROL_OR_SPACE.test(body) ||
    body.includes('<') ||
    body.includes('>')
  ) {
    throw invalid(
      'messageId',
      value,
      `a Message-ID such as <id@example.com> (brackets optional), at most ${MAX_MESSAGE_ID_LENGTH} characters`,
    );
  }
  return id;
}

export interface MessageRef {
  mailboxId: string;
  messageKey: string;
}

/**
 * The id of a message in URLs: base64url of the JSON array [mailboxId, messageKey]. Opaque to
 * clients, and free of "/" and "%" whatever a UIDL contains.
 */
export function encodeMessageRef(ref: MessageRef): string {
  return Buffer.from(JSON.stringify([ref.mailboxId, ref.messageKey]), 'utf8').toString('base64url');
}

/**
 * Accepts exactly the ids encodeMessageRef issues: canonical base64url (no padding, no stray bits)
 * of canonical JSON. Anything else is refused before the index is asked, so two spellings can never
 * name one message and a tampered id cannot reach an adapter as an odd key.
 */
export function decodeMessageRef(id: string): MessageRef {
  const reject = (why: string): never => {
    throw new ApiError(400, 'INVALID_MESSAGE_ID', `message id ${quote(id)} is invalid: ${why}`);
  };
  if (id.length > MAX_MESSAGE_REF_LENGTH) reject('too long');
  if (!/^[A-Za-z0-9_-]+$/.test(id)) reject('not base64url');
  const bytes = Buffer.from(id, 'base64url');
  if (bytes.toString('base64url') !== id) reject('not canonical base64url');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return reject('does not decode');
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    parsed[1] === '' ||
    !MAILBOX_ID.test(parsed[0])
  ) {
    return reject('not a message id this API issued');
  }
  const ref = { mailboxId: parsed[0], messageKey: parsed[1] };
  if (encodeMessageRef(ref) !== id) reject('not a message id this API issued');
  return ref;
}

/** The n of /attachments/{n}: a 0-based position in the message's attachment list. */
export function parseAttachmentIndex(value: string): number {
  if (!new RegExp(`^(0|[1-9][0-9]{0,${MAX_ATTACHMENT_INDEX_DIGITS - 1}})$`).test(value)) {
    throw invalid('attachment index', value, 'a 0-based decimal position (0, 1, 2, ...)');
  }
  return Number(value);
}

/** A search query (`q`), parsed; what makes it unusable is answered as INVALID_QUERY, named. */
export function parseSearchParam(value: string): SearchQuery {
  try {
    return parseSearchQuery(value);
  } catch (error) {
    if (error instanceof SearchQueryError) {
      throw new ApiError(400, 'INVALID_QUERY', `invalid query: ${error.message}`);
    }
    throw error;
  }
}
