/**
 * The parsing step of the pull run: fed the same bytes as the hash and the spool, in one pass, it
 * yields the bounded metadata of the index record. Bad mail must never cost the archive a message, so
 * the sink never errors and never holds the caller up because of what the message contains: a parser
 * failure switches it to accepting and discarding the rest, and `metadata` resolves (never rejects)
 * with what was extracted and the reason in `parseError`.
 *
 * mailparser 3.14.2 does the MIME work. What it is not trusted with, and why:
 * - the Date: it replaces an unparseable Date with the current time, so the date is parsed here from
 *   the raw header line;
 * - the Message-ID: it decodes RFC 2047 encoded words inside it, which replies quoting the raw ID in
 *   In-Reply-To/References would never match, so the raw header is used;
 * - text buffering: it holds every inline text part whole in memory, so input is capped (see
 *   MAX_UNSTREAMED_OCTETS and MAX_PARSED_OCTETS) and its HTML-to-text and text-to-HTML conversions,
 *   which cost several more copies, are off; the snippet is derived here from a bounded scan.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import {
  type AddressObject,
  type AttachmentStream,
  type EmailAddress,
  type HeaderLines,
  type Headers,
  type HeaderValue,
  MailParser,
  type MessageText,
} from 'mailparser';
import type { AddressSummary, AttachmentSummary, MessageMetadata } from '../archive/ports.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_ADDRESSES_PER_LIST,
  MAX_ADDRESSES_TOTAL,
  MAX_ATTACHMENTS_LISTED,
  MAX_CONTENT_TYPE_LENGTH,
  MAX_DATE_AHEAD_MS,
  MAX_DATE_HEADER_LENGTH,
  MAX_FILENAME_EXTENSION_LENGTH,
  MAX_FILENAME_LENGTH,
  MAX_HEADER_BLOCK_OCTETS,
  MAX_MESSAGE_ID_LENGTH,
  MAX_MIME_PARTS,
  MAX_NAME_LENGTH,
  MAX_PARSE_ERROR_LENGTH,
  MAX_PARSED_OCTETS,
  MAX_SUBJECT_LENGTH,
  MAX_UNSTREAMED_OCTETS,
  MIN_DATE_MS,
  SNIPPET_LENGTH,
} from './message-limits.js';

export interface MessageParser {
  /** Accepts the raw RFC 5322 bytes with ordinary backpressure. Never emits 'error'. */
  sink: Writable;
  /** Resolves once the sink has ended (or been destroyed) and parsing has settled. Never rejects. */
  metadata: Promise<MessageMetadata>;
}

export interface MessageParserOptions {
  /** The parse time, for rejecting far-future dates. */
  now?: () => number;
}

export function createMessageParser(options: MessageParserOptions = {}): MessageParser {
  const run = new ParseRun(options.now ?? Date.now);
  return { sink: run.sink, metadata: run.metadata };
}

