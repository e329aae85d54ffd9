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
  const chunks: Buffer[] = [];
  let octets = 0;
  let lineEnds = 0;
  let file: FileHandle | null = null;
  let path: string | null = null;
  let onDisk = 0;
  const disk = options.disk;
  const maxOctets = options.maxOctets ?? Number.POSITIVE_INFINITY;
  const drainLimit = options.drainLimitOctets ?? Number.POSITIVE_INFINITY;
  const cleanup = async (): Promise<void> => {
    await file?.close().catch(() => {});
    file = null;
    if (path !== null) await rm(path, { force: true });
    path = null;
    if (disk) disk.used -= onDisk;
    onDisk = 0;
  };
  // A property, not a `let`: set from writeCounted too, which flow analysis would not see.
  const limit: { stopped: { code: SpoolLimitCode; why: string } | null } = { stopped: null };
  const stop = async (code: SpoolLimitCode, why: string): Promise<void> => {
    limit.stopped = { code, why };
    parser.sink.destroy();
    chunks.length = 0;
    await cleanup();
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      octets += chunk.length;
      const { stopped } = limit;
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
        await stop(
          'MESSAGE_TOO_LARGE',
          `the message sent more than ${maxOctets} octets, its limit`,
        );
        continue;
      }
      hash.update(chunk);
      lineEnds += countLineFeeds(chunk);
      const parsed = writeToSink(parser.sink, chunk);
      if (file === null && octets > options.memoryLimitOctets) {
        path = join(options.directory, `popvault-spool-${randomUUID()}.eml`);
        file = await open(path, 'wx', 0o600);
        for (const held of chunks) await writeCounted(file, held);
        chunks.length = 0;
      }
      if (file !== null) await writeCounted(file, chunk);
      // Socket chunks are fresh buffers nobody reuses; Buffer.concat below makes the one copy.
      else if (limit.stopped === null) chunks.push(chunk);
      if (parsed) await parsed;
    }
    if (limit.stopped !== null) {
      throw new SpoolLimitError(limit.stopped.code, limit.stopped.why, true, octets);
    }
    parser.sink.end();
    await file?.close();
    file = null;
  } catch (err) {
    parser.sink.destroy();
    await cleanup();
    throw err;
  }

  async function writeCounted(handle: FileHandle, data: Buffer): Promise<void> {
    if (limit.stopped !== null) return;
    if (disk && disk.used + data.length > disk.capOctets) {
      await stop(
        'SPOOL_FULL',
        `spooling the message would pass the ${disk.capOctets}-octet spool disk cap; it stays on the server (raise the cap or lower the message size limit)`,
      );
      return;
    }
    if (disk) disk.used += data.length;
    onDisk += data.length;
    await handle.write(data);
  }
  const source: RawSource =
    path === null
      ? { kind: 'buffer', data: Buffer.concat(chunks, octets) }
      : { kind: 'file', path };
  return {
    sha256: hash.digest('hex'),
    octets,
    lineEnds,
    source,
    metadata: parser.metadata,
    text: parser.text,
    cleanup,
  };
}
