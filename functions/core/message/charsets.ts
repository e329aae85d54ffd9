/**
 * Charset labels from mail, turned into decoders. Node's TextDecoder (full ICU) covers the WHATWG
 * encodings, which are every charset mail is written in in practice, so no conversion tables are
 * bundled. A label may be anything a sender wrote: one TextDecoder does not know falls back to UTF-8
 * with U+FFFD for invalid bytes, the same answer libmime gives, and nothing here throws.
 */
import { TextDecoder } from 'node:util';

/**
 * Labels that are not charsets a text may be read in. UTF-7 smuggles markup past filters ("+ADw-" is
 * "<"), and base64 and hex are transfer encodings; they are read as UTF-8, as libmime reads them.
 */
const REFUSED = /^(?:(?:cs)?unicode11)?utf7(?:imap)?$|^base64$|^hex$/;

/** Misspellings mailers write that TextDecoder does not resolve (libmime's normalizeCharset rules). */
function rewrittenLabel(label: string): string {
  return label
    .replace(/^utf[-_]?(\d+)/, 'utf-$1')
    .replace(/^win(?:dows)?[-_]?(\d+)/, 'windows-$1')
    .replace(/^(?:latin|iso[-_]?8859)?[-_]?(\d+)$/, 'iso-8859-$1')
    .replace(/^l[-_]?(\d+)$/, 'iso-8859-$1')
    .replace(/^cp936$/, 'gbk')
    .replace(/^cp949$/, 'euc-kr');
}

function tryDecoder(label: string): TextDecoder | null {
  try {
    return new TextDecoder(label);
  } catch {
    // RangeError: not a label TextDecoder knows
    return null;
  }
}

const decoders = new Map<string, string>();

/**
 * The WHATWG encoding name to decode `label` with. A label with an RFC 2231 language suffix
 * ("utf-8*en") is read without it.
 */
export function encodingFor(label: string | undefined): string {
  const key = (label ?? '').trim().toLowerCase();
  const known = decoders.get(key);
  if (known !== undefined) return known;
  const bare = key.split('*', 1)[0] ?? '';
  let encoding = 'utf-8';
  if (bare !== '' && !REFUSED.test(bare.replace(/[^a-z0-9]/g, ''))) {
    encoding = (tryDecoder(bare) ?? tryDecoder(rewrittenLabel(bare)))?.encoding ?? 'utf-8';
  }
  // Bounded: a message can name many labels, but the cache must not grow with hostile mail.
  if (decoders.size < 256) decoders.set(key, encoding);
  return encoding;
}

/**
 * The encoding a text body is read in. "us-ascii" and "ascii" are read as UTF-8, as mailparser read
 * them, rather than as TextDecoder's windows-1252: mail that declares ASCII and carries 8-bit octets
 * is nearly always UTF-8 from a mailer that did not say so.
 */
export function bodyEncodingFor(label: string | undefined): string {
  const compact = (label ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '');
  if (compact === '' || compact === 'ascii' || compact === 'usascii' || compact === 'utf8') {
    return 'utf-8';
  }
  return encodingFor(label);
}

/** Decodes whole octets; invalid sequences become U+FFFD. */
export function decodeOctets(octets: Uint8Array, encoding: string): string {
  // WHATWG maps "iso-8859-1" and "us-ascii" labels to windows-1252 as well.
  if (encoding === 'windows-1252') {
    return windows1252(
      Buffer.from(octets.buffer, octets.byteOffset, octets.length).toString('latin1'),
    );
  }
  return new TextDecoder(encoding).decode(octets);
}

/**
 * windows-1252's 0x80-0x9F (undefined positions kept as the C1 control, as WHATWG does). Node 20's
 * TextDecoder reads "windows-1252" as ISO-8859-1, turning "\x80" into a C1 control instead of "€".
 */
const WINDOWS_1252_C1 =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

/** Octets (held in a latin1 string) read as windows-1252. */
export function windows1252(latin1: string): string {
  return latin1.replace(/[\x80-\x9f]/g, (c) => WINDOWS_1252_C1[c.charCodeAt(0) - 0x80] ?? c);
}