// ---------------------------------------------------------------------------------------------
// Strings from untrusted mail
// ---------------------------------------------------------------------------------------------

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Lone surrogates become U+FFFD: JSON.stringify would escape them to 6 bytes, and they are not text. */
function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** Cuts to `max` code units without splitting a surrogate pair. */
function bound(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** A header-ish value for display: no control characters (each would cost 6 bytes of JSON), bounded. */
function cleanText(text: string, max: number): string {
  return bound(
    wellFormed(text)
      .replace(/\p{Cc}+/gu, ' ')
      .trim(),
    max,
  );
}

/** A raw header line from mailparser: a "binary" string of the original octets, name included. */
function rawHeaderValue(line: string): string {
  const value = line.slice(line.indexOf(':') + 1);
  // Header octets are UTF-8 in practice (RFC 6532), and mailparser decodes them the same way.
  // Unfolding removes only the CRLF before whitespace (RFC 5322 s.2.2.3).
  return Buffer.from(value, 'latin1')
    .toString('utf8')
    .replace(/\r?\n(?=[ \t])/g, '');
}

// ---------------------------------------------------------------------------------------------
// Snippet
// ---------------------------------------------------------------------------------------------

// Separators collapse to one space; invisible characters (format characters and other default-ignorable
// ones such as the zero-width joiners, soft hyphens and U+034F that newsletters pad their preheaders
// with) vanish; words are taken in pieces so that one enormous word is never copied whole.
const SNIPPET_RUN = /([\s\p{Cc}]+)|([\p{Cf}\p{DI}]+)|[^\s\p{Cc}\p{Cf}\p{DI}]{1,256}/gu;

class SnippetBuilder {
  #out = '';
  #space = false;

  get full(): boolean {
    return this.#out.length >= SNIPPET_LENGTH;
  }

  add(text: string): void {
    for (const match of text.matchAll(SNIPPET_RUN)) {
      if (this.full) return;
      if (match[1] !== undefined) {
        this.#space = this.#out.length > 0;
      } else if (match[2] === undefined) {
        this.#out += (this.#space ? ' ' : '') + match[0];
        this.#space = false;
      }
    }
  }

  value(): string {
    return bound(wellFormed(this.#out), SNIPPET_LENGTH);
  }
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
  nbsp: ' ',
  copy: '\u00A9',
  reg: '\u00AE',
  trade: '\u2122',
  hellip: '\u2026',
  mdash: '\u2014',
  ndash: '\u2013',
  lsquo: '\u2018',
  rsquo: '\u2019',
  ldquo: '\u201C',
  rdquo: '\u201D',
  bull: '\u2022',
  middot: '\u00B7',
  euro: '\u20AC',
  zwnj: '',
  zwj: '',
  shy: '',
};

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(
    /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]{1,31}));/g,
    (entity: string, dec?: string, hex?: string, name?: string) => {
      if (name !== undefined) return NAMED_ENTITIES[name.toLowerCase()] ?? entity;
      const code = dec !== undefined ? Number.parseInt(dec, 10) : Number.parseInt(hex ?? '', 16);
      const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
      return valid ? String.fromCodePoint(code) : '\uFFFD';
    },
  );
}

/** Elements whose content is never text. */
const RAW_TEXT_ELEMENTS = new Set(['script', 'style', 'title', 'template']);

/** Elements that separate words when rendered ("<p>a</p><p>b</p>" reads "a b", "<b>a</b>b" reads "ab"). */
const BREAKING_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'br',
  'dd',
  'div',
  'dl',
  'dt',
  'footer',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'header',
  'hr',
  'img',
  'li',
  'ol',
  'p',
  'pre',
  'section',
  'table',
  'td',
  'th',
  'tr',
  'ul',
]);

const TAG_START = /<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)/y;

/**
 * Adds the text of an HTML document to the snippet until it is full. One forward pass: every search
 * starts where the last one ended, and a closing tag that is not found ends the scan, so hostile
 * markup (thousands of unclosed <style>) cannot make it quadratic.
 */
