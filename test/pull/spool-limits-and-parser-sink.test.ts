import { once } from 'node:events';
import { mkdtemp, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessageMetadata } from '../../functions/core/archive/ports.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import {
  type MessageParser,
  SpoolDiskBudget,
  SpoolLimitError,
  type SpoolOptions,
  spoolMessage,
} from '../../functions/core/pull/message-spool.js';
import type { MessageText } from '../../functions/core/search/search-ports.js';

let directory = '';
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'popvault-spool-test-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

function body(...chunks: string[]): Readable {
  return Readable.from(chunks.map((chunk) => Buffer.from(chunk)));
}

function options(extra: Partial<SpoolOptions> = {}): SpoolOptions {
  return { directory, memoryLimitOctets: 1024, parser: createMessageParser(), ...extra };
}

/** A parser double around a given sink: only the sink's behaviour matters to the spool. */
function parserWith(sink: Writable): MessageParser {
  return {
    sink,
    metadata: Promise.resolve({} as MessageMetadata),
    text: Promise.resolve({} as MessageText),
  };
}

/** How many of this process's descriptors are open on a path (Linux /proc). */
async function descriptorsOn(path: string): Promise<number> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(
    fds.map((fd) => readlink(join('/proc/self/fd', fd)).catch(() => '')),
  );
  return targets.filter((target) => target === path).length;
}

async function refusal(promise: Promise<unknown>): Promise<SpoolLimitError> {
  const error = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(SpoolLimitError);
  return error as SpoolLimitError;
}

describe('spool limits: the exact edges and what the refusal says', () => {
  it('a message of exactly maxOctets is kept; one octet more is refused, naming the limit', async () => {
    const kept = await spoolMessage(body('12345', '67890'), options({ maxOctets: 10 }));
    expect(kept.octets).toBe(10);
    const error = await refusal(spoolMessage(body('12345', '678901'), options({ maxOctets: 10 })));
    expect(error.name).toBe('SpoolLimitError');
    expect(error.code).toBe('MESSAGE_TOO_LARGE');
    expect(error.message).toContain('more than 10 octets, its limit');
    expect(error.drained).toBe(true);
  });

  it('a server sending exactly up to the drain limit is drained; past it, reading stops and says so', async () => {
    const limits = { maxOctets: 10, drainLimitOctets: 20 };
    const drained = await refusal(
      spoolMessage(body('x'.repeat(11), 'y'.repeat(9)), options(limits)),
    );
    expect(drained.drained).toBe(true);
    const cut = await refusal(spoolMessage(body('x'.repeat(11), 'y'.repeat(10)), options(limits)));
    expect(cut.drained).toBe(false);
    expect(cut.octets).toBe(21);
    expect(cut.message).toContain('the server kept sending past 20 octets');
  });

  it('a message of exactly memoryLimitOctets stays in memory; a larger one goes to a spool file', async () => {
    const small = await spoolMessage(body('x'.repeat(16)), options({ memoryLimitOctets: 16 }));
    expect(small.source.kind).toBe('buffer');
    const large = await spoolMessage(body('x'.repeat(17)), options({ memoryLimitOctets: 16 }));
    expect(large.source).toMatchObject({ kind: 'file' });
    await large.cleanup();
  });
});

describe('spool disk budget: a run never passes its cap', () => {
  it('a message filling the cap exactly is spooled; one larger than the cap is refused as SPOOL_FULL, naming the cap', async () => {
    const fits = new SpoolDiskBudget(32);
    const spooled = await spoolMessage(
      body('x'.repeat(20), 'y'.repeat(12)),
      options({ memoryLimitOctets: 8, disk: fits }),
    );
    expect(fits.used).toBe(32);
    await spooled.cleanup();
    expect(fits.used).toBe(0);

    const full = new SpoolDiskBudget(32);
    const error = await refusal(
      spoolMessage(
        body('x'.repeat(20), 'y'.repeat(13)),
        options({ memoryLimitOctets: 8, disk: full }),
      ),
    );
    expect(error.code).toBe('SPOOL_FULL');
    expect(error.drained).toBe(true);
    expect(error.message).toContain('pass the 32-octet spool disk cap');
    expect(full.used).toBe(0);
  });

  it('held chunks that pass the cap when moved to disk are refused as SPOOL_FULL, and give their budget back', async () => {
    const disk = new SpoolDiskBudget(6);
    // Held in memory: 8 then 2 octets; the third chunk moves them to a file, and the 8 already pass the cap.
    const error = await refusal(
      spoolMessage(body('a'.repeat(8), 'bb', 'c'), options({ memoryLimitOctets: 10, disk })),
    );
    expect(error.code).toBe('SPOOL_FULL');
    expect(disk.used).toBe(0);
  });

  it('a spool file without a disk budget is written and cleaned up', async () => {
    const spooled = await spoolMessage(body('x'.repeat(40)), options({ memoryLimitOctets: 8 }));
    expect(spooled.source.kind).toBe('file');
    await expect(spooled.cleanup()).resolves.toBeUndefined();
  });

  it('cleanup succeeds when the spool file was already removed (a /tmp cleaner), and again after that', async () => {
    const spooled = await spoolMessage(body('x'.repeat(40)), options({ memoryLimitOctets: 8 }));
    if (spooled.source.kind !== 'file') throw new Error('expected a spool file');
    expect((await stat(spooled.source.path)).size).toBe(40);
    await rm(spooled.source.path);
    await expect(spooled.cleanup()).resolves.toBeUndefined();
    await expect(spooled.cleanup()).resolves.toBeUndefined();
  });
});

