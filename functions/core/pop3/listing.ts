import { Pop3ProtocolError } from './errors.js';
import { MAX_UIDL_OCTETS } from './limits.js';

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
  const match = /^\s*(\d{1,15})\s+(.+?)\s*$/.exec(line);
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

export function splitListing(body: Buffer): string[] {
  const text = body.toString('latin1');
  const lines = text.split('\r\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}
