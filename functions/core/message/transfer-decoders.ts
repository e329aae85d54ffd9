/**
 * Streaming Content-Transfer-Encoding decoders. Attachment hashes are taken over their output, and
 * the index already holds hashes taken over libbase64's and libqp's output (mailparser's decoders),
 * which the query API verifies when it serves an attachment: so these produce the same octets as those
 * did for any input, junk included, however the input is split into chunks. They never throw.
 *
 * `emit` receives views that are valid only during the call.
 */
import { decodeBase64Text } from './encoded-words.js';
import type { TransferEncoding } from './mime-part.js';

export interface TransferDecoder {
  write(chunk: Buffer): void;
  end(): void;
}

type Emit = (octets: Buffer) => void;

const LF = 0x0a;
const CR = 0x0d;
const EQUALS = 0x3d;
const SPACE = 0x20;
const TAB = 0x09;

function isBase64Char(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2b ||
    code === 0x2f
  );
}

/**
 * Base64. Node's native decoder skips whitespace and junk the way libbase64 strips them, except for
 * "-" and "_" (which it reads as base64url) and "=" (where it stops). So a chunk without those three
 * is decoded natively in one call, cut after the last complete 4-character quantum; the characters
 * of an incomplete quantum wait for the next chunk. Counting the characters needs only the line
 * breaks (one native indexOf per line); a chunk holding anything else, which would make the count
 * wrong, is caught because the decoded length then falls short, and goes the exact slow way: strip
 * to the alphabet, then decode every "="-terminated segment on its own, as libbase64 does.
 */
class Base64Decoder implements TransferDecoder {
  readonly #emit: Emit;
  /** Up to 3 alphabet characters of an incomplete quantum. */
  #quantum = '';
  /** Output of the fast path, reused: `emit` takes views valid only during the call. */
  #scratch = Buffer.alloc(0);

  constructor(emit: Emit) {
    this.#emit = emit;
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (!this.#decodeFast(chunk)) this.#decodeExact(chunk.toString('latin1'));
  }

  end(): void {
    if (this.#quantum !== '') {
      const tail = Buffer.from(this.#quantum, 'base64');
      this.#quantum = '';
      if (tail.length > 0) this.#emit(tail);
    }
  }

  #decodeFast(chunk: Buffer): boolean {
    const n = chunk.length;
    // Small chunks are not worth the bookkeeping.
    if (n < 64) return false;
    if (chunk.indexOf(EQUALS) !== -1 || chunk.indexOf(0x2d) !== -1 || chunk.indexOf(0x5f) !== -1) {
      return false;
    }
    // Line breaks, counted by looking one line length further first: mailers wrap at a fixed
    // width. A break missed that way only makes the count too high, which the length check below
    // catches; a break counted is always a real CR or LF.
    let breaks = 0;
    let step = 0;
    for (let at = chunk.indexOf(LF); at !== -1; ) {
      breaks += at > 0 && chunk[at - 1] === CR ? 2 : 1;
      const predicted = at + step;
      if (step > 0 && predicted < n && chunk[predicted] === LF) {
        at = predicted;
        continue;
      }
      const next = chunk.indexOf(LF, at + 1);
      if (next !== -1) step = next - at;
      at = next;
    }
    // A CR at the end is the first half of a line break; it is never a base64 character.
    if (chunk[n - 1] === CR) breaks++;
    // Complete the quantum left from the last chunk with the first characters of this one.
    const quantum = this.#quantum;
    let start = 0;
    let head = quantum;
    if (quantum !== '') {
      while (head.length < 4 && start < n) {
        const code = chunk[start++] as number;
        if (code === LF || code === CR) continue;
        if (!isBase64Char(code)) return false;
        head += String.fromCharCode(code);
      }
      if (head.length < 4) return false;
    }
    const characters = n - breaks - (head.length - quantum.length);
    let keep = characters % 4;
    let cut = n;
    let kept = '';
    while (keep > 0 && cut > start) {
      const code = chunk[--cut] as number;
      if (code === LF || code === CR) continue;
      if (!isBase64Char(code)) return false;
      kept = String.fromCharCode(code) + kept;
      keep--;
    }
    if (keep > 0) return false;
    const expected = ((characters - kept.length) / 4) * 3 + (head === '' ? 0 : 3);
    if (this.#scratch.length < expected)
      this.#scratch = Buffer.allocUnsafe(Math.max(expected, 3 * 1024));
    const scratch = this.#scratch;
    let length = head === '' ? 0 : scratch.write(head, 0, 'base64');
    if (cut > start)
      length += scratch.write(chunk.toString('latin1', start, cut), length, 'base64');
    // Fewer octets than the count promises: the chunk holds characters that are not base64.
    if (length !== expected) return false;
    this.#quantum = kept;
    if (length > 0) this.#emit(scratch.subarray(0, length));
    return true;
  }

  #decodeExact(text: string): void {
    let alphabet = (this.#quantum + text).replace(/[^a-zA-Z0-9+/=]+/g, '');
    let padded = '';
    const lastPad = alphabet.lastIndexOf('=');
    if (lastPad >= 0) {
      padded = alphabet.slice(0, lastPad + 1);
      alphabet = alphabet.slice(lastPad + 1);
    }
    const keep = alphabet.length % 4;
    this.#quantum = alphabet.slice(alphabet.length - keep);
    const ready = padded + alphabet.slice(0, alphabet.length - keep);
    if (ready === '') return;
    const decoded = decodeBase64Text(ready);
    if (decoded.length > 0) this.#emit(decoded);
  }
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

/**
 * Quoted-printable held back at a chunk end to decide it with the next chunk. Only absurd input
 * holds more (a run of trailing whitespace or of soft line breaks longer than this that straddles a
 * chunk boundary); past the bound the held octets are taken as they are.
 */
const QP_LOOKAHEAD_OCTETS = 4096;

/** What an "=" is, once the octets after it are known. */
const NEED_MORE = -2;
const NOT_SOFT = -1;

/**
 * Quoted-printable, exactly as libqp decodes a whole body: whitespace before a line break (or the
 * end) is dropped, "=" before a line break (or the end) is a soft line break and is dropped with it,
 * then every "=" followed by two hex digits is one octet (the digits may straddle a soft line break),
 * and any other octet, a stray "=" included, is itself. libqp did this over the whole body at its
 * end; this does it as the body streams, holding back only octets whose meaning the next chunk
 * decides.
 */
class QuotedPrintableDecoder implements TransferDecoder {
  readonly #emit: Emit;
  #held: Buffer | null = null;

  constructor(emit: Emit) {
    this.#emit = emit;
  }

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const data = this.#held === null ? chunk : Buffer.concat([this.#held, chunk]);
    this.#held = null;
    this.#decode(data, false);
  }

  end(): void {
    const data = this.#held;
    this.#held = null;
    if (data !== null) this.#decode(data, true);
  }

  /**
   * End offset of the soft line break at `at`, or NOT_SOFT/NEED_MORE: "=" and a line break (CRLF or
   * LF), with any whitespace before the CR or the LF, which libqp dropped first.
   */
  #softBreakEnd(data: Buffer, at: number, final: boolean): number {
    if (data[at] !== EQUALS) return NOT_SOFT;
    let i = at + 1;
    while (i < data.length && (data[i] === SPACE || data[i] === TAB)) i++;
    if (i === data.length) return final ? i : NEED_MORE;
    if (data[i] === LF) return i + 1;
    if (data[i] !== CR) return NOT_SOFT;
    i++;
    while (i < data.length && (data[i] === SPACE || data[i] === TAB)) i++;
    if (i === data.length) return final ? NOT_SOFT : NEED_MORE;
    return data[i] === LF ? i + 1 : NOT_SOFT;
  }

  /** The offset of the next octet that survives soft-break removal, from `at`; or NEED_MORE. */
  #nextKept(data: Buffer, at: number, final: boolean): number {
    let i = at;
    for (;;) {
      if (i >= data.length) return final ? data.length : NEED_MORE;
      const end = this.#softBreakEnd(data, i, final);
      if (end === NEED_MORE) return NEED_MORE;
      if (end === NOT_SOFT) return i;
      i = end;
    }
  }