describe('spool and parser sink: the parser gets every octet, with backpressure, and cannot stall or crash a pull', () => {
  it('the parser is fed exactly the message octets, and a slow parser is never queued past one write', async () => {
    const seen: Buffer[] = [];
    let queuedAtWrite = 0;
    const sink = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, done) {
        seen.push(chunk);
        setImmediate(done);
      },
    });
    const write = sink.write.bind(sink);
    sink.write = ((chunk: Buffer) => {
      queuedAtWrite = Math.max(queuedAtWrite, sink.writableLength);
      return write(chunk);
    }) as typeof sink.write;
    const spooled = await spoolMessage(
      body('Subject: a\r\n', '\r\n', 'body\r\n'),
      options({ parser: parserWith(sink) }),
    );
    expect(Buffer.concat(seen).toString()).toBe('Subject: a\r\n\r\nbody\r\n');
    expect(spooled.octets).toBe(20);
    expect(queuedAtWrite).toBe(0);
    for (const event of ['drain', 'close'] as const) expect(sink.listenerCount(event)).toBe(0);
    // The spool's own no-op error listener stays; the wait for drain leaves none behind.
    expect(sink.listenerCount('error')).toBe(1);
  });

  it('a parser that destroys its own sink mid-message does not stall the spool, and the bytes are kept', async () => {
    const sink = new Writable({
      write(_chunk, _encoding, done) {
        this.destroy();
        done();
      },
    });
    const spooled = await spoolMessage(
      body('one\r\n', 'two\r\n'),
      options({ parser: parserWith(sink) }),
    );
    expect(spooled.source.kind === 'buffer' && spooled.source.data.toString()).toBe(
      'one\r\ntwo\r\n',
    );
  });

  it('a slow parser closed while the spool waits for it releases the spool', async () => {
    const sink = new Writable({
      highWaterMark: 1,
      write() {
        setImmediate(() => this.destroy());
      },
    });
    const spooled = await spoolMessage(
      body('one\r\n', 'two\r\n'),
      options({ parser: parserWith(sink) }),
    );
    expect(spooled.octets).toBe(10);
  });

  it('a slow parser failing (error, no close) while the spool waits for it releases the spool and the bytes are kept', async () => {
    const sink = new Writable({
      highWaterMark: 1,
      emitClose: false,
      write(_chunk, _encoding, done) {
        setImmediate(() => done(new Error('parser broke')));
      },
    });
    const spooled = await spoolMessage(
      body('one\r\n', 'two\r\n'),
      options({ parser: parserWith(sink) }),
    );
    expect(spooled.source.kind === 'buffer' && spooled.source.data.toString()).toBe(
      'one\r\ntwo\r\n',
    );
  });

  it('a message stopped at its limit frees the parser at once, while the rest is still being drained', async () => {
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    const input = new PassThrough();
    const spooling = refusal(
      spoolMessage(input, options({ parser: parserWith(sink), maxOctets: 4 })),
    );
    input.write('0123456789');
    await once(sink, 'close');
    input.end('more');
    expect((await spooling).drained).toBe(true);
  });

  it('a spool file is closed once the message is whole, before the upload or cleanup', async () => {
    const spooled = await spoolMessage(body('x'.repeat(40)), options({ memoryLimitOctets: 8 }));
    if (spooled.source.kind !== 'file') throw new Error('expected a spool file');
    expect(await descriptorsOn(spooled.source.path)).toBe(0);
    await spooled.cleanup();
  });
});
