import type { Duplex } from 'node:stream';
import type { DotUnstuffer } from './dot-unstuffer.js';
import { Pop3ProtocolError } from './errors.js';
import { READ_HIGH_WATER_OCTETS } from './limits.js';

const LF = 0x0a;
const CR = 0x0d;

/**
 * The receiving half of a POP3 connection: buffers what the socket delivers, hands out status lines and
 * multi-line body runs, and pauses the socket when the consumer falls behind so a slow sink pushes back
 * through TCP instead of filling memory.
 *
 * It is detached and re-attached across STLS: the TLS socket takes over the same reader.
 */
export class WireReader {
  #socket: Duplex | null = null;
  #chunks: Buffer[] = [];
  /** Read offset into `#chunks[0]`. */
  #head = 0;
  #buffered = 0;
  #paused = false;
  #ended = false;
  #failure: Error | null = null;
  #wake: (() => void) | null = null;
  readonly #idleTimeoutMs: number;
  readonly #onIdle: (timeoutMs: number, what: string) => Error;

  /**
   * @param onIdle called when a reply stalls for longer than the idle timeout; returns the error to fail
   *   with (the client destroys the socket and fails the whole session there).
   */
  constructor(idleTimeoutMs: number, onIdle: (timeoutMs: number, what: string) => Error) {
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#onIdle = onIdle;
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    if (this.#buffered >= READ_HIGH_WATER_OCTETS && !this.#paused) {
      this.#paused = true;
      this.#socket?.pause();
    }
    this.#notify();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#notify();
  };

  readonly #onError = (err: Error): void => {
    this.fail(
      new Pop3ProtocolError(
        'UNEXPECTED_EOF',
        `connection to the POP3 server failed: ${err.message}`,
        {
          cause: err,
        },
      ),
    );
  };

  attach(socket: Duplex): void {
    this.#socket = socket;
    this.#ended = false;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
    if (this.#paused) socket.pause();
  }

  /** Stops reading from the socket (before STLS hands it to TLS). Returns bytes still unread. */
  detach(): number {
    const socket = this.#socket;
    if (socket) {
      socket.off('data', this.#onData);
      socket.off('end', this.#onEnd);
      socket.off('close', this.#onEnd);
      socket.off('error', this.#onError);
      // The TLS layer will own errors from here; an unhandled 'error' would crash the process.
      socket.on('error', () => {});
    }
    this.#socket = null;
    return this.#buffered;
  }

  /** Fails every pending and future read with `err` (first failure wins). */
  fail(err: Error): void {
    if (this.#failure) return;
    this.#failure = err;
    this.#notify();
  }

  get buffered(): number {
    return this.#buffered;
  }

  /**
   * Reads one line and returns it without its line end. Status lines may end in a bare LF (lenient: they
   * carry no data). Fails with PROTOCOL_VIOLATION once `maxOctets` arrive without a line end.
   */
  async readLine(
    maxOctets: number,
    what: string,
    timeoutMs = this.#idleTimeoutMs,
  ): Promise<Buffer> {
    let scanned = 0;
    for (;;) {
      const lf = this.#findLf(scanned, maxOctets);
      if (lf !== -1) {
        const line = this.#take(lf + 1);
        const stripCr = line.length >= 2 && line[line.length - 2] === CR ? 2 : 1;
        return line.subarray(0, line.length - stripCr);
      }
      scanned = this.#buffered;
      if (scanned >= maxOctets) {
        throw new Pop3ProtocolError(
          'PROTOCOL_VIOLATION',
          `the server sent a ${what} longer than ${maxOctets} octets without a line end`,
        );
      }
      await this.#fill(timeoutMs, what);
    }
  }

  /**
   * Returns the next run of decoded body bytes, or null once the terminator has been consumed. The
   * returned buffer is a view of socket data: callers hand it on, they do not keep mutating it.
   */
  async readBody(unstuffer: DotUnstuffer, what: string): Promise<Buffer | null> {
    for (;;) {
      const chunk = this.#chunks[0];
      if (chunk === undefined) {
        await this.#fill(this.#idleTimeoutMs, what);
        continue;
      }
      const step = unstuffer.step(chunk, this.#head);
      this.#advance(step.consumed);
      if (step.data) return step.data;
      if (step.done) return null;
    }
  }

  /** Position (relative to the read head) of the first LF at or after `from`, or -1; scans < limit. */
  #findLf(from: number, limit: number): number {
    let base = 0;
    for (let c = 0; c < this.#chunks.length && base < limit; c += 1) {
      const chunk = this.#chunks[c] as Buffer;
      const offset = c === 0 ? this.#head : 0;
      const len = chunk.length - offset;
      if (from < base + len) {
        const at = chunk.indexOf(LF, offset + Math.max(0, from - base));
        if (at !== -1) {
          const pos = base + at - offset;
          return pos < limit ? pos : -1;
        }
      }
      base += len;
    }
    return -1;
  }

  #take(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.#advance(n);
      return out;
    }
    const parts: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const chunk = this.#chunks[0] as Buffer;
      const take = Math.min(left, chunk.length - this.#head);
      parts.push(chunk.subarray(this.#head, this.#head + take));
      this.#advance(take);
      left -= take;
    }
    return Buffer.concat(parts, n);
  }

  #advance(n: number): void {
    this.#buffered -= n;
    this.#head += n;
    while (this.#chunks.length > 0 && this.#head >= (this.#chunks[0] as Buffer).length) {
      this.#head -= (this.#chunks[0] as Buffer).length;
      this.#chunks.shift();
    }
    if (this.#paused && this.#buffered < READ_HIGH_WATER_OCTETS / 2) {
      this.#paused = false;
      this.#socket?.resume();
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  /** Waits for more bytes, the end of the stream, a failure, or the idle timeout. */
  async #fill(timeoutMs: number, what: string): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#ended) {
      throw new Pop3ProtocolError(
        'UNEXPECTED_EOF',
        `the server closed the connection while a ${what} was expected`,
      );
    }
    if (this.#paused) {
      this.#paused = false;
      this.#socket?.resume();
    }
    // Woken by bytes, the end, or a failure: the caller looks for what it needs and, short of it, calls
    // again, and the checks above report a failure before the end.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.fail(this.#onIdle(timeoutMs, what));
      }, timeoutMs);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