function addHtmlText(html: string, snippet: SnippetBuilder): void {
  let at = 0;
  while (at < html.length && !snippet.full) {
    const lt = html.indexOf('<', at);
    const textEnd = lt === -1 ? html.length : lt;
    if (textEnd > at) snippet.add(decodeEntities(html.slice(at, textEnd)));
    if (lt === -1) return;
    const next = html.charCodeAt(lt + 1);
    if (html.startsWith('<!--', lt)) {
      const close = html.indexOf('-->', lt + 4);
      if (close === -1) return;
      at = close + 3;
      continue;
    }
    if (next === 0x21 || next === 0x3f) {
      // <!DOCTYPE ...>, <![CDATA[ ...]]>, <?xml ...?>
      const close = html.indexOf('>', lt);
      if (close === -1) return;
      at = close + 1;
      continue;
    }
    TAG_START.lastIndex = lt;
    const tag = TAG_START.exec(html);
    if (tag === null) {
      // A "<" that starts no tag is text ("a < b").
      snippet.add('<');
      at = lt + 1;
      continue;
    }
    const close = html.indexOf('>', TAG_START.lastIndex);
    if (close === -1) return;
    at = close + 1;
    const name = (tag[2] ?? '').toLowerCase();
    if (BREAKING_ELEMENTS.has(name)) snippet.add(' ');
    if (tag[1] === '' && RAW_TEXT_ELEMENTS.has(name)) {
      const closer = new RegExp(`</${name}\\s*>`, 'gi');
      closer.lastIndex = at;
      if (closer.exec(html) === null) return;
      at = closer.lastIndex;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Date (RFC 5322 s.3.3 and the obsolete forms of s.4.3, plus common junk)
// ---------------------------------------------------------------------------------------------

const MONTHS = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];
const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** An abbreviation of at least three letters ("Sep", "Sept", "September"). */
function nameIndex(names: readonly string[], word: string): number {
  return word.length < 3 ? -1 : names.findIndex((name) => name.startsWith(word));
}

/**
 * Zone names, in minutes east of UTC. The first block is RFC 5322's obs-zone; the rest are names
 * mailers write although no RFC allows them, limited to those with one common meaning (IST, for one,
 * is India, Ireland or Israel, and is treated like any unknown name).
 */
const ZONES: Record<string, number> = {
  ut: 0,
  gmt: 0,
  est: -300,
  edt: -240,
  cst: -360,
  cdt: -300,
  mst: -420,
  mdt: -360,
  pst: -480,
  pdt: -420,
  utc: 0,
  z: 0,
  wet: 0,
  west: 60,
  bst: 60,
  cet: 60,
  cest: 120,
  met: 60,
  mest: 120,
  eet: 120,
  eest: 180,
  msk: 180,
  hkt: 480,
  sgt: 480,
  awst: 480,
  jst: 540,
  kst: 540,
  acst: 570,
  aest: 600,
  aedt: 660,
  nzst: 720,
  nzdt: 780,
  hst: -600,
  akst: -540,
  akdt: -480,
};

const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(z|[+-]\d{2}:?\d{2})?$/i;
const NUMERIC_ZONE = /^([+-])(\d{2}):?(\d{2})$/;
const NAMED_OFFSET_ZONE = /^(?:gmt|utc|ut)([+-])(\d{1,2})(?::?(\d{2}))?$/;
const DASHED_DATE = /^(\d{1,2})-([a-z]{3,9})-(\d{2,4})$/i;
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[t ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?)?\s*(z|[+-]\d{2}(?::?\d{2})?)?$/i;

function stripComments(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (depth > 0 && ch === '\\') i++;
    else if (ch === '(') {
      if (depth === 0) out += ' ';
      depth++;
    } else if (ch === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0) out += ch;
  }
  return out;
}

/** "+0530", "-05:00", "Z": minutes east of UTC, or null when out of range. */
function numericZone(sign: string, hours: string, minutes: string | undefined): number | null {
  const h = Number(hours);
  const m = Number(minutes ?? '0');
  if (h > 23 || m > 59) return null;
  return (sign === '-' ? -1 : 1) * (h * 60 + m);
}

function zoneFromSuffix(suffix: string): number | null {
  if (suffix.toLowerCase() === 'z') return 0;
  const zone = NUMERIC_ZONE.exec(suffix);
  return zone ? numericZone(zone[1] ?? '+', zone[2] ?? '', zone[3]) : null;
}

/** RFC 5322 s.4.3: 00-49 are 2000-2049, 50-99 and any three-digit year are 1900 plus the year. */
function fullYear(digits: string): number {
  const year = Number(digits);
  if (digits.length === 2) return year < 50 ? 2000 + year : 1900 + year;
  if (digits.length === 3) return 1900 + year;
  return year;
}

function isoFrom(
  fields: {
    year: number;
    month: number;
    day: number;
    hour: number;
    minute: number;
    second: number;
  },
  zoneMinutes: number,
  nowMs: number,
): string | null {
  const { year, month, day, hour, minute, second } = fields;
  if (year < 1900 || year > 9999 || hour > 23 || minute > 59 || second > 60) return null;
  // A leap second (":60") is the last second of its minute.
  const local = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  const check = new Date(local);
  // Date.UTC rolls "31 Feb" over into March: such a date does not exist.
  if (check.getUTCMonth() !== month || check.getUTCDate() !== day) return null;
  const ms = local - zoneMinutes * 60_000;
  if (ms < MIN_DATE_MS || ms > nowMs + MAX_DATE_AHEAD_MS) return null;
  return new Date(ms).toISOString();
}

/**
 * Parses a Date header to ISO 8601 (UTC): RFC 5322 date-time with the obsolete forms (two- and
 * three-digit years, named and military zones, no day of week, folding and comments anywhere, spaces
 * around ":") and common junk (no zone, no seconds, no time, "GMT+0200", asctime order
 * "Mon Jan 15 10:00:00 2024", "15-Jan-2024", ISO 8601, AM/PM). Null when it does not parse, names a
 * day that does not exist, or is absurd: before 1970 or more than MAX_DATE_AHEAD_MS after `nowMs`.
 * A missing zone or an unknown zone name counts as UTC, as RFC 5322 s.4.3 says of military zones.
 */
export function parseMessageDate(raw: string, nowMs: number): string | null {
  const text = stripComments(bound(raw, MAX_DATE_HEADER_LENGTH))
    .replace(/\s*:\s*/g, ':')
    .trim();
  const iso = ISO_DATE.exec(text);
  if (iso) {
    const zone = iso[7] === undefined ? 0 : zoneFromSuffix(iso[7]);
    if (zone === null) return null;
    return isoFrom(
      {
        year: Number(iso[1]),
        month: Number(iso[2]) - 1,
        day: Number(iso[3]),
        hour: Number(iso[4] ?? '0'),
        minute: Number(iso[5] ?? '0'),
        second: Number(iso[6] ?? '0'),
      },
      zone,
      nowMs,
    );
  }

  const tokens: string[] = [];
  for (const token of text.split(/[\s,]+/)) {
    const dashed = DASHED_DATE.exec(token);
    if (dashed) tokens.push(dashed[1] ?? '', dashed[2] ?? '', dashed[3] ?? '');
    else if (token !== '') tokens.push(token);
  }

  let month: number | undefined;
  let time: { hour: number; minute: number; second: number } | undefined;
  let zone: number | null | undefined;
  let meridiem: 'am' | 'pm' | undefined;
  const beforeMonth: string[] = [];
  const afterMonth: string[] = [];
  for (const token of tokens) {
    const lower = token.toLowerCase();
    const clock = time === undefined ? TIME.exec(token) : null;
    if (clock) {
      time = { hour: Number(clock[1]), minute: Number(clock[2]), second: Number(clock[3] ?? '0') };
      if (clock[4] !== undefined && zone === undefined) zone = zoneFromSuffix(clock[4]);
      continue;
    }
    const numeric = zone === undefined ? NUMERIC_ZONE.exec(token) : null;
    if (numeric) {
      zone = numericZone(numeric[1] ?? '+', numeric[2] ?? '', numeric[3]);
      continue;
    }
    const offset = zone === undefined ? NAMED_OFFSET_ZONE.exec(lower) : null;
    if (offset) {
      zone = numericZone(offset[1] ?? '+', offset[2] ?? '', offset[3]);
      continue;
    }
    if (/^\d+$/.test(token)) {
      (month === undefined ? beforeMonth : afterMonth).push(token);
      continue;
    }
    const word = /^([a-z]+)\.?$/.exec(lower)?.[1];
    if (word === undefined) continue;
    if (month === undefined && nameIndex(MONTHS, word) >= 0) month = nameIndex(MONTHS, word);
    else if (nameIndex(WEEKDAYS, word) >= 0) continue;
    else if (word === 'am' || word === 'pm') meridiem = word;
    else if (zone === undefined && time !== undefined) zone = ZONES[word] ?? 0;
  }
  if (month === undefined || zone === null) return null;

  // RFC order is "15 Jan 2024"; asctime order is "Jan 15 ... 2024".
  const dayText = beforeMonth.length > 0 ? beforeMonth[beforeMonth.length - 1] : afterMonth[0];
  const yearText = beforeMonth.length > 0 ? afterMonth[0] : afterMonth[1];
  if (dayText === undefined || yearText === undefined || dayText.length > 2) return null;

  const clock = time ?? { hour: 0, minute: 0, second: 0 };
  let hour = clock.hour;
  if (meridiem !== undefined) {
    if (hour < 1 || hour > 12) return null;
    hour = (hour % 12) + (meridiem === 'pm' ? 12 : 0);
  }
  return isoFrom(
    {
      year: fullYear(yearText),
      month,
      day: Number(dayText),
      hour,
      minute: clock.minute,
      second: clock.second,
    },
    zone ?? 0,
    nowMs,
  );
}

// ---------------------------------------------------------------------------------------------
// Addresses, Message-ID, attachments
// ---------------------------------------------------------------------------------------------

function isAddressObject(value: unknown): value is AddressObject {
  return (
    typeof value === 'object' && value !== null && Array.isArray((value as AddressObject).value)
  );
}

/** A header repeated (two To: lines) is an array of AddressObjects. */
function addressObjects(value: HeaderValue | undefined): AddressObject[] {
  if (value === undefined) return [];
  const values: unknown[] = Array.isArray(value) ? value : [value];
  return values.filter(isAddressObject);
}

/** Group members take the place of their group ("Team: a@x, b@x;"); an empty group yields nothing. */
function* mailboxes(entries: readonly EmailAddress[]): Generator<EmailAddress> {
  for (const entry of entries) {
    if (entry.group) {
      for (const member of entry.group) if (!member.group) yield member;
    } else {
      yield entry;
    }
  }
}

interface AddressLists {
  from: AddressSummary[];
  to: AddressSummary[];
  cc: AddressSummary[];
  truncated: boolean;
}

function collectAddresses(headers: Headers): AddressLists {
  const lists: AddressLists = { from: [], to: [], cc: [], truncated: false };
  let total = 0;
  for (const key of ['from', 'to', 'cc'] as const) {
    const out = lists[key];
    const seen = new Set<string>();
    entries: for (const object of addressObjects(headers.get(key))) {
      for (const mailbox of mailboxes(object.value)) {
        const fullAddress = cleanText(mailbox.address ?? '', Number.MAX_SAFE_INTEGER).toLowerCase();
        const address = bound(fullAddress, MAX_ADDRESS_LENGTH);
        const name = cleanText(mailbox.name ?? '', MAX_NAME_LENGTH);
        if (address === '' && name === '') continue;
        const identity = address === '' ? `name:${name.toLowerCase()}` : `address:${address}`;
        if (seen.has(identity)) continue;
        if (out.length >= MAX_ADDRESSES_PER_LIST || total >= MAX_ADDRESSES_TOTAL) {
          lists.truncated = true;
          break entries;
        }
        if (address.length < fullAddress.length) lists.truncated = true;
        seen.add(identity);
        out.push({ address, name });
        total++;
      }
    }
  }
  return lists;
}

/** The Message-ID as sent: the first <...> of the raw header, or its first word in brackets. */
function messageIdFrom(rawValue: string): string | null {
  const value = rawValue.trim();
  let id: string;
  const open = value.indexOf('<');
  if (open >= 0) {
    const close = value.indexOf('>', open);
    id = close === -1 ? value.slice(open) : value.slice(open, close + 1);
  } else {
    const word = value.split(/\s+/, 1)[0] ?? '';
    id = word === '' ? '' : `<${word}>`;
  }
  id = wellFormed(id).replace(/[\s\p{Cc}]+/gu, '');
  return id === '' || id === '<>' ? null : bound(id, MAX_MESSAGE_ID_LENGTH);
}

/** The Date header as sent, unfolded: tabs become spaces, other control characters U+FFFD. */
function dateHeaderFrom(rawValue: string): string | null {
  const value = bound(
    wellFormed(rawValue.trim().replace(/\t/g, ' ')).replace(/\p{Cc}/gu, '\uFFFD'),
    MAX_DATE_HEADER_LENGTH,
  );
  return value === '' ? null : value;
}

// Characters Windows refuses in names; ":" also names NTFS streams and drives ("C:evil").
const WINDOWS_RESERVED = /[<>:"|?*]/g;

/**
 * An attachment file name that is safe to show and to use as a file name: only the last path segment
 * ("../../etc/passwd" is "passwd"), no control or format characters (bidi overrides such as U+202E
 * make "gnp.exe" display as "exe.png"), no Windows-reserved characters, not "." or "..", bounded with
 * its extension kept. Null when nothing usable is left.
 */
export function sanitizeFilename(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  const segments = wellFormed(raw)
    .replace(/[\p{Cc}\p{Cf}]+/gu, '')
    .split(/[/\\]+/);
  const last = segments.filter((segment) => segment.trim() !== '').pop() ?? '';
  // Windows drops trailing dots and spaces, so "a.exe. " would open as "a.exe".
  const name = last
    .replace(WINDOWS_RESERVED, '_')
    .trim()
    .replace(/[. ]+$/, '');
  if (name === '' || /^\.+$/.test(name)) return null;
  if (name.length <= MAX_FILENAME_LENGTH) return name;
  const dot = name.lastIndexOf('.');
  const extension =
    dot > 0 && name.length - dot <= MAX_FILENAME_EXTENSION_LENGTH ? name.slice(dot) : '';
  return (
    bound(name.slice(0, name.length - extension.length), MAX_FILENAME_LENGTH - extension.length) +
    extension
  );
}

/** Only RFC 6838 restricted-name characters, lower-cased: one JSON byte each. */
function sanitizeContentType(raw: string): string {
  const value = bound(
    raw.toLowerCase().replace(/[^a-z0-9!#$&^_.+\-/]/g, ''),
    MAX_CONTENT_TYPE_LENGTH,
  );
  return /^[^/]+\/[^/]+$/.test(value) ? value : 'application/octet-stream';
}

/**
 * A short reason for a parse failure. mailsplit tags its size-limit errors EMAXLEN: those name our
 * limit. Other messages may quote the mail, so they are cleaned and bounded like any header.
 */
export function parseErrorReason(err: unknown): string {
  const error = err instanceof Error ? err : new Error(String(err));
  const code = (error as Error & { code?: unknown }).code;
  let reason = `mail parser failed: ${error.message}`;
  if (code === 'EMAXLEN' && /header/i.test(error.message)) {
    reason = `a MIME part header block exceeds ${MAX_HEADER_BLOCK_OCTETS} octets`;
  } else if (code === 'EMAXLEN' && /child nodes/i.test(error.message)) {
    reason = `the message has more than ${MAX_MIME_PARTS} MIME parts`;
  }
  return cleanText(reason, MAX_PARSE_ERROR_LENGTH);
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

type Mode =
  /** Input goes to mailparser. */
  | 'feeding'
  /** mailparser has been ended (input ended, or a limit was reached); later input is discarded. */
  | 'ended'
  /** mailparser failed or the input was aborted; input is discarded and metadata is settled. */
  | 'failed';

class ParseRun {
  readonly sink: Writable;
  readonly metadata: Promise<MessageMetadata>;

  readonly #now: () => number;
  readonly #parser: MailParser;
  #resolve: (metadata: MessageMetadata) => void = () => {};
  #mode: Mode = 'feeding';
  #settled = false;
  #inputEnded = false;
  #parserEnded = false;
  /** A limit ended the parse early: attachments finishing after that are incomplete. */
  #cutShort = false;
  #pendingWrite: (() => void) | null = null;

  #parsedOctets = 0;
  /** Input octets provably consumed by attachment bodies: a lower bound, from their decoded size. */
  #streamedCredit = 0;
  #openAttachments = 0;
  #attachmentsSeen = 0;

  #messageId: string | null = null;
  #subject: string | null = null;
  #dateHeader: string | null = null;
  #addresses: AddressLists = { from: [], to: [], cc: [], truncated: false };
  #attachments: AttachmentSummary[] = [];
  #attachmentsTruncated = false;
  #snippet = '';
  /** Text that stood where headers belong (a message that is just text): the snippet if none else. */
  #strayHeaderText = '';
  #parseError: string | null = null;

  constructor(now: () => number) {
    this.#now = now;
    this.metadata = new Promise<MessageMetadata>((resolve) => {
      this.#resolve = resolve;
    });
    this.sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => this.#write(chunk, callback),
      final: (callback) => {
        this.#inputEnded = true;
        if (this.#mode === 'feeding') this.#endParser(false);
        callback();
      },
      destroy: (_error, callback) => {
        // autoDestroy runs this after a normal finish too; only an unfinished input is an abort.
        if (!this.#inputEnded) this.#fail('the message stream was aborted before its end');
        // The caller's error, if any, is theirs: the sink itself never errors.
        callback(null);
      },
    });

    this.#parser = new MailParser({
      // The snippet is derived here from a bounded scan; these conversions copy every text part
      // several times and run html-to-text and linkify over hostile input.
      skipHtmlToText: true,
      skipTextToHtml: true,
      skipTextLinks: true,
      skipImageLinks: true,
      // Attachments are hashed here with SHA-256; mailparser would add an MD5 pass.
      checksumAlgo: false,
      maxHeadSize: MAX_HEADER_BLOCK_OCTETS,
      maxChildNodes: MAX_MIME_PARTS,
      // An embedded message's headers are written into the text, its Date as mailparser parsed it:
      // the current time when it did not parse. The snippet must never carry the import time.
      formatDateString: () => '',
    });
    this.#parser.on('headers', (headers: Headers) => this.#guard(() => this.#onHeaders(headers)));
    this.#parser.on('headerLines', (lines: HeaderLines) =>
      this.#guard(() => this.#onHeaderLines(lines)),
    );
    this.#parser.on('data', (item: AttachmentStream | MessageText) =>
      this.#guard(() => {
        if (item.type === 'attachment') this.#onAttachment(item);
        else this.#onText(item);
      }),
    );
    this.#parser.on('drain', () => this.#resumeWriter());
    // Kept for the parser's whole life: an 'error' without a listener would crash the process.
    this.#parser.on('error', (err: unknown) => this.#fail(parseErrorReason(err)));
    this.#parser.on('end', () => {
      this.#parserEnded = true;
      this.#settleWhenDone();
    });
  }

  #write(chunk: Buffer, callback: () => void): void {
    if (this.#mode !== 'feeding') {
      callback();
      return;
    }
    let piece = chunk;
    let limitReached = false;
    const room = MAX_PARSED_OCTETS - this.#parsedOctets;
    if (piece.length > room) {
      piece = piece.subarray(0, room);
      limitReached = true;
    }
    // What mailparser can be holding as text is at most what was fed minus what it has already
    // streamed out as attachments, counted at their smallest possible encoded size (see
    // #onAttachment). Input not yet decoded counts as text, so the bound errs on the safe side.
    const textRoom = MAX_UNSTREAMED_OCTETS - (this.#parsedOctets - this.#streamedCredit);
    if (piece.length > textRoom) {
      piece = piece.subarray(0, Math.max(0, Math.floor(textRoom)));
      limitReached = true;
    }
    this.#parsedOctets += piece.length;
    let accepted = true;
    if (piece.length > 0) {
      try {
        accepted = this.#parser.write(piece);
      } catch (err) {
        this.#fail(parseErrorReason(err));
      }
    }
    if (limitReached && this.#mode === 'feeding') this.#endParser(true);
    if (accepted || this.#mode !== 'feeding') {
      callback();
      return;
    }
    this.#pendingWrite = callback;
  }

  #resumeWriter(): void {
    const callback = this.#pendingWrite;
    this.#pendingWrite = null;
    callback?.();
  }

  #endParser(cutShort: boolean): void {
    this.#mode = 'ended';
    this.#cutShort = cutShort;
    try {
      this.#parser.end();
    } catch (err) {
      this.#fail(parseErrorReason(err));
    }
    this.#resumeWriter();
  }

  #fail(reason: string): void {
    if (this.#settled) return;
    this.#mode = 'failed';
    this.#parseError ??= cleanText(reason, MAX_PARSE_ERROR_LENGTH);
    // An attachment cut off mid-stream has no true hash or size.
    if (this.#openAttachments > 0) this.#attachmentsTruncated = true;
    this.#parser.destroy();
    this.#resumeWriter();
    this.#settle();
  }

  /** Runs a handler called from inside mailparser: a throw there would break its stream state. */
  #guard(handler: () => void): void {
    if (this.#mode === 'failed') return;
    try {
      handler();
    } catch (err) {
      this.#fail(`metadata extraction failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  #onHeaders(headers: Headers): void {
    this.#addresses = collectAddresses(headers);
    const subject = headers.get('subject');
    if (typeof subject === 'string') {
      const clean = cleanText(subject, MAX_SUBJECT_LENGTH);
      this.#subject = clean === '' ? null : clean;
    }
  }

  #onHeaderLines(lines: HeaderLines): void {
    const stray = new SnippetBuilder();
    for (const { key, line } of lines) {
      if (key === 'date' && this.#dateHeader === null) {
        this.#dateHeader = dateHeaderFrom(rawHeaderValue(line));
      } else if (key === 'message-id' && this.#messageId === null) {
        this.#messageId = messageIdFrom(rawHeaderValue(line));
      } else if (key === '' && !stray.full) {
        stray.add(Buffer.from(line, 'latin1').toString('utf8'));
        stray.add(' ');
      }
    }
    this.#strayHeaderText = stray.value();
  }

  #onAttachment(attachment: AttachmentStream): void {
    this.#openAttachments++;
    const listed = this.#attachmentsSeen < MAX_ATTACHMENTS_LISTED;
    this.#attachmentsSeen++;
    if (!listed) this.#attachmentsTruncated = true;
    const hash = listed ? createHash('sha256') : null;
    // Base64 needs 4 input octets for every 3 decoded; every other encoding at least 1 for 1. The
    // header is compared exactly: a value mailsplit would also read as base64 but this does not
    // ("BASE64 (comment)") only makes the credit smaller, never larger than the truth.
    const encoding = attachment.headers.get('content-transfer-encoding');
    const inputPerOctet =
      typeof encoding === 'string' && encoding.trim().toLowerCase() === 'base64' ? 4 / 3 : 1;
    let octets = 0;
    const content = attachment.content;
    content.on('data', (chunk: Buffer) => {
      hash?.update(chunk);
      octets += chunk.length;
      this.#streamedCredit += chunk.length * inputPerOctet;
    });
    content.on('error', (err: unknown) => this.#fail(parseErrorReason(err)));
    content.once('end', () =>
      this.#guard(() => {
        this.#openAttachments--;
        if (hash !== null) {
          // After a cut the decoder was ended by end of input, not by the part's boundary.
          if (this.#cutShort) this.#attachmentsTruncated = true;
          else {
            this.#attachments.push({
              filename: sanitizeFilename(attachment.filename),
              contentType: sanitizeContentType(attachment.contentType),
              octets,
              sha256: hash.digest('hex'),
            });
          }
        }
        // mailparser waits for this before it reads past the attachment.
        attachment.release?.();
        this.#settleWhenDone();
      }),
    );
  }

  #onText(text: MessageText): void {
    const snippet = new SnippetBuilder();
    if (text.text !== undefined) snippet.add(text.text);
    if (snippet.value() === '' && text.html !== undefined) addHtmlText(text.html, snippet);
    this.#snippet = snippet.value();
  }

  #settleWhenDone(): void {
    if (this.#parserEnded && this.#openAttachments === 0) this.#settle();
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    let date: string | null = null;
    try {
      if (this.#dateHeader !== null) date = parseMessageDate(this.#dateHeader, this.#now());
    } catch {
      // metadata must resolve whatever happens; an unparsed date is null, as documented
    }
    this.#resolve({
      messageId: this.#messageId,
      from: this.#addresses.from,
      to: this.#addresses.to,
      cc: this.#addresses.cc,
      addressesTruncated: this.#addresses.truncated,
      subject: this.#subject,
      dateHeader: this.#dateHeader,
      date,
      attachments: this.#attachments,
      // After a cut, whatever followed in the message is unknown.
      attachmentsTruncated: this.#attachmentsTruncated || this.#cutShort,
      snippet: this.#snippet !== '' ? this.#snippet : this.#strayHeaderText,
      parseError: this.#parseError,
    });
  }
}
