/**
 * One attachment read back out of a stored raw message: the `position`-th in the order the message
 * parser lists them. It runs the same scanner, the same part rules and the same transfer decoders as
 * message-parser.ts, so the numbering and the decoded octets (hence the recorded size and hash) agree
 * by construction; the parser's list is a prefix of this sequence (it stops listing at a limit, never
 * skips one).
 *
 * Memory stays bounded like the parser's: the attachments before the target are scanned past without
 * being decoded, the target's decoded octets are pushed with backpressure (the stored message is read
 * only as fast as the target is consumed), and reading stops once the target has ended.
 */
import { Readable } from 'node:stream';
import { MAX_PARSED_OCTETS } from './message-limits.js';
import type { MimePart } from './mime-part.js';
import { MimeScanner, type ScanListener } from './mime-scanner.js';
import { createTransferDecoder, type TransferDecoder } from './transfer-decoders.js';

/**
 * Largest piece of the stored message scanned at once: a store may hand over the whole message as
 * one chunk, and backpressure can only hold the scan between pieces.
 */
const SCAN_SLICE_OCTETS = 64 * 1024;

/**
 * Resolves once the target's header block has been read, so that a message which no longer yields
 * it is a rejection, not a broken download; after that, failures error the returned stream. `raw` is
 * destroyed once it is of no more use (the target has ended, the reader failed, or the returned
 * stream was destroyed).
 */
export function readAttachment(raw: Readable, position: number): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const reading = new AttachmentReading(raw, position, resolve, reject);
    raw.on('readable', () => reading.pump());
    raw.once('end', () => reading.inputEnded());
    raw.once('error', (err) =>
      reading.fail(`reading the stored message failed: ${err.message}`, err),
    );
  });
}

/** One readAttachment call: the scan of `raw`, and the target's stream once it is found. */
class AttachmentReading implements ScanListener {
  readonly #raw: Readable;
  readonly #position: number;
  readonly #resolve: (target: Readable) => void;
  readonly #reject: (error: Error) => void;
  readonly #scanner: MimeScanner;
  #output: Readable | null = null;
  #decoder: TransferDecoder | null = null;
  /** The target has ended, or reading failed: nothing more is read. */
  #finished = false;
  #seen = 0;
  #fed = 0;
  #wanted = true;
  #inputEnded = false;
  #pending: Buffer | null = null;
  #pumping = false;

  constructor(
    raw: Readable,
    position: number,
    resolve: (target: Readable) => void,
    reject: (error: Error) => void,
  ) {
    this.#raw = raw;
    this.#position = position;
    this.#resolve = resolve;
    this.#reject = reject;
    this.#scanner = new MimeScanner(this);
  }

  partStart(part: MimePart): void {
    if (part.role !== 'attachment') return;
    if (this.#seen++ !== this.#position) return;
    const target = new Readable({
      read: () => {
        this.#wanted = true;
        this.pump();
      },
      destroy: (error, callback) => {
        // The client went away, or what read on from here failed: stop reading the message.
        this.#finished = true;
        this.#raw.destroy();
        callback(error);
      },
    });
    this.#output = target;
    this.#decoder = createTransferDecoder(part.transferEncoding, (octets) => {
      // Copied: the decoder's views are valid only during this call.
      if (!target.push(Buffer.from(octets))) this.#wanted = false;
    });
    this.#resolve(target);
  }

  partBody(octets: Buffer): void {
    this.#decoder?.write(octets);
  }

  partEnd(): void {
    if (this.#decoder === null || this.#output === null) return;
    this.#decoder.end();
    this.#decoder = null;
    this.#finished = true;
    this.#output.push(null);
    // Nothing after the target is of use.
    this.#raw.destroy();
  }

  fail(reason: string, cause?: unknown): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#raw.destroy();
    const error = new Error(reason, { cause });
    if (this.#output === null) this.#reject(error);
    else this.#output.destroy(error);
  }

  inputEnded(): void {
    this.#inputEnded = true;
    this.pump();
  }

  pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#finished && (this.#output === null || this.#wanted)) {
        if (this.#pending === null) {
          this.#pending = this.#raw.read() as Buffer | null;
          if (this.#pending === null) {
            if (this.#inputEnded) this.#endOfInput();
            return;
          }
        }
        const slice: Buffer = this.#pending.subarray(0, SCAN_SLICE_OCTETS);
        this.#pending =
          this.#pending.length > slice.length ? this.#pending.subarray(slice.length) : null;
        this.#scan(slice);
      }
    } finally {
      this.#pumping = false;
    }
  }

  #scan(slice: Buffer): void {
    this.#fed += slice.length;
    // The parser listed this attachment only if it ended within the parse limit.
    if (this.#fed > MAX_PARSED_OCTETS) {
      this.fail('the attachment lies beyond the parse limits');
      return;
    }
    try {
      this.#scanner.write(slice);
    } catch (err) {
      this.fail(
        `the stored message no longer parses: ${err instanceof Error ? err.message : err}`,
        err,
      );
    }
  }

  #endOfInput(): void {
    try {
      this.#scanner.end();
    } catch (err) {
      this.fail(
        `the stored message no longer parses: ${err instanceof Error ? err.message : err}`,
        err,
      );
      return;
    }
    if (!this.#finished) {
      this.fail(`the message yields ${this.#seen} attachments, not ${this.#position + 1}`);
    }
  }
}
