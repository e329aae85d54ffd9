/**
 * The MIME structure of a message, found as its octets stream past: header blocks, multipart
 * boundaries, embedded messages. Bodies are never examined octet by octet in JavaScript: delimiter
 * lines are found with Buffer.indexOf, and body octets are handed on as views of the input. Only
 * header blocks (bounded by MAX_HEADER_BLOCK_OCTETS) are looked at line by line.
 *
 * The structure is mailsplit's (mailparser's splitter), so that parts come out as they did:
 * - a delimiter line is "--" boundary, optionally "--", optional spaces and tabs, then LF with any
 *   CRs before it (RFC 2046 s.5.1.1, and the CR runs a double CRLF conversion leaves); at the very
 *   end of the input a closing delimiter needs no line break;
 * - the line break before a delimiter line belongs to the delimiter, not to the body;
 * - a delimiter of any enclosing multipart closes the parts inside it, the innermost match winning;
 * - a closing delimiter in a preamble is ignored, and after a multipart's closing delimiter its own
 *   boundary is no longer recognised (the epilogue);
 * - a part whose header block a delimiter cuts short is dropped, unless the delimiter closes its
 *   multipart: then it counts, with an empty body;
 * - an inline message/rfc822 is parsed as a message of its own;
 * - a multipart without a usable boundary is one opaque part.
 *
 * Memory per message: the largest header block, plus at most one delimiter line held back between
 * chunks.
 */

import { lineBreakStart, matchLine, NONE } from './delimiter-line.js';
import { type HeaderField, parseHeaderBlock } from './header-block.js';
import { MAX_HEADER_BLOCK_OCTETS, MAX_MIME_PARTS, MAX_MULTIPART_DEPTH } from './message-limits.js';
import { describePart, type MimePart } from './mime-part.js';

export interface PartContext {
  /** The message itself. */
  root: boolean;
  /** The top of a message embedded in an inline message/rfc822 part. */
  embeddedRoot: boolean;
}

export interface ScanListener {
  /**
   * A part's header block is complete. For a leaf part (neither a multipart nor the container of an
   * embedded message) its body octets follow, then partEnd.
   */
  partStart(part: MimePart, fields: HeaderField[], context: PartContext): void;
  /** Body octets of the current leaf part, still transfer-encoded; the view is valid during the call. */
  partBody(octets: Buffer): void;
  /** The current leaf part has ended. */
  partEnd(): void;
}

/** A message over one of the structural limits; its reason is meant for `parseError`. */
export class MimeLimitError extends Error {}

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const DELIMITER_START = Buffer.from('\n--', 'latin1');
const BLANK_LINE_LF = Buffer.from('\n\n', 'latin1');
const BLANK_LINE_CRLF = Buffer.from('\n\r\n', 'latin1');
/** Header blocks up to this size are found with one search; larger ones are read line by line. */
const WHOLE_HEAD_WINDOW_OCTETS = 16 * 1024;

type Mode =
  /** Reading a part's header block. */
  | 'head'
  /** A leaf part's body: handed on. */
  | 'body'
  /** A preamble, an epilogue or an opaque multipart: read past. */
  | 'skip'
  | 'failed';

export class MimeScanner {
  readonly #listener: ScanListener;
  #mode: Mode = 'head';
  /** The delimiters of the open multiparts, innermost last. */
  readonly #open: Buffer[] = [];
  /** The content being skipped is the preamble of the innermost open multipart. */
  #preamble = false;
  #parts = 1;
  #context: PartContext = { root: true, embeddedRoot: false };
  /** Complete header lines of the current part, copied out of the input. */
  #headLines: Buffer[] = [];
  #headOctets = 0;
  /**
   * An incomplete header line, copied out of the chunks it came in. It grows by doubling, so that a
   * line arriving a few octets at a time costs linear time and one allocation per doubling.
   */
  #headPartial = Buffer.alloc(0);
  #headPartialOctets = 0;
  /** Body octets held back at a chunk end: they may be the line break before a delimiter line. */
  #held: Buffer | null = null;
  /** The input position being scanned begins a line. */
  #lineStart = true;

  constructor(listener: ScanListener) {
    this.#listener = listener;
  }

