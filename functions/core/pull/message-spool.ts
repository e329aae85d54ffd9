import { createHash, randomUUID } from 'node:crypto';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { MessageMetadata, RawSource } from '../archive/ports.js';
import { PopvaultError } from '../errors/popvault-error.js';
import type { MessageParser } from '../message/message-parser.js';
import type { MessageText } from '../search/search-ports.js';

export type { MessageParser };

export interface SpooledMessage {
  sha256: string;
  /** Octets actually received (LIST sizes can be off; this is what was stored). */
  octets: number;
  /** LF octets received: what a server counting one octet per line end would have left out of LIST. */
  lineEnds: number;
  source: RawSource;
  metadata: Promise<MessageMetadata>;
  /** The text the parser kept for the search index, read in the same pass (never a second read). */
  text: Promise<MessageText>;
  /** Removes the spool file, if any. Safe to call more than once. */
  cleanup(): Promise<void>;
}

export interface SpoolOptions {
  directory: string;
  /** Messages up to this size stay in memory; larger ones go to a file so memory stays bounded. */
  memoryLimitOctets: number;
  parser: MessageParser;
  /**
   * Most octets this message may have, counted as they arrive (a server's LIST size is not
   * trusted). Past it nothing more is kept; the rest of the body is read and dropped, up to
   * `drainLimitOctets` in all, so the session stays in step.
   */
  maxOctets?: number;
  /** Past this many octets in all, reading stops: the session cannot be kept in step. */
  drainLimitOctets?: number;
  /** Disk all spool files of a run may use together, checked as each chunk is written. */
  disk?: SpoolDiskBudget;
}

/** The spool directory's share of the disk (a Lambda's /tmp), shared by one run's spool files. */
export class SpoolDiskBudget {
  used = 0;
  constructor(readonly capOctets: number) {}
}

export type SpoolLimitCode = 'MESSAGE_TOO_LARGE' | 'SPOOL_FULL';

/**
 * A message stopped at a limit while it arrived. `drained`: the rest of its body was read and
 * dropped, so the session can go on; otherwise it must be dropped without QUIT.
 */
export class SpoolLimitError extends PopvaultError {
  override name = 'SpoolLimitError';
  declare readonly code: SpoolLimitCode;
  constructor(
    code: SpoolLimitCode,
    message: string,
    readonly drained: boolean,
    readonly octets: number,
  ) {
    super(code, message);
  }
}

const LF = 0x0a;

function countLineFeeds(chunk: Buffer): number {
  let count = 0;
  for (let at = chunk.indexOf(LF); at !== -1; at = chunk.indexOf(LF, at + 1)) count += 1;
  return count;
}

function writeToSink(sink: Writable, chunk: Buffer): Promise<void> | null {
  if (sink.destroyed || sink.writableEnded) return null;
  if (sink.write(chunk)) return null;
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off('drain', done);
      sink.off('close', done);
      sink.off('error', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
    sink.on('error', done);
  });
}

interface LimitStop {
  code: SpoolLimitCode;
  why: string;
}

/**
 * Where one message's octets are kept while it arrives: in memory up to the memory limit, then in a
 * spool file counted against the run's disk budget.
 */
class SpoolStore {
  readonly #options: SpoolOptions;
  readonly #onStop: () => void;
  readonly #chunks: Buffer[] = [];
  #file: FileHandle | null = null;
  #path: string | null = null;
  #onDisk = 0;
  /** The limit that stopped the message, if one did: nothing more is kept. */
  stopped: LimitStop | null = null;

  constructor(options: SpoolOptions, onStop: () => void) {
    this.#options = options;
    this.#onStop = onStop;
  }

