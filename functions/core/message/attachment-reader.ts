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
    let output: Readable | null = null;
    let decoder: TransferDecoder | null = null;
    /** The target has ended, or reading failed: nothing more is read. */
    let finished = false;
    let seen = 0;
    let fed = 0;
    let wanted = true;
    let inputEnded = false;
    let pending: Buffer | null = null;
    let pumping = false;

    const fail = (reason: string, cause?: unknown) => {
      if (finished) return;
      finished = true;
      raw.destroy();
      const error = new Error(reason, { cause });
      if (output === null) reject(error);
      else output.destroy(error);
    };

    const listener: ScanListener = {
      partStart(part: MimePart) {
        if (part.role !== 'attachment') return;
        if (seen++ !== position) return;
        const target = new Readable({
          read() {
            wanted = true;
            pump();
          },
          destroy(error, callback) {
            // The client went away, or what read on from here failed: stop reading the message.
            finished = true;
            raw.destroy();
            callback(error);
          },
        });
        output = target;
        decoder = createTransferDecoder(part.transferEncoding, (octets) => {
          // Copied: the decoder's views are valid only during this call.
          if (!target.push(Buffer.from(octets))) wanted = false;
        });
        resolve(target);
      },
      partBody(octets: Buffer) {
        decoder?.write(octets);
      },
      partEnd() {
        if (decoder === null || output === null) return;
        decoder.end();
        decoder = null;
        finished = true;
        output.push(null);
        // Nothing after the target is of use.
        raw.destroy();
      },
    };
    const scanner = new MimeScanner(listener);

    const scan = (slice: Buffer): void => {
      fed += slice.length;
      // The parser listed this attachment only if it ended within the parse limit.
      if (fed > MAX_PARSED_OCTETS) {
        fail('the attachment lies beyond the parse limits');
        return;
      }
      try {
        scanner.write(slice);
      } catch (err) {
        fail(
          `the stored message no longer parses: ${err instanceof Error ? err.message : err}`,
          err,
        );
      }
    };

    const endOfInput = (): void => {
      try {
        scanner.end();
      } catch (err) {
        fail(
          `the stored message no longer parses: ${err instanceof Error ? err.message : err}`,
          err,
        );
        return;
      }
      if (!finished) fail(`the message yields ${seen} attachments, not ${position + 1}`);
    };

    const pump = (): void => {
      if (pumping) return;
      pumping = true;
      try {
        while (!finished && (output === null || wanted)) {
          if (pending === null) {
            pending = raw.read() as Buffer | null;
            if (pending === null) {
              if (inputEnded) endOfInput();
              return;
            }
          }
          const slice: Buffer = pending.subarray(0, SCAN_SLICE_OCTETS);
          pending = pending.length > slice.length ? pending.subarray(slice.length) : null;
          scan(slice);
        }
      } finally {
        pumping = false;
      }
    };

    raw.on('readable', pump);
    raw.once('end', () => {
      inputEnded = true;
      pump();
    });
    raw.once('error', (err) => fail(`reading the stored message failed: ${err.message}`, err));
  });
}