  /** Throws MimeLimitError, or what a listener throws; the scanner is then unusable. */
  write(chunk: Buffer): void {
    if (this.#mode === 'failed' || chunk.length === 0) return;
    let data = chunk;
    if (this.#held !== null) {
      data = Buffer.concat([this.#held, chunk]);
      this.#held = null;
    }
    try {
      this.#scan(data, false);
    } catch (error) {
      this.#failed();
      throw error;
    }
  }

  /** The end of the input: closes whatever is open. */
  end(): void {
    if (this.#mode === 'failed') return;
    try {
      const held = this.#held;
      this.#held = null;
      if (held !== null) this.#scan(held, true);
      if (this.#mode === 'head') this.#endHeadAtEof();
      if (this.#mode === 'body') this.#listener.partEnd();
      this.#mode = 'skip';
    } catch (error) {
      this.#failed();
      throw error;
    }
  }

  #failed(): void {
    this.#mode = 'failed';
    this.#held = null;
    this.#headLines = [];
    this.#headPartial = Buffer.alloc(0);
    this.#headPartialOctets = 0;
  }

  #scan(data: Buffer, eof: boolean): void {
    let at = 0;
    while (at < data.length && this.#mode !== 'failed') {
      at = this.#mode === 'head' ? this.#scanHead(data, at, eof) : this.#scanBody(data, at, eof);
    }
  }

  /** A delimiter line was found; the part before it has already been handed its last octets. */
  #delimiter(level: number, closing: boolean): void {
    const innermost = this.#open.length - 1;
    if (this.#mode === 'skip' && this.#preamble && level === innermost) {
      // A closing delimiter in a preamble does not close anything.
      if (closing) return;
      this.#preamble = false;
      this.#startPart({ root: false, embeddedRoot: false });
      return;
    }
    if (this.#mode === 'body') this.#listener.partEnd();
    else if (this.#mode === 'head' && closing && this.#headOctets > 0) this.#endHead(true);
    this.#open.length = level + 1;
    this.#preamble = false;
    if (closing) {
      this.#open.pop();
      this.#mode = 'skip';
    } else {
      this.#startPart({ root: false, embeddedRoot: false });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Header blocks
  // -------------------------------------------------------------------------------------------

  #startPart(context: PartContext): void {
    this.#parts++;
    if (this.#parts > MAX_MIME_PARTS) {
      throw new MimeLimitError(`the message has more than ${MAX_MIME_PARTS} MIME parts`);
    }
    this.#mode = 'head';
    this.#context = context;
    this.#headLines = [];
    this.#headOctets = 0;
    this.#headPartialOctets = 0;
  }

  #appendPartial(octets: Buffer): void {
    const needed = this.#headPartialOctets + octets.length;
    if (needed > this.#headPartial.length) {
      // Copied: a view would pin the whole input chunk for as long as the header block lasts.
      const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.#headPartial.length, 256));
      this.#headPartial.copy(grown, 0, 0, this.#headPartialOctets);
      this.#headPartial = grown;
    }
    octets.copy(this.#headPartial, this.#headPartialOctets);
    this.#headPartialOctets = needed;
  }

  #takePartial(): Buffer {
    const line = Buffer.from(this.#headPartial.subarray(0, this.#headPartialOctets));
    this.#headPartialOctets = 0;
    // A large buffer is not kept for the next line: header lines are short.
    if (this.#headPartial.length > 4096) this.#headPartial = Buffer.alloc(0);
    return line;
  }

  #checkHeadSize(): void {
    if (this.#headOctets + this.#headPartialOctets > MAX_HEADER_BLOCK_OCTETS) {
      throw new MimeLimitError(
        `a MIME part header block exceeds ${MAX_HEADER_BLOCK_OCTETS} octets`,
      );
    }
  }

  /**
   * A whole header block in this chunk, with no line in it that could be a delimiter, is taken in
   * one piece; otherwise the block is read line by line.
   */
  #scanWholeHead(data: Buffer, start: number): number {
    if (this.#headPartialOctets > 0 || this.#headOctets > 0) return -1;
    let end: number;
    if (data[start] === LF) end = start;
    else if (data[start] === CR && data[start + 1] === LF) end = start + 1;
    else {
      // Searches stay within the window (and within the block once its end is known), so that a
      // small header block costs a small search however large the chunk is.
      const window = data.subarray(start, Math.min(data.length, start + WHOLE_HEAD_WINDOW_OCTETS));
      const crlf = window.indexOf(BLANK_LINE_CRLF);
      const lf = (crlf === -1 ? window : window.subarray(0, crlf + 1)).indexOf(BLANK_LINE_LF);
      if (lf !== -1) end = start + lf + 1;
      else if (crlf !== -1) end = start + crlf + 2;
      else return -1;
    }
    if (this.#open.length > 0) {
      if (data[start] === DASH && data[start + 1] === DASH) return -1;
      if (data.subarray(start, end).indexOf(DELIMITER_START) !== -1) return -1;
    }
    // `end` is the LF of the empty line; the block is everything before that line.
    const blankLine = data[end - 1] === CR ? end - 1 : end;
    if (blankLine > start) {
      this.#headLines.push(Buffer.from(data.subarray(start, blankLine)));
      this.#headOctets = blankLine - start;
    }
    this.#endHead(false);
    this.#lineStart = true;
    return end + 1;
  }

  #scanHead(data: Buffer, start: number, eof: boolean): number {
    const whole = this.#scanWholeHead(data, start);
    if (whole !== -1) return whole;
    let at = start;
    while (at < data.length) {
      const lf = data.indexOf(LF, at);
      if (lf === -1) {
        this.#appendPartial(data.subarray(at));
        this.#checkHeadSize();
        if (eof) this.#endHeadAtEof();
        return data.length;
      }
      let line = data.subarray(at, lf + 1);
      if (this.#headPartialOctets > 0) {
        line = Buffer.concat([this.#takePartial(), line]);
      }
      at = lf + 1;
      if (this.#open.length > 0 && line[0] === DASH && line[1] === DASH) {
        const match = matchLine(this.#open, line, 0, true);
        if (match.kind === 'delimiter') {
          this.#delimiter(match.level, match.closing);
          this.#lineStart = true;
          return at;
        }
      }
      if (line.length === 1 || (line.length === 2 && line[0] === CR)) {
        this.#endHead(false);
        this.#lineStart = true;
        return at;
      }
      this.#headLines.push(Buffer.from(line));
      this.#headOctets += line.length;
      this.#checkHeadSize();
    }
    return at;
  }

  /** The input ended inside a header block: its last line may be a delimiter, else it is a header. */
  #endHeadAtEof(): void {
    if (this.#headPartialOctets > 0) {
      const line = this.#takePartial();
      if (this.#open.length > 0 && line[0] === DASH && line[1] === DASH) {
        const match = matchLine(this.#open, line, 0, true);
        if (match.kind === 'delimiter') {
          this.#delimiter(match.level, match.closing);
          // A part this last line begins has not one octet, not even an empty header block.
          this.#mode = 'skip';
          return;
        }
      }
      this.#headLines.push(line);
      this.#headOctets += line.length;
    }
    const context = this.#context;
    this.#endHead(false);
    // A message embedded at the very end has nothing left to be read from.
    if (this.#mode === 'head' && context !== this.#context) this.#mode = 'skip';
    else if (this.#mode === 'body') this.#listener.partEnd();
    this.#mode = 'skip';
  }

  /**
   * The header block is complete. `cutShort`: a closing delimiter ended it, so the part is taken
   * with an empty body and no structure of its own.
   */
  #endHead(cutShort: boolean): void {
    const fields = parseHeaderBlock(Buffer.concat(this.#headLines, this.#headOctets));
    this.#headLines = [];
    this.#headOctets = 0;
    const context = this.#context;
    const part = describePart(fields, { root: context.root, headerOnly: cutShort });
    this.#listener.partStart(part, fields, context);
    if (cutShort) {
      if (!part.multipart) this.#listener.partEnd();
      this.#mode = 'skip';
      return;
    }
    if (part.embedsMessage) {
      this.#startPart({ root: false, embeddedRoot: true });
    } else if (part.multipart) {
      this.#mode = 'skip';
      this.#preamble = part.delimiter !== null;
      if (part.delimiter !== null) {
        if (this.#open.length >= MAX_MULTIPART_DEPTH) {
          throw new MimeLimitError(`MIME multiparts are nested deeper than ${MAX_MULTIPART_DEPTH}`);
        }
        this.#open.push(part.delimiter);
      }
    } else {
      this.#mode = 'body';
    }
  }

  // -------------------------------------------------------------------------------------------
  // Bodies
  // -------------------------------------------------------------------------------------------

  #emitBody(data: Buffer, from: number, to: number): void {
    if (this.#mode === 'body' && to > from) this.#listener.partBody(data.subarray(from, to));
  }

  #scanBody(data: Buffer, start: number, eof: boolean): number {
    const n = data.length;
    let candidate = this.#lineStart ? start : -1;
    let searchFrom = start;
    this.#lineStart = false;
    if (this.#open.length > 0) {
      for (;;) {
        if (candidate === -1) {
          const found = data.indexOf(DELIMITER_START, searchFrom);
          if (found === -1) break;
          candidate = found + 1;
        }
        const match = data[candidate] === DASH ? matchLine(this.#open, data, candidate, eof) : NONE;
        if (match.kind === 'delimiter') {
          this.#emitBody(data, start, lineBreakStart(data, candidate, start));
          this.#delimiter(match.level, match.closing);
          this.#lineStart = true;
          return match.end;
        }
        if (match.kind === 'more') {
          const hold = lineBreakStart(data, candidate, start);
          this.#emitBody(data, start, hold);
          this.#hold(data, hold, hold === candidate);
          return n;
        }
        searchFrom = candidate;
        candidate = -1;
      }
    }
    if (eof || this.#open.length === 0) {
      this.#emitBody(data, start, n);
      return n;
    }
    // The end of the chunk may be the start of a delimiter line the next chunk completes: a line
    // break, possibly with the first "-" after it, or the CR of a CRLF.
    let hold = n;
    if (data[n - 1] === LF) hold = n - 1;
    else if (data[n - 1] === DASH && n - 2 >= start && data[n - 2] === LF) hold = n - 2;
    else if (data[n - 1] === CR) hold = n - 1;
    if (hold < n && data[hold] === LF && hold > start && data[hold - 1] === CR) hold--;
    hold = Math.max(hold, start);
    this.#emitBody(data, start, hold);
    if (hold < n) this.#hold(data, hold, false);
    return n;
  }

  #hold(data: Buffer, from: number, lineStart: boolean): void {
    // Copied: at most a delimiter line, and a view would pin the whole chunk.
    this.#held = Buffer.from(data.subarray(from));
    this.#lineStart = lineStart;
  }
}
