/**
 * Streaming decoder for a POP3 multi-line body (RFC 1939 s.3): removes the byte-stuffed "." at the start
 * of a line and stops at the CRLF "." CRLF terminator. It works on arbitrary chunk boundaries (the
 * terminator may be split at any byte across TCP reads) and never copies message bytes: each step returns
 * a subarray of the input chunk.
 *
 * Line starts are the start of the body and the byte after each CRLF, as the RFC defines lines. A bare LF
 * is message data, never a line end: treating ".\n" as the end would let a message containing one cut
 * itself short, and a silently truncated message is the worst outcome for an archiver.
 */

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const LONE_CR = Buffer.from([CR]);
const CRLF_DOT = Buffer.from('\r\n.', 'latin1');

enum State {
  /** At the first byte of a line. */
  LineStart = 0,
  /** A "." at line start was consumed (and will be dropped unless it begins the terminator). */
  Dot = 1,
  /** ".\r" at line start was consumed; a following "\n" ends the body. */
  DotCr = 2,
  /** Inside a line. */
  InLine = 3,
}

export interface UnstuffStep {
  /** Message bytes decoded by this step (a view into the input, or a constant for a held-back CR). */
  data: Buffer | null;
  /** Input bytes consumed from `start`. */
  consumed: number;
  /** The terminator was consumed; bytes after it belong to the next reply. */
  done: boolean;
}

export class DotUnstuffer {
  #state: State = State.LineStart;
  /**
   * Whether the last byte seen inside a line was CR (the LF closing a CRLF may come in the next chunk).
   * Only read in InLine, and set on every way into InLine, so the other states leave it alone.
   */
  #prevCr = false;
  #done = false;

  get done(): boolean {
    return this.#done;
  }

  /**
   * Decodes from `chunk[start]` onwards and returns the first contiguous run of message bytes. Call again
   * with `start + consumed` until the chunk is used up or `done` is true.
   */
  step(chunk: Buffer, start: number): UnstuffStep {
    if (this.#done) throw new Error('DotUnstuffer used after the terminator');
    const end = chunk.length;
    let i = start;
    let runStart = start;
    while (i < end) {
      switch (this.#state) {
        case State.LineStart: {
          if (chunk[i] === DOT) {
            if (i > runStart)
              return { data: chunk.subarray(runStart, i), consumed: i - start, done: false };
            this.#state = State.Dot;
            i += 1;
            runStart = i;
          } else {
            this.#state = State.InLine;
            this.#prevCr = false;
          }
          break;
        }
        case State.Dot: {
          if (chunk[i] === CR) {
            this.#state = State.DotCr;
            i += 1;
            runStart = i;
          } else {
            // "..x" or ".x": RFC 1939 strips the first "." of any line that is not the terminator.
            this.#state = State.InLine;
            this.#prevCr = false;
          }
          break;
        }
        case State.DotCr: {
          if (chunk[i] === LF) {
            this.#done = true;
            return { data: null, consumed: i + 1 - start, done: true };
          }
          // ".\rx": not the terminator. The dot stays stripped; the CR we held back is data.
          this.#state = State.InLine;
          this.#prevCr = true;
          return { data: LONE_CR, consumed: i - start, done: false };
        }
        case State.InLine: {
          // The CR of a CRLF split across chunks.
          if (this.#prevCr && chunk[i] === LF) {
            i += 1;
            this.#state = State.LineStart;
            break;
          }
          // Only a line that starts with "." needs work, so skip straight to the next CRLF "."
          // rather than visiting every line: one native search per chunk for most mail.
          const hit = chunk.indexOf(CRLF_DOT, i);
          if (hit !== -1) {
            i = hit + 2;
            this.#state = State.LineStart;
            break;
          }
          // No CRLF "." here: the chunk may still end at a line start, or between CR and LF.
          if (end - i >= 2 && chunk[end - 2] === CR && chunk[end - 1] === LF) {
            this.#state = State.LineStart;
          } else {
            this.#prevCr = chunk[end - 1] === CR;
          }
          i = end;
          break;
        }
      }
    }
    return {
      data: i > runStart ? chunk.subarray(runStart, i) : null,
      consumed: i - start,
      done: false,
    };
  }
}
