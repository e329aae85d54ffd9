/**
 * A header block: the raw octets of a message's or a MIME part's header section, split into fields
 * the way mailsplit split them, so that which field counts, what a line without a colon is, and how
 * folding reads stay as they were under mailparser. Only header blocks are ever looked at character
 * by character; bodies never are.
 */
import { decodeOctets, windows1252 } from './charsets.js';

export interface HeaderField {
  /** The field name lower-cased; '' for a line that has no colon (text where headers belong). */
  key: string;
  /** The whole field as octets in a latin1 string, name included, folded lines joined by CRLF. */
  line: string;
}

function isFolding(line: string): boolean {
  const first = line.charCodeAt(0);
  return first === 0x20 || first === 0x09;
}

function fieldKey(text: string): string {
  // No colon: substr(0, -1) is '' (mailsplit reads such a line as text, not a field).
  const colon = text.indexOf(':');
  return colon < 0 ? '' : text.slice(0, colon).toLowerCase().trim();
}

/**
 * Splits a header block into fields. A first line "From ..." (an mbox separator) or "POST ..." (an
 * HTTP request line) is not a field and is dropped. A field without a colon may take its name from a
 * continuation line that has one, as mailsplit's parser does.
 */
export function parseHeaderBlock(block: Buffer): HeaderField[] {
  const raw = block.toString('latin1');
  let end = raw.length;
  while (end > 0 && (raw.charCodeAt(end - 1) === 0x0a || raw.charCodeAt(end - 1) === 0x0d)) end--;
  if (end === 0) return [];
  const lines = raw.slice(0, end).split(/\r?\n/);
  const fields: HeaderField[] = [];
  let i = 1;
  let first = lines[0] ?? '';
  while (i < lines.length && isFolding(lines[i] ?? '')) first += `\r\n${lines[i++]}`;
  if (!/^(?:From|POST) /i.test(first)) fields.push({ key: fieldKey(first), line: first });
  let keyPending = false;
  for (; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const last = fields[fields.length - 1];
    if (isFolding(line) && last !== undefined) {
      if (keyPending) {
        const colon = line.indexOf(':');
        if (colon >= 0) {
          last.key = `${last.line}\r\n${line.slice(0, colon)}`.toLowerCase().trim();
          keyPending = false;
        }
      }
      last.line += `\r\n${line}`;
    } else {
      fields.push({ key: fieldKey(line), line });
      keyPending = !line.includes(':');
    }
  }
  return fields;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The escape sequences of ISO-2022-JP (RFC 1468): into JIS X 0208 (1978, 1983), JIS X 0212, back. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what ISO-2022-JP's designations start with.
const ISO_2022_JP_ESCAPE = /\x1b(?:\$[@B]|\$\(D|\([BJ])/;
const EIGHT_BIT = /[\x80-\xff]/;

/**
 * Header octets sent raw (not as RFC 2047 encoded words), held in a latin1 string, as text:
 * - valid UTF-8 is UTF-8 (RFC 6532; what a server in RFC 6856 UTF-8 mode serves);
 * - 7-bit text carrying ISO-2022-JP escapes is ISO-2022-JP, which Japanese mailers long wrote into
 *   Subject and From unencoded; it must be decoded before an address is parsed, because its
 *   "ESC ( B" would otherwise open an RFC 5322 comment that swallows the address after it;
 * - any other 8-bit octets are windows-1252, the charset legacy Western mailers wrote raw (a
 *   superset of latin1 for text), so "Réunion" stays readable where UTF-8 would give U+FFFD.
 */
export function rawHeaderText(latin1: string): string {
  return decodeRaw(latin1, windows1252);
}

/**
 * UTF-8 when the octets are valid UTF-8, else latin1. For the MIME fields, whose parameters (file
 * names above all) legacy mailers write raw in their own 8-bit charset: read as latin1 they keep a
 * readable name where UTF-8 would give U+FFFD, as mailsplit read them. Raw ISO-2022-JP names are
 * decoded as in rawHeaderText.
 */
export function utf8OrLatin1(latin1: string): string {
  return decodeRaw(latin1, (octets) => octets);
}

/** Raw header octets as text: ISO-2022-JP by its escapes, UTF-8 when valid, else `fallback`. */
function decodeRaw(latin1: string, fallback: (latin1: string) => string): string {
  if (!EIGHT_BIT.test(latin1)) {
    return ISO_2022_JP_ESCAPE.test(latin1)
      ? decodeOctets(Buffer.from(latin1, 'latin1'), 'iso-2022-jp')
      : latin1;
  }
  try {
    return strictUtf8.decode(Buffer.from(latin1, 'latin1'));
  } catch {
    return fallback(latin1);
  }
}

/**
 * A field's value as mailparser read it: folding (a line break and the whitespace after it) becomes
 * one space, and the value is trimmed. Still octets in a latin1 string.
 */
export function unfoldedValue(field: HeaderField): string {
  const line = field.line.replace(/(?:\r?\n|\r)[ \t]*/g, ' ').trim();
  const match = /^\s*([^:]+):(.*)$/.exec(line);
  return (match?.[2] ?? '').trim();
}

/** The first field named `key`, or undefined. */
export function firstField(fields: readonly HeaderField[], key: string): HeaderField | undefined {
  return fields.find((field) => field.key === key);
}
