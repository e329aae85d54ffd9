/**
 * RFC 2047 encoded words ("=?charset?B|Q?text?=") in header text, decoded the way libmime decodes them,
 * so subjects, names and file names read as they did when mailparser parsed them:
 * - whitespace between two adjacent encoded words is dropped (RFC 2047 s.6.2);
 * - adjacent words of the same encoding and charset are joined before decoding, so a multibyte
 *   character or a base64 quantum that a mailer split between two words comes out whole; except in
 *   a stateful charset (ISO-2022-*), where each word is whole by rule (RFC 1468 s.2: it ends back in
 *   ASCII) and is decoded on its own, then joined: joined as octets, one word's closing escape meets
 *   the next one's opening escape, which a decoder reads as an error (U+FFFD between the words);
 * - an unknown charset decodes as UTF-8 with U+FFFD, and nothing throws.
 */
import { decodeOctets, encodingFor } from './charsets.js';
import { unescapeHex } from './hex-escapes.js';

const ENCODED_WORD = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g;
/** Charsets libmime decodes a word in; a word naming anything else is left as written. */
const DECODABLE_CHARSET = /^[\w\-*]+$/;

interface Word {
  start: number;
  end: number;
  charset: string;
  encoding: 'B' | 'Q';
  text: string;
}

/**
 * Base64 as libbase64 decodes it: characters outside latin1 are dropped, and every "=" ends a segment
 * that is decoded on its own (Buffer.from stops at the first padding).
 */
export function decodeBase64Text(text: string): Buffer {
  const latin1 = text.replace(/[\u0100-\uffff]+/g, '');
  if (!latin1.includes('=')) return Buffer.from(latin1, 'base64');
  const segments = latin1
    .split('=')
    .filter((segment) => segment !== '')
    .map((segment) => Buffer.from(segment, 'base64'));
  return Buffer.concat(segments);
}

function decodeQText(text: string): Buffer {
  return unescapeHex(
    Buffer.from(text.replace(/=\s+([0-9a-fA-F])/g, '=$1').replace(/[_\s]/g, ' ')),
    0x3d,
  );
}

function decodeText(text: string, encoding: Word['encoding'], charset: string): string {
  const octets = encoding === 'B' ? decodeBase64Text(text) : decodeQText(text);
  return decodeOctets(octets, charset);
}

function decodeRun(run: readonly Word[]): string {
  const first = run[0] as Word;
  const charset = encodingFor(first.charset);
  if (charset.startsWith('iso-2022-')) {
    return run.map((word) => decodeText(word.text, word.encoding, charset)).join('');
  }
  return decodeText(run.map((word) => word.text).join(''), first.encoding, charset);
}

function sameRun(a: Word, b: Word): boolean {
  return a.encoding === b.encoding && encodingFor(a.charset) === encodingFor(b.charset);
}

/** Header text with its encoded words decoded; text without any is returned as it is. */
export function decodeWords(value: string): string {
  if (!value.includes('=?')) return value;
  const words: Word[] = [];
  for (const match of value.matchAll(ENCODED_WORD)) {
    words.push({
      start: match.index,
      end: match.index + match[0].length,
      charset: match[1] ?? '',
      encoding: (match[2] ?? 'Q').toUpperCase() === 'B' ? 'B' : 'Q',
      text: match[3] ?? '',
    });
  }
  let out = '';
  let at = 0;
  let run: Word[] = [];
  const flush = () => {
    const first = run[0];
    if (first === undefined) return;
    const last = run[run.length - 1] as Word;
    out += DECODABLE_CHARSET.test(first.charset)
      ? decodeRun(run)
      : // Not decoded, but the whitespace between the words is dropped all the same.
        run.map((word) => value.slice(word.start, word.end)).join('');
    at = last.end;
    run = [];
  };
  for (const word of words) {
    const previous = run[run.length - 1];
    const adjacent = previous !== undefined && /^\s*$/.test(value.slice(previous.end, word.start));
    if (!adjacent || previous === undefined || !sameRun(previous, word)) {
      flush();
      // Whitespace between adjacent encoded words of different runs is dropped too.
      out += adjacent ? '' : value.slice(at, word.start);
      at = word.start;
    }
    run.push(word);
  }
  flush();
  return out + value.slice(at);
}
