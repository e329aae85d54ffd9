import { Pop3ProtocolError } from './errors.js';
import { MAX_LISTING_LINE_OCTETS, MAX_MALFORMED_LINES_KEPT, MAX_UIDL_OCTETS } from './limits.js';

export interface ScanListing {
  msg: number;
  /** Size as the server reports it (may be slightly off on some servers: count received bytes instead). */
  octets: number;
}

export interface UidListing {
  msg: number;
  /** Unique-id. Decoded as Latin-1 so every byte maps to one character and back unchanged. */
  uid: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

function violation(what: string, line: string): Pop3ProtocolError {
  return new Pop3ProtocolError(
    'PROTOCOL_VIOLATION',
    `the server sent a malformed ${what} line: ${JSON.stringify(line.slice(0, 100))}`,
  );
}

function positiveInt(token: string | undefined): number | null {
  if (token === undefined || !/^\d{1,15}$/.test(token)) return null;
  return Number(token);
}

/** A scan listing "msg octets [extra]" (RFC 1939 s.5 LIST; extra information after the size is allowed). */
export function parseScanLine(line: string, what = 'LIST'): ScanListing {
  const [msgToken, sizeToken] = line.trim().split(/\s+/);
  const msg = positiveInt(msgToken);
  const octets = positiveInt(sizeToken);
  if (msg === null || msg === 0 || octets === null) throw violation(what, line);
  return { msg, octets };
}

/**
 * A unique-id listing "msg uid". RFC 1939 s.7 allows 1-70 octets in 0x21-0x7E; real servers send longer
 * ids, 8-bit ids and extra spaces (one Android server pads with three), so any run of non-control bytes
 * up to MAX_UIDL_OCTETS is accepted after the whitespace that follows the number.
 */
export function parseUidLine(line: string): UidListing {
  const match = /^\s*(\d{1,15})\s+(\S.*?)\s*$/.exec(line);
  const msg = positiveInt(match?.[1]);
  const uid = match?.[2];
  if (
    msg === null ||
    msg === 0 ||
    uid === undefined ||
    CONTROL.test(uid) ||
    uid.length > MAX_UIDL_OCTETS
  ) {
    throw violation('UIDL', line);
  }
  return { msg, uid };
}

/** "+OK nn mm" (RFC 1939 s.5 STAT). */
export function parseStat(text: string): { count: number; octets: number } {
  const { msg, octets } = parseStatCounts(text);
  return { count: msg, octets };
}

function parseStatCounts(text: string): { msg: number; octets: number } {
  const [countToken, sizeToken] = text.trim().split(/\s+/);
  const msg = positiveInt(countToken);
  const octets = positiveInt(sizeToken);
  if (msg === null || octets === null) throw violation('STAT', text);
  return { msg, octets };
}

export interface MalformedLine {
  /** The message number the line starts with, when it has one: that message can be left alone. */
  msg: number | null;
  /** The line, cut to 100 characters, as JSON would show it. */
  line: string;
}

/** A parsed listing: the entries kept, the lines that did not parse, and what the cap dropped. */
export interface Listing<T> {
  entries: T[];
  /** The first MAX_MALFORMED_LINES_KEPT malformed lines. */
  malformed: MalformedLine[];
  malformedCount: number;
  /** Entries read past the cap: counted, never parsed or kept. */
  dropped: number;
}

const CRLF = Buffer.from('\r\n');

/**
 * Parses a listing as its octets arrive, line by line, so memory grows with the entries kept (at
 * most `maxEntries`), never with what the server sends. A line that does not parse is recorded and
 * skipped; the rest of the listing still counts.
 */
export class ListingCollector<T> {
  readonly #parse: (line: string) => T;
  readonly #maxEntries: number;
  readonly #result: Listing<T> = { entries: [], malformed: [], malformedCount: 0, dropped: 0 };
  /** The start of a line not yet ended (bounded: past the line limit only its start is kept). */
  #carry: Buffer = Buffer.alloc(0);
  #overlong = false;
  /** The last octet taken was a CR: an LF first in the next run ends the line. */
  #pendingCr = false;

  constructor(parse: (line: string) => T, maxEntries: number) {
    this.#parse = parse;
    this.#maxEntries = maxEntries;
  }

  /** Takes the next octets; `run` is only read during the call. */
  push(run: Buffer): void {
    let start = 0;
    if (this.#pendingCr && run.length > 0 && run[0] === 0x0a) {
      this.#carry = this.#carry.subarray(0, Math.max(0, this.#carry.length - 1));
      this.#lineEnd();
      start = 1;
    }
    for (let end = run.indexOf(CRLF, start); end !== -1; end = run.indexOf(CRLF, start)) {
      this.#take(run.subarray(start, end));
      this.#lineEnd();
      start = end + 2;
    }
    this.#take(run.subarray(start));
    if (run.length > start) this.#pendingCr = run[run.length - 1] === 0x0d;
  }

  end(): Listing<T> {
    if (this.#carry.length > 0 || this.#overlong) this.#lineEnd();
    return this.#result;
  }

  #take(bytes: Buffer): void {
    if (bytes.length === 0 || this.#overlong) return;
    if (this.#carry.length + bytes.length > MAX_LISTING_LINE_OCTETS) {
      this.#overlong = true;
      this.#carry = Buffer.concat([this.#carry, bytes]).subarray(0, 100);
      return;
    }
    this.#carry =
      this.#carry.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.#carry, bytes]);
  }

  #lineEnd(): void {
    const bytes = this.#carry;
    const overlong = this.#overlong;
    this.#carry = Buffer.alloc(0);
    this.#overlong = false;
    this.#pendingCr = false;
    const line = bytes.toString('latin1');
    const result = this.#result;
    if (result.entries.length >= this.#maxEntries) {
      result.dropped += 1;
      return;
    }
    try {
      if (overlong) throw new Error('line too long');
      result.entries.push(this.#parse(line));
    } catch {
      result.malformedCount += 1;
      if (result.malformed.length < MAX_MALFORMED_LINES_KEPT) {
        const msg = positiveInt(/^\s*(\d+)/.exec(line)?.[1]);
        result.malformed.push({
          msg: msg === 0 ? null : msg,
          line: JSON.stringify(line.slice(0, 100)),
        });
      }
    }
  }
}
