import { createHash, randomUUID } from 'node:crypto';
import { type FileHandle, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { MessageMetadata, RawSource } from '../archive/ports.js';
import type { MessageParser } from '../message/message-parser.js';

export type { MessageParser };

export interface SpooledMessage {
  sha256: string;
  /** Octets actually received (LIST sizes can be off; this is what was stored). */
  octets: number;
  /** LF octets received: what a server counting one octet per line end would have left out of LIST. */
  lineEnds: number;
  source: RawSource;
  metadata: Promise<MessageMetadata>;
  /** Removes the spool file, if any. Safe to call more than once. */
  cleanup(): Promise<void>;
}

export interface SpoolOptions {
  directory: string;
  /** Messages up to this size stay in memory; larger ones go to a file so memory stays bounded. */
  memoryLimitOctets: number;
  parser: MessageParser;
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
  const cleanup = async (): Promise<void> => {
    await file?.close().catch(() => {});
    file = null;
    if (path !== null) await rm(path, { force: true });
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      octets += chunk.length;
      lineEnds += countLineFeeds(chunk);
      const parsed = writeToSink(parser.sink, chunk);
      if (file === null && octets > options.memoryLimitOctets) {
        path = join(options.directory, `popvault-spool-${randomUUID()}.eml`);
        file = await open(path, 'wx', 0o600);
        for (const held of chunks) await file.write(held);
        chunks.length = 0;
      }
      if (file !== null) await file.write(chunk);
      // Socket chunks are fresh buffers nobody reuses; Buffer.concat below makes the one copy.
      else chunks.push(chunk);
      if (parsed) await parsed;
    }
    parser.sink.end();
    await file?.close();
    file = null;
  } catch (err) {
    parser.sink.destroy();
    await cleanup();
    throw err;
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
    cleanup,
  };
}
