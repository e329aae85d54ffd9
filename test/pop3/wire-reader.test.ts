/**
 * The receiving half of a POP3 connection on its own: line framing at the length limit, the end of
 * the stream (a close, a reset, a half-close), the hand-over of STLS, and backpressure towards a
 * server that sends faster than the archive stores. A PassThrough stands in for the socket where the
 * test must choose chunk boundaries to the octet; loopback TCP where the fault is the kernel's.
 */
import { once } from 'node:events';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { Pop3TimeoutError } from '../../functions/core/pop3/errors.js';
import { READ_HIGH_WATER_OCTETS as HIGH_WATER } from '../../functions/core/pop3/limits.js';
import { WireReader } from '../../functions/core/pop3/wire-reader.js';
import { expectPop3Error } from '../support/pop3-test-kit.js';

/** A mutant that makes the reader wait where it must not ends here, as TIMEOUT, not as a pass. */
const IDLE_MS = 3_000;

function newReader(): WireReader {
  return new WireReader(
    IDLE_MS,
    (ms, what) =>
      new Pop3TimeoutError('reply', `nothing for ${ms} ms while a ${what} was expected`),
  );
}

function attached(): { reader: WireReader; wire: PassThrough } {
  const reader = newReader();
  const wire = new PassThrough();
  reader.attach(wire);
  return { reader, wire };
}

/** Lets the stream deliver what was written: PassThrough emits 'data' on a later tick, not in write(). */
function delivered(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** HIGH_WATER octets as 1024-octet lines, so every line read frees exactly 1024. */
const LINE = `${'x'.repeat(1022)}\r\n`;
const FLOOD = LINE.repeat(HIGH_WATER / LINE.length);

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A loopback TCP pair: the server's end of the accepted connection, and the client socket. */
async function tcpPair(
  clientOptions: { allowHalfOpen?: boolean } = {},
): Promise<{ server: net.Socket; client: net.Socket }> {
  const listener = net.createServer();
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const { port } = listener.address() as net.AddressInfo;
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '127.0.0.1', port, ...clientOptions });
  const [server] = await accepted;
  await once(client, 'connect');
  server.on('error', () => {});
  cleanups.push(() => {
    client.destroy();
    server.destroy();
    listener.close();
  });
  return { server, client };
}

describe('line framing', () => {
  it('a status line ending in a bare LF keeps its last character; CRLF split across chunks is one line end', async () => {
    const { reader, wire } = attached();
    wire.write('+OK\n+OK split\r');
    expect((await reader.readLine(512, 'status line')).toString()).toBe('+OK');
    const split = reader.readLine(512, 'status line');
    await delivered();
    wire.write('\n');
    expect((await split).toString()).toBe('+OK split');
  });

  it('an empty line (CRLF alone) is read as empty, its CR removed with the LF', async () => {
    const { reader, wire } = attached();
    wire.write('\r\n');
    expect((await reader.readLine(512, 'line')).length).toBe(0);
  });

  it('a line end at the start of the next of several buffered chunks is found', async () => {
    const { reader, wire } = attached();
    wire.write('+OK hello');
    await delivered();
    wire.write('\r\n+OK second\r\n');
    await delivered();
    expect((await reader.readLine(512, 'status line')).toString()).toBe('+OK hello');
    expect((await reader.readLine(512, 'status line')).toString()).toBe('+OK second');
  });

  it('a line of exactly the limit, CRLF included, is read; one octet more is refused in the same chunk', async () => {
    const exact = attached();
    exact.wire.write(`${'x'.repeat(14)}\r\n`);
    expect((await exact.reader.readLine(16, 'status line')).toString()).toBe('x'.repeat(14));

    const over = attached();
    over.wire.write(`${'x'.repeat(15)}\r\n`);
    const err = await expectPop3Error(
      over.reader.readLine(16, 'status line'),
      'PROTOCOL_VIOLATION',
    );
    expect(err.message).toContain('status line longer than 16 octets');
  });

  it('a hostile server that sends the limit without a line end is refused at once, not waited for', async () => {
    const { reader, wire } = attached();
    wire.write('x'.repeat(16));
    await expectPop3Error(reader.readLine(16, 'status line'), 'PROTOCOL_VIOLATION');
  });

  it('a line longer than the read high-water mark (allowed by its caller) resumes the paused socket instead of deadlocking', async () => {
    const { reader, wire } = attached();
    wire.write(Buffer.alloc(HIGH_WATER, 0x78));
    await delivered();
    expect(wire.isPaused()).toBe(true);
    const line = reader.readLine(4 * HIGH_WATER, 'long line');
    await delivered();
    expect(wire.isPaused()).toBe(false);
    // Resumed for this line only: a flood behind its end is held back again.
    wire.write(`\r\n${FLOOD}`);
    expect((await line).length).toBe(HIGH_WATER);
    expect(reader.buffered).toBe(HIGH_WATER);
    expect(wire.isPaused()).toBe(true);
  });
  it('a reader still over its high-water mark keeps the socket it is handed at STLS paused', async () => {
    const { reader, wire } = attached();
    wire.write(Buffer.alloc(HIGH_WATER, 0x78));
    await delivered();
    expect(wire.isPaused()).toBe(true);
    reader.detach();
    const secured = new PassThrough();
    reader.attach(secured);
    expect(secured.isPaused()).toBe(true);
  });

  it('a long read waiting on a paused socket outlives the STLS hand-over of that socket', async () => {
    const { reader, wire } = attached();
    wire.write(Buffer.alloc(HIGH_WATER, 0x78));
    await delivered();
    expect(wire.isPaused()).toBe(true);
    reader.detach();
    const line = reader.readLine(4 * HIGH_WATER, 'long line');
    const secured = new PassThrough();
    reader.attach(secured);
    secured.write('\r\n');
    expect((await line).length).toBe(HIGH_WATER);
  });
});