  /** Keeps a chunk; `octets` is the message's size so far, this chunk included. */
  async keep(chunk: Buffer, octets: number): Promise<void> {
    if (this.#file === null && octets > this.#options.memoryLimitOctets) {
      this.#path = join(this.#options.directory, `popvault-spool-${randomUUID()}.eml`);
      const file = await open(this.#path, 'wx', 0o600);
      this.#file = file;
      for (const held of this.#chunks) await this.#writeCounted(file, held);
      this.#chunks.length = 0;
    }
    if (this.#file !== null) await this.#writeCounted(this.#file, chunk);
    // Socket chunks are fresh buffers nobody reuses; Buffer.concat in source() makes the one copy.
    else if (this.stopped === null) this.#chunks.push(chunk);
  }

  async stop(code: SpoolLimitCode, why: string): Promise<void> {
    this.stopped = { code, why };
    this.#onStop();
    this.#chunks.length = 0;
    await this.cleanup();
  }

  /** The message is whole: the spool file, if any, is closed for the upload to read. */
  async close(): Promise<void> {
    await this.#file?.close();
    this.#file = null;
  }

  source(octets: number): RawSource {
    return this.#path === null
      ? { kind: 'buffer', data: Buffer.concat(this.#chunks, octets) }
      : { kind: 'file', path: this.#path };
  }

  /** Removes the spool file, if any. Safe to call more than once. */
  readonly cleanup = async (): Promise<void> => {
    await this.#file?.close().catch(() => {});
    this.#file = null;
    if (this.#path !== null) await rm(this.#path, { force: true });
    this.#path = null;
    if (this.#options.disk) this.#options.disk.used -= this.#onDisk;
    this.#onDisk = 0;
  };

  async #writeCounted(handle: FileHandle, data: Buffer): Promise<void> {
    if (this.stopped !== null) return;
    const disk = this.#options.disk;
    if (disk && disk.used + data.length > disk.capOctets) {
      await this.stop(
        'SPOOL_FULL',
        `spooling the message would pass the ${disk.capOctets}-octet spool disk cap; it stays on the server (raise the cap or lower the message size limit)`,
      );
      return;
    }
    if (disk) disk.used += data.length;
    this.#onDisk += data.length;
    await handle.write(data);
  }
}

/**
 * Reads one message body to its end in a single pass: hashes it, counts it, keeps it (in memory or in a
 * spool file) for the upload, and feeds the parser. The POP3 session is freed for the next message as
 * soon as this returns; the upload then runs from the spool while retrieval continues.
 */
export async function spoolMessage(body: Readable, options: SpoolOptions): Promise<SpooledMessage> {
  const hash = createHash('sha256');
  const parser = options.parser;
  // A parser is untrusted with untrusted input: if it breaks, the bytes are archived all the same.
  parser.sink.on('error', () => {});
  const store = new SpoolStore(options, () => parser.sink.destroy());
  let octets = 0;
  let lineEnds = 0;
  const maxOctets = options.maxOctets ?? Number.POSITIVE_INFINITY;
  const drainLimit = options.drainLimitOctets ?? Number.POSITIVE_INFINITY;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      octets += chunk.length;
      const { stopped } = store;
      if (stopped !== null) {
        if (octets > drainLimit) {
          const { code, why } = stopped;
          throw new SpoolLimitError(
            code,
            `${why}; the server kept sending past ${drainLimit} octets`,
            false,
            octets,
          );
        }
        continue;
      }
      if (octets > maxOctets) {
        await store.stop(
          'MESSAGE_TOO_LARGE',
          `the message sent more than ${maxOctets} octets, its limit`,
        );
        continue;
      }
      hash.update(chunk);
      lineEnds += countLineFeeds(chunk);
      const parsed = writeToSink(parser.sink, chunk);
      await store.keep(chunk, octets);
      if (parsed) await parsed;
    }
    if (store.stopped !== null) {
      throw new SpoolLimitError(store.stopped.code, store.stopped.why, true, octets);
    }
    parser.sink.end();
    await store.close();
  } catch (err) {
    parser.sink.destroy();
    await store.cleanup();
    throw err;
  }
  return {
    sha256: hash.digest('hex'),
    octets,
    lineEnds,
    source: store.source(octets),
    metadata: parser.metadata,
    text: parser.text,
    cleanup: store.cleanup,
  };
}
