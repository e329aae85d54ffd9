import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DotUnstuffer } from '../../functions/core/pop3/dot-unstuffer.js';
import { WireReader } from '../../functions/core/pop3/wire-reader.js';
import { chunkAt, stuffBody, withFinalCrlf } from '../support/dot-stuffing.js';

/** Bytes biased towards the ones that matter to the framing: ".", CR, LF. */
const framingBytes = fc
  .array(fc.oneof(fc.constantFrom(0x2e, 0x0d, 0x0a), fc.integer({ min: 0, max: 255 })), {
    maxLength: 600,
  })
  .map((bytes) => Buffer.from(bytes));

function decode(chunks: Buffer[]): { body: Buffer; rest: Buffer } {
  const unstuffer = new DotUnstuffer();
  const out: Buffer[] = [];
  const rest: Buffer[] = [];
  for (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length && !unstuffer.done) {
      const step = unstuffer.step(chunk, at);
      at += step.consumed;
      if (step.data) out.push(Buffer.from(step.data));
    }
    if (unstuffer.done) rest.push(chunk.subarray(at));
  }
  if (!unstuffer.done) throw new Error('terminator never recognised');
  return { body: Buffer.concat(out), rest: Buffer.concat(rest) };
}

function readerOver(): { reader: WireReader; socket: PassThrough } {
  const socket = new PassThrough();
  const reader = new WireReader(5_000, () => new Error('idle'));
  reader.attach(socket);
  return { reader, socket };
}

async function readAll(reader: WireReader): Promise<Buffer> {
  const unstuffer = new DotUnstuffer();
  const out: Buffer[] = [];
  for (
    let run = await reader.readBody(unstuffer, 'body');
    run;
    run = await reader.readBody(unstuffer, 'body')
  ) {
    out.push(Buffer.from(run));
  }
  return Buffer.concat(out);
}

describe('dot-unstuffing', () => {
  it('round-trips any content under any chunking: unstuff(stuff(x)) == x', () => {
    fc.assert(
      fc.property(
        framingBytes,
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 20 }),
        (content, sizes) => {
          const expected = withFinalCrlf(content);
          const next = Buffer.from('+OK next reply\r\n');
          const { body, rest } = decode(chunkAt(Buffer.concat([stuffBody(content), next]), sizes));
          expect(body.equals(expected)).toBe(true);
          expect(rest.equals(next)).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('finds the terminator split at every byte offset, through the socket reader', async () => {
    // A lone "." line, leading dots, ".\r" mid-line: every shape the terminator search must not confuse.
    const content = Buffer.from('.leading dot\r\n..two dots\r\n.\r\n.\rodd\r\nend.\r\n');
    const wire = Buffer.concat([stuffBody(content), Buffer.from('+OK after\r\n')]);
    for (let cut = 1; cut < wire.length; cut += 1) {
      const { reader, socket } = readerOver();
      socket.write(wire.subarray(0, cut));
      const pending = readAll(reader);
      socket.write(wire.subarray(cut));
      expect((await pending).equals(content)).toBe(true);
      expect((await reader.readLine(512, 'status')).toString()).toBe('+OK after');
    }
  });

  it('survives one byte per read', async () => {
    const content = Buffer.from('a\r\n.\r\n..\r\n\r\n.x\r\n');
    const wire = stuffBody(content);
    const { reader, socket } = readerOver();
    const pending = readAll(reader);
    for (const byte of wire) socket.write(Buffer.from([byte]));
    expect((await pending).equals(content)).toBe(true);
  });

  it('keeps bare LF and lone CR as data: a message with "\\n.\\n" inside is not cut short', () => {
    const content = Buffer.from('line\n.\nstill the same message\r.\r\n');
    const { body } = decode([stuffBody(content)]);
    expect(body.equals(withFinalCrlf(content))).toBe(true);
  });

  it('decodes an empty listing (status line followed directly by ".")', () => {
    const { body, rest } = decode([Buffer.from('.\r\n+OK')]);
    expect(body.length).toBe(0);
    expect(rest.toString()).toBe('+OK');
  });

  it('strips the first dot of an unstuffed ".x" line, as RFC 1939 s.3 says', () => {
    const { body } = decode([Buffer.from('.x\r\n.\r\n')]);
    expect(body.toString()).toBe('x\r\n');
  });

  it('never copies: data runs are views of the socket chunk', () => {
    const chunk = Buffer.from('hello\r\nworld\r\n.\r\n');
    const step = new DotUnstuffer().step(chunk, 0);
    expect(step.data?.buffer).toBe(chunk.buffer);
  });

  it('a server that did not stuff a ".\\r" line: the dot goes, the CR stays data, and nothing ends', () => {
    const wire = Buffer.from('.\rx\r\n.\r\n');
    for (let cut = 0; cut <= wire.length; cut += 1) {
      const { body } = decode([wire.subarray(0, cut), wire.subarray(cut)]);
      expect(body.toString('latin1')).toBe('\rx\r\n');
    }
  });

  it('an unstuffed ".\\r" line after other lines, in one chunk: the held-back CR is data, and the message goes on', () => {
    const wire = Buffer.from('a\r\n.\rb\r\n.\rc\r\n.\r\n');
    const unstuffer = new DotUnstuffer();
    const out: Buffer[] = [];
    for (let at = 0; at < wire.length && !unstuffer.done; ) {
      const step = unstuffer.step(wire, at);
      // A step ends the message only when the terminator itself was consumed.
      expect(step.done).toBe(unstuffer.done);
      at += step.consumed;
      if (step.data) out.push(Buffer.from(step.data));
    }
    expect(Buffer.concat(out).toString('latin1')).toBe('a\r\n\rb\r\n\rc\r\n');
  });

  it('a bare LF after a line-start dot is data: the dot that follows it is not at a line start', () => {
    const { body } = decode([Buffer.from('.\n.y\r\n.\r\n')]);
    expect(body.toString('latin1')).toBe('\n.y\r\n');
  });

  it("each step's done is true only in the step that consumed the terminator; a step with no bytes gives null data", () => {
    fc.assert(
      fc.property(
        framingBytes,
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 20 }),
        (content, sizes) => {
          const unstuffer = new DotUnstuffer();
          for (const chunk of chunkAt(stuffBody(content), sizes)) {
            for (let at = 0; at < chunk.length && !unstuffer.done; ) {
              const step = unstuffer.step(chunk, at);
              at += step.consumed;
              expect(step.done).toBe(unstuffer.done);
              if (step.data !== null) expect(step.data.length).toBeGreaterThan(0);
            }
          }
          expect(unstuffer.done).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses to decode past the terminator, where the next reply begins', () => {
    const unstuffer = new DotUnstuffer();
    expect(unstuffer.step(Buffer.from('.\r\n'), 0).done).toBe(true);
    expect(() => unstuffer.step(Buffer.from('+OK'), 0)).toThrow('after the terminator');
  });
});