describe('the end of the stream', () => {
  it('a socket that closes without an end (destroyed, not half-closed) ends a pending read as UNEXPECTED_EOF', async () => {
    const { reader, wire } = attached();
    const pending = reader.readLine(512, 'NOOP status line');
    wire.destroy();
    const err = await expectPop3Error(pending, 'UNEXPECTED_EOF');
    expect(err.message).toBe(
      'the server closed the connection while a NOOP status line was expected',
    );
  });

  it('a server that closes while a reply is expected: UNEXPECTED_EOF naming what was expected, for that read and every later one', async () => {
    const { reader, wire } = attached();
    const pending = reader.readLine(512, 'RETR status line');
    wire.end();
    const err = await expectPop3Error(pending, 'UNEXPECTED_EOF');
    expect(err.message).toBe(
      'the server closed the connection while a RETR status line was expected',
    );
    const later = await expectPop3Error(reader.readLine(512, 'QUIT status line'), 'UNEXPECTED_EOF');
    expect(later.message).toBe(
      'the server closed the connection while a QUIT status line was expected',
    );
  });

  it('the last reply arriving together with the close is still read', async () => {
    const { reader, wire } = attached();
    const pending = reader.readLine(512, 'QUIT status line');
    wire.end('+OK bye\r\n');
    expect((await pending).toString()).toBe('+OK bye');
  });

  it("a server's FIN ends the read at once even while this side is still open (half-open socket)", async () => {
    const { server, client } = await tcpPair({ allowHalfOpen: true });
    const reader = newReader();
    reader.attach(client);
    const pending = reader.readLine(512, 'STAT status line');
    server.end();
    await expectPop3Error(pending, 'UNEXPECTED_EOF');
  });

  it('a server that resets the connection: the error names the reset, for this read and every later one', async () => {
    const { server, client } = await tcpPair();
    const reader = newReader();
    reader.attach(client);
    const pending = reader.readLine(512, 'RETR status line');
    server.resetAndDestroy();
    const err = await expectPop3Error(pending, 'UNEXPECTED_EOF');
    expect(err.message).toBe('connection to the POP3 server failed: read ECONNRESET');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ECONNRESET');
    // Pipelined commands behind it read on: they must report the reset too, not a plain close.
    expect(await reader.readLine(512, 'DELE status line').catch((later: unknown) => later)).toBe(
      err,
    );
  });

  it('the first failure wins: the teardown a fault causes does not replace the fault', async () => {
    const { reader } = attached();
    const cause = new Error('the cause');
    reader.fail(cause);
    reader.fail(new Error('the teardown'));
    await expect(reader.readLine(512, 'status line')).rejects.toBe(cause);
  });
});

