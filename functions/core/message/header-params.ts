/**
 * Structured MIME header values ("type/subtype; name=value; ..."), RFC 2045 s.5.1 with RFC 2231
 * parameter continuations and charsets, read the way libmime's parseHeaderValue reads them (comments
 * stripped), because the MIME structure and the attachment names must come out as they did under
 * mailparser:
 * - a parameter given twice keeps its first value;
 * - what follows a closed quoted string up to the ";" is junk, not value;
 * - a "(" opens a comment except inside a token of a parameter value (`filename=Invoice(1).pdf`);
 * - an RFC 2231 form ("name*", "name*0*", ...) wins over the plain one it stands beside.
 */
import { decodeOctets, encodingFor } from './charsets.js';
import { decodeWords } from './encoded-words.js';
import { unescapeHex } from './hex-escapes.js';

export interface HeaderValue {
  /** The part before the first ";", as written (not lower-cased). */
  value: string;
  params: Map<string, string>;
  /** Parameters assembled from RFC 2231 forms: already decoded, so never run through decodeWords. */
  decoded: Set<string>;
}

function isWsp(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\r' || ch === '\n' || ch === '\f' || ch === '\v';
}

/** Where a run of characters without meaning to the tokenizer (any but ( \ " ; = and whitespace) ends. */
function ordinaryRunEnd(text: string, start: number): number {
  let i = start;
  for (; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (
      code === 0x28 ||
      code === 0x5c ||
      code === 0x22 ||
      code === 0x3b ||
      code === 0x3d ||
      code === 0x20 ||
      (code >= 0x09 && code <= 0x0d)
    ) {
      break;
    }
  }
  return i;
}

/** Offset of the ")" that closes the comment opening at `start` (comments nest), or -1. */
function commentEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\') i++;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth === 0) return i;
  }
  return -1;
}

/** The raw value and parameters of one header value, comments dropped, before RFC 2231 assembly. */
class Tokenizer {
  readonly params = new Map<string, string>();
  value = '';
  #valueSet = false;
  #key: string | null = null;
  #collected = '';
  /** Whitespace outside quotes is not part of a value, inside quotes it is (RFC 2045 s.5.1). */
  #collectedEnd = 0;
  #inKey = false;

  constructor(text: string) {
    let quote = false;
    let quoteClosed = false;
    let escaped = false;
    let tokenOpen = false;
    let stripComments = true;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i] as string;
      if (stripComments && ch === '(' && !quote && !escaped && !tokenOpen) {
        let end = commentEnd(text, i);
        // An unclosed comment runs to the end, unless a parameter follows: then it is content.
        if (end < 0 && text.indexOf(';', i) < 0) end = text.length - 1;
        if (end >= 0) {
          i = end;
          continue;
        }
        // Looking for a ")" again would rescan a run of unclosed "(" once for each.
        stripComments = false;
      }
      // A run of ordinary characters is taken whole: per character, each would be taken alone with
      // the same effect, and building the value a character at a time is what made this slow.
      const run = escaped ? i : ordinaryRunEnd(text, i);
      if (run > i) {
        if (this.#inKey) {
          this.#take(text.slice(i, run));
        } else if (!quoteClosed) {
          this.#take(text.slice(i, run));
          tokenOpen = this.#key !== null && !quote;
        }
        i = run - 1;
        continue;
      }
      if (this.#inKey) {
        if (ch === '=') {
          this.#key = this.#collected.slice(0, this.#collectedEnd).toLowerCase();
          this.#collected = '';
          this.#collectedEnd = 0;
          this.#inKey = false;
          tokenOpen = true;
        } else if (ch === ';') {
          this.#commit();
        } else if (isWsp(ch)) {
          if (this.#collected.length > 0) this.#collected += ch;
        } else {
          this.#take(ch);
        }
        continue;
      }
      if (quoteClosed && ch !== ';') {
        escaped = false;
        continue;
      }
      if (escaped) {
        this.#take(ch);
        tokenOpen = this.#key !== null && !quote;
      } else if (ch === '\\') {
        escaped = true;
        continue;
      } else if (ch === '"') {
        quoteClosed = quote;
        quote = !quote;
        tokenOpen = false;
      } else if (!quote && ch === ';') {
        this.#commit();
        this.#inKey = true;
        tokenOpen = false;
        quoteClosed = false;
      } else if (!quote && isWsp(ch)) {
        if (this.#collected.length > 0) this.#collected += ch;
        tokenOpen = false;
      } else {
        this.#take(ch);
        tokenOpen = this.#key !== null && !quote;
      }
      escaped = false;
    }
    this.#commit();
  }

  #take(text: string): void {
    this.#collected += text;
    this.#collectedEnd = this.#collected.length;
  }

  #commit(): void {
    const text = this.#collected.slice(0, this.#collectedEnd);
    this.#collected = '';
    this.#collectedEnd = 0;
    if (this.#inKey) {
      const name = text.toLowerCase();
      if (name !== '' && !this.params.has(name)) this.params.set(name, '');
    } else if (this.#key === null) {
      if (!this.#valueSet) this.value = text;
      this.#valueSet = true;
    } else if (!this.params.has(this.#key)) {
      this.params.set(this.#key, text);
    }
  }
}

/** "%XX" escapes of an RFC 2231 value, decoded in its charset; anything else is taken as it is. */
function decodePercent(text: string, charset: string): string {
  return decodeOctets(unescapeHex(Buffer.from(text), 0x25), encodingFor(charset));
}

const CONTINUATION = /\*((\d+)\*?)?$/;

/** Parses a structured header value; never throws. */
export function parseHeaderValue(text: string): HeaderValue {
  const { value, params } = new Tokenizer(text);
  const decoded = new Set<string>();
  const continuations = new Map<string, { charset: string | null; pieces: [number, string][] }>();
  for (const [name, raw] of [...params]) {
    const match = CONTINUATION.exec(name);
    if (match === null) continue;
    params.delete(name);
    const base = name.slice(0, match.index);
    const index = Number(match[2]) || 0;
    let piece = raw;
    let entry = continuations.get(base);
    if (entry === undefined) {
      entry = { charset: null, pieces: [] };
      continuations.set(base, entry);
    }
    const extended =
      index === 0 && match[0].endsWith('*') ? /^([^']*)'[^']*'(.*)$/.exec(raw) : null;
    if (extended !== null) {
      entry.charset = extended[1] || 'utf-8';
      piece = extended[2] ?? '';
    }
    entry.pieces.push([index, piece]);
  }
  for (const [name, entry] of continuations) {
    const joined = entry.pieces
      .sort((a, b) => a[0] - b[0])
      .map((piece) => piece[1])
      .join('');
    decoded.add(name);
    params.set(
      name,
      entry.charset === null ? decodeWords(joined) : decodePercent(joined, entry.charset),
    );
  }
  return { value, params, decoded };
}