  #decode(data: Buffer, final: boolean): void {
    const out = Buffer.allocUnsafe(data.length);
    let length = 0;
    let i = 0;
    const n = data.length;
    const hold = (from: number): void => {
      if (n - from > QP_LOOKAHEAD_OCTETS) return;
      this.#held = Buffer.from(data.subarray(from));
      i = n;
    };
    while (i < n) {
      const code = data[i] as number;
      if (code !== EQUALS && code !== SPACE && code !== TAB) {
        out[length++] = code;
        i++;
        continue;
      }
      if (code !== EQUALS) {
        let j = i + 1;
        while (j < n && (data[j] === SPACE || data[j] === TAB)) j++;
        if (j === n) {
          if (final) break;
          hold(i);
          if (i === n) break;
        } else if (data[j] === LF || data[j] === CR) {
          i = j;
          continue;
        }
        data.copy(out, length, i, j);
        length += j - i;
        i = j;
        continue;
      }
      const soft = this.#softBreakEnd(data, i, final);
      if (soft >= 0) {
        i = soft;
        continue;
      }
      if (soft === NEED_MORE) {
        hold(i);
        if (i === n) break;
      } else {
        // An "=" that is kept: an octet if the next two kept octets are hex digits.
        const first = this.#nextKept(data, i + 1, final);
        const second = first >= 0 && first < n ? this.#nextKept(data, first + 1, final) : first;
        if (first === NEED_MORE || second === NEED_MORE) {
          hold(i);
          if (i === n) break;
        } else if (second < n) {
          const high = hexValue(data[first] as number);
          const low = hexValue(data[second] as number);
          if (high >= 0 && low >= 0) {
            out[length++] = high * 16 + low;
            i = second + 1;
            continue;
          }
        }
      }
      out[length++] = EQUALS;
      i++;
    }
    if (length > 0) this.#emit(out.subarray(0, length));
  }
}

class IdentityDecoder implements TransferDecoder {
  readonly #emit: Emit;

  constructor(emit: Emit) {
    this.#emit = emit;
  }

  write(chunk: Buffer): void {
    if (chunk.length > 0) this.#emit(chunk);
  }

  end(): void {}
}

export function createTransferDecoder(encoding: TransferEncoding, emit: Emit): TransferDecoder {
  switch (encoding) {
    case 'base64':
      return new Base64Decoder(emit);
    case 'quoted-printable':
      return new QuotedPrintableDecoder(emit);
    default:
      return new IdentityDecoder(emit);
  }
}