describe('STLS hand-over', () => {
  it('after detach, the cleartext socket can no longer feed, end or fail the reader', async () => {
    const reader = newReader();
    // Not auto-destroyed at its end, so that it can still fail afterwards, as a socket can.
    const cleartext = new PassThrough({ autoDestroy: false });
    reader.attach(cleartext);
    expect(reader.detach()).toBe(0);
    const secured = new PassThrough();
    reader.attach(secured);
    const pending = reader.readLine(512, 'CAPA status line');
    cleartext.write('+OK injected in cleartext\r\n');
    cleartext.end();
    await once(cleartext, 'end');
    const closed = new Promise((resolve) => cleartext.once('close', resolve));
    cleartext.destroy(new Error('the cleartext socket failed after the hand-over'));
    await closed;
    secured.write('+OK over TLS\r\n');
    expect((await pending).toString()).toBe('+OK over TLS');
  });

  it('a read started after the detached socket closed with an error still reads the new socket', async () => {
    const { reader, wire: cleartext } = attached();
    reader.detach();
    const secured = new PassThrough();
    reader.attach(secured);
    const closed = new Promise((resolve) => cleartext.once('close', resolve));
    cleartext.destroy(new Error('the cleartext socket failed after the hand-over'));
    await closed;
    const pending = reader.readLine(512, 'CAPA status line');
    secured.write('+OK over TLS\r\n');
    expect((await pending).toString()).toBe('+OK over TLS');
  });

  it('detach reports the octets still unread, and a second detach (teardown after a refused STLS) is harmless', async () => {
    const { reader, wire } = attached();
    wire.write('+OK begin TLS\r\n+OK injected');
    await reader.readLine(512, 'STLS status line');
    expect(reader.detach()).toBe('+OK injected'.length);
    expect(reader.detach()).toBe('+OK injected'.length);
  });

  it('octets that arrive before the first read are taken in (and so counted by detach)', async () => {
    const { reader, wire } = attached();
    wire.write('+OK ready\r\n');
    await delivered();
    expect(reader.buffered).toBe('+OK ready\r\n'.length);
  });

  it('a read started before the socket is attached waits for it', async () => {
    const reader = newReader();
    const pending = reader.readLine(512, 'greeting status line');
    const wire = new PassThrough();
    reader.attach(wire);
    wire.write('+OK ready\r\n');
    expect((await pending).toString()).toBe('+OK ready');
  });
});

describe('backpressure towards a fast server', () => {
  async function readLines(reader: WireReader, n: number): Promise<void> {
    for (let i = 0; i < n; i += 1) await reader.readLine(2048, 'listing line');
  }

  it('a small reply does not pause the socket', async () => {
    const { reader, wire } = attached();
    wire.write('+OK\r\n');
    await delivered();
    expect(reader.buffered).toBe(5);
    expect(wire.isPaused()).toBe(false);
  });

  it('pauses at the high-water mark exactly, stays paused until half of it is read, then resumes, and pauses again on the next flood', async () => {
    const { reader, wire } = attached();
    wire.write(FLOOD);
    await delivered();
    expect(reader.buffered).toBe(HIGH_WATER);
    expect(wire.isPaused()).toBe(true);
    await readLines(reader, 1);
    expect(wire.isPaused()).toBe(true);
    await readLines(reader, 511);
    expect(reader.buffered).toBe(HIGH_WATER / 2);
    expect(wire.isPaused()).toBe(true);
    await readLines(reader, 1);
    expect(wire.isPaused()).toBe(false);
    wire.write(FLOOD);
    await delivered();
    expect(wire.isPaused()).toBe(true);
  });

  it('what was buffered before the socket was let go stays readable after detach', async () => {
    const { reader, wire } = attached();
    wire.write(FLOOD);
    await delivered();
    reader.detach();
    await readLines(reader, HIGH_WATER / LINE.length);
    expect(reader.buffered).toBe(0);
  });
});
