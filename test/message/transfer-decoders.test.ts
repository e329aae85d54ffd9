import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TransferEncoding } from '../../functions/core/message/mime-part.js';
import { createTransferDecoder } from '../../functions/core/message/transfer-decoders.js';

/**
 * What libbase64 (mailparser's decoder) made of a whole body: everything outside the alphabet
 * dropped, then every "="-terminated segment decoded on its own. The index holds hashes of this.
 */
function base64Reference(input: Buffer): Buffer {
  const segments = input
    .toString('latin1')
    .replace(/[^A-Za-z0-9+/=]/g, '')
    .split('=')
    .filter((segment) => segment !== '');
  return Buffer.concat(segments.map((segment) => Buffer.from(segment, 'base64')));
}

/** libqp's decode of a whole body, as it was written. */
function quotedPrintableReference(input: Buffer): Buffer {
  const text = input
    .toString('latin1')
    .replace(/(^|[^ \t])[ \t]+(?=[\n\r]|$)/g, '$1')
    .replace(/[=](?:\r?\n|$)/g, '');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3));
    if (text[i] === '=' && i < text.length - 2 && hex) {
      out.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      out.push(text.charCodeAt(i));
    }
  }
  return Buffer.from(out);
}

function chunked(data: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = sizes.length === 0 ? data.length : (sizes[i % sizes.length] as number);
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

function decode(encoding: TransferEncoding, chunks: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  // The decoder's views are valid only during the call: copy, as every consumer must.
  const decoder = createTransferDecoder(encoding, (octets) => out.push(Buffer.from(octets)));
  for (const chunk of chunks) decoder.write(chunk);
  decoder.end();
  return Buffer.concat(out);
}

/** Base64 as mailers wrap it: `width` characters a line, CRLF or LF. */
function wrapped(data: Buffer, width: number, lineBreak: string): Buffer {
  const flat = data.toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < flat.length; at += width) lines.push(flat.slice(at, at + width));
  return Buffer.from(lines.join(lineBreak) + lineBreak, 'latin1');
}

const chunkSizes = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 12 });

/** Octets biased towards the ones base64 decoding turns on. */
const base64ish = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...'QUJDRGVmZ2gxMjM0KzAv'.split('')) },
      { weight: 2, arbitrary: fc.constantFrom('\r\n', '\n', '\r', ' ', '\t') },
      { weight: 1, arbitrary: fc.constantFrom('=', '==', '-', '_', '*', '\u00e9', '\u0000') },
    ),
    { maxLength: 400 },
  )
  .map((pieces) => Buffer.from(pieces.join(''), 'latin1'));

/** Octets biased towards the ones quoted-printable decoding turns on. */
const quotedPrintableish = fc
  .array(
    fc.constantFrom(
      ...['=', ' ', '\t', '\r', '\n', '\r\n', 'A', 'f', '3', 'D', 'x', '\u00e9', '=\r\n'],
      ...['= \r\t\n', '\r \n', '=\r\r\n'],
    ),
    { maxLength: 300 },
  )
  .map((pieces) => Buffer.from(pieces.join(''), 'latin1'));

describe('base64: the same octets as libbase64, however the body is split', () => {
  it('a quantum split across chunks at every position decodes as the whole body does', () => {
    const data = randomBytes(3000);
    const encoded = wrapped(data, 76, '\r\n');
    for (let at = 0; at <= encoded.length; at++) {
      const parts = [encoded.subarray(0, at), encoded.subarray(at)];
      expect(decode('base64', parts).equals(data), `split at ${at}`).toBe(true);
    }
  });

  it('bodies of junk, stray padding and url-safe characters decode as libbase64 did, in any chunking', () => {
    fc.assert(
      fc.property(base64ish, chunkSizes, (input, sizes) => {
        const expected = base64Reference(input);
        expect(decode('base64', chunked(input, sizes))).toEqual(expected);
        expect(decode('base64', [input])).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('large chunks of wrapped base64 (the fast path) decode exactly, whatever the line width', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 12_000 }),
        fc.integer({ min: 1, max: 120 }),
        fc.constantFrom('\r\n', '\n'),
        fc.array(fc.integer({ min: 64, max: 9000 }), { minLength: 1, maxLength: 6 }),
        (length, width, lineBreak, sizes) => {
          const data = randomBytes(length);
          expect(decode('base64', chunked(wrapped(data, width, lineBreak), sizes))).toEqual(data);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a large chunk with a junk character or a line break lost on the way decodes as libbase64 did', () => {
    const data = randomBytes(12_000);
    const clean = wrapped(data, 76, '\r\n').toString('latin1');
    for (const damaged of [
      `${clean.slice(0, 5000)} ${clean.slice(5000)}`,
      `${clean.slice(0, 5000)}\u00ff${clean.slice(5000)}`,
      clean.replace('\r\n', ''),
      clean.replace('\r\n', '\n\n'),
      clean.replace(/\r\n/g, (match, at: number) => (at % 7 === 0 ? '\n' : match)),
    ]) {
      const input = Buffer.from(damaged, 'latin1');
      const expected = base64Reference(input);
      for (const size of [64, 1000, 16 * 1024, input.length]) {
        expect(decode('base64', chunked(input, [size]))).toEqual(expected);
      }
    }
  });

  it('invalid characters never throw and are skipped', () => {
    const input = Buffer.from('!!!QU~JD\u0000RA==###', 'latin1');
    expect(decode('base64', [input]).toString()).toBe('ABCD');
  });
});

describe('quoted-printable: the same octets as libqp, however the body is split', () => {
  it('an "=XX" escape or a soft line break split across chunks decodes as the whole body does', () => {
    const input = Buffer.from(
      'caf=C3=A9 =3D tea  \r\nsoft=\r\nbreak= \r\nend=4\r\n=\r\n1 =e2=82=ac\t\r\n',
      'latin1',
    );
    const expected = quotedPrintableReference(input);
    for (let at = 0; at <= input.length; at++) {
      const parts = [input.subarray(0, at), input.subarray(at)];
      expect(decode('quoted-printable', parts), `split at ${at}`).toEqual(expected);
    }
    expect(expected.toString('utf8')).toBe('café = tea\r\nsoftbreakend=4\r\n1 €\r\n');
  });

  it('any mix of "=", whitespace and line breaks decodes as libqp did, in any chunking', () => {
    fc.assert(
      fc.property(quotedPrintableish, chunkSizes, (input, sizes) => {
        const expected = quotedPrintableReference(input);
        expect(decode('quoted-printable', chunked(input, sizes))).toEqual(expected);
        expect(decode('quoted-printable', [input])).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('a hex escape that straddles a soft line break is one octet, as libqp read it', () => {
    expect(decode('quoted-printable', [Buffer.from('=4=\r\n1==\r\n42')]).toString()).toBe('AB');
  });
});

describe('other encodings pass through', () => {
  it.each(['identity'] as const)('%s keeps every octet', (encoding) => {
    const data = randomBytes(5000);
    expect(decode(encoding, chunked(data, [7, 300]))).toEqual(data);
  });
});
