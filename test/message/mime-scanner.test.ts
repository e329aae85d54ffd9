import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MessageMetadata } from '../../functions/core/archive/ports.js';
import type { HeaderField } from '../../functions/core/message/header-block.js';
import {
  MAX_HEADER_BLOCK_OCTETS,
  MAX_MIME_PARTS,
  MAX_MULTIPART_DEPTH,
} from '../../functions/core/message/message-limits.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import type { MimePart } from '../../functions/core/message/mime-part.js';
import { MimeLimitError, MimeScanner } from '../../functions/core/message/mime-scanner.js';

const FIXTURES = new URL('../fixtures/mail/', import.meta.url);
const FIXTURE_NAMES = readdirSync(FIXTURES).filter((name) => name.endsWith('.eml'));

/** Fixtures are wire format (CRLF), whatever line endings a checkout gave them. */
function fixture(name: string, lineBreak = '\r\n'): Buffer {
  const text = readFileSync(new URL(name, FIXTURES)).toString('latin1');
  return Buffer.from(text.replace(/\r?\n/g, lineBreak), 'latin1');
}

/** Feeds the chunks straight into the sink (no pipeline: the sink parses each write at once). */
async function parse(chunks: Iterable<Buffer> | Buffer | string): Promise<MessageMetadata> {
  const parser = createMessageParser();
  const list =
    typeof chunks === 'string'
      ? [Buffer.from(chunks, 'latin1')]
      : Buffer.isBuffer(chunks)
        ? [chunks]
        : chunks;
  for (const chunk of list) parser.sink.write(chunk);
  parser.sink.end();
  return parser.metadata;
}

function* inChunks(data: Buffer, sizes: readonly number[]): Generator<Buffer> {
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const size = sizes[i % sizes.length] as number;
    yield data.subarray(at, at + size);
    at += size;
  }
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

interface ScannedPart {
  contentType: string;
  body: string;
  ended: boolean;
  embeddedRoot: boolean;
}

/** What the scanner reports, part by part: the structure alone, without the parser's rules. */
function scan(message: string | Buffer, sizes: readonly number[] = [1 << 30]): ScannedPart[] {
  const parts: ScannedPart[] = [];
  let current: ScannedPart | null = null;
  const scanner = new MimeScanner({
    partStart(part: MimePart, _fields: HeaderField[], context) {
      current = {
        contentType: part.contentType,
        body: '',
        ended: false,
        embeddedRoot: context.embeddedRoot,
      };
      parts.push(current);
    },
    partBody(octets: Buffer) {
      if (current !== null) current.body += octets.toString('latin1');
    },
    partEnd() {
      if (current !== null) current.ended = true;
    },
  });
  const data = Buffer.isBuffer(message) ? message : Buffer.from(message, 'latin1');
  for (const chunk of inChunks(data, sizes)) scanner.write(chunk);
  scanner.end();
  return parts;
}

/** The leaf parts, as "type: body". */
function leaves(message: string | Buffer, sizes?: readonly number[]): string[] {
  return scan(message, sizes)
    .filter((part) => part.ended)
    .map((part) => `${part.contentType}: ${part.body}`);
}

describe('chunking: where the input is split changes nothing', () => {
  it.each(FIXTURE_NAMES)('%s: one octet at a time yields what one write does', async (name) => {
    const raw = fixture(name);
    expect(await parse(inChunks(raw, [1]))).toEqual(await parse(raw));
  });

  it.each(['multipart-alternative-attachments.eml', 'nested-rfc822.eml', 'broken-multipart.eml'])(
    '%s: a boundary split at every possible position yields the same metadata',
    async (name) => {
      const raw = fixture(name);
      const whole = JSON.stringify(await parse(raw));
      for (let at = 1; at < raw.length; at++) {
        const split = await parse([raw.subarray(0, at), raw.subarray(at)]);
        expect(JSON.stringify(split), `split at ${at}`).toBe(whole);
      }
    },
  );

  it('random chunkings of every fixture yield the same metadata', async () => {
    const wholes = new Map<string, string>();
    for (const name of FIXTURE_NAMES) wholes.set(name, JSON.stringify(await parse(fixture(name))));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...FIXTURE_NAMES),
        fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 10 }),
        async (name, sizes) => {
          const metadata = await parse(inChunks(fixture(name), sizes));
          expect(JSON.stringify(metadata)).toBe(wholes.get(name));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('an attachment whose base64 quanta and delimiter straddle chunks hashes as when whole', async () => {
    const data = randomBytes(50_000);
    const body = data.toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = Buffer.from(
      `Content-Type: multipart/mixed; boundary="q"\r\n\r\n--q\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n${body}\r\n--q--\r\n`,
      'latin1',
    );
    for (const sizes of [[1], [3, 5, 7], [4096], [16 * 1024 + 1], [65_536, 13]]) {
      const metadata = await parse(inChunks(raw, sizes));
      expect(metadata.attachments.map((a) => [a.octets, a.sha256])).toEqual([
        [data.length, sha256(data)],
      ]);
    }
  });
});

describe('delimiter lines (RFC 2046 s.5.1.1, as mailsplit read them)', () => {
  const message = (body: string) => `Content-Type: multipart/mixed; boundary="b"\r\n\r\n${body}`;

  it('the line break before a delimiter belongs to it, not to the body; bodies may hold bare LF', () => {
    expect(
      leaves(message('--b\r\n\r\nline 1\nline 2\r\n\r\n--b\nContent-Type: x/y\n\nz\n--b--\r\n')),
    ).toEqual(['text/plain: line 1\nline 2\r\n', 'x/y: z']);
  });

  it('spaces and tabs after the boundary, and a run of CRs, still delimit', () => {
    expect(
      leaves(message('--b \t\r\n\r\none\r\n--b\r\r\n\r\ntwo\r\n--b--  \r\n')).map((l) => l),
    ).toEqual(['text/plain: one', 'text/plain: two']);
  });

  it('a line that only starts with the boundary is body text', () => {
    expect(leaves(message('--b\r\n\r\n--bx\r\n--b-\r\n-- b\r\n--b--\r\n'))).toEqual([
      'text/plain: --bx\r\n--b-\r\n-- b',
    ]);
  });

  it('a closing delimiter may end the input without a line break; a plain one may not', () => {
    expect(leaves(message('--b\r\n\r\nlast\r\n--b--'))).toEqual(['text/plain: last']);
    expect(leaves(message('--b\r\n\r\nlast\r\n--b'))).toEqual(['text/plain: last\r\n--b']);
  });

  it('a boundary that is a prefix of another boundary does not match the longer one', () => {
    const raw =
      'Content-Type: multipart/mixed; boundary="ab"\r\n\r\n--ab\r\nContent-Type: multipart/alternative; boundary="a"\r\n\r\n--a\r\n\r\ninner\r\n--ab\r\n\r\nouter\r\n--ab--\r\n';
    expect(leaves(raw)).toEqual(['text/plain: inner', 'text/plain: outer']);
    const reverse =
      'Content-Type: multipart/mixed; boundary="a"\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary="ab"\r\n\r\n--ab\r\n\r\ninner\r\n--a\r\n\r\nouter\r\n--a--\r\n';
    expect(leaves(reverse)).toEqual(['text/plain: inner', 'text/plain: outer']);
  });

  it('a closing delimiter in the preamble closes nothing; after the closing one, the epilogue is read past', () => {
    expect(
      leaves(
        message(
          '--b--\r\npreamble\r\n--b\r\n\r\none\r\n--b--\r\nepilogue\r\n--b\r\n\r\nnot a part\r\n',
        ),
      ),
    ).toEqual(['text/plain: one']);
  });

  it('a delimiter of an enclosing multipart closes the parts inside it, innermost match first', () => {
    const raw =
      'Content-Type: multipart/mixed; boundary="out"\r\n\r\n--out\r\nContent-Type: multipart/alternative; boundary="in"\r\n\r\n--in\r\n\r\nnever closed\r\n--out\r\nContent-Type: x/after\r\n\r\nafter\r\n--out--\r\n';
    expect(leaves(raw)).toEqual(['text/plain: never closed', 'x/after: after']);
  });

  it('a part with no closing delimiter ends with the input, its body whole', () => {
    expect(leaves(message('--b\r\n\r\nno end\r\n'))).toEqual(['text/plain: no end\r\n']);
  });

  it('CRLF and LF messages yield the same metadata', async () => {
    const data = randomBytes(3000);
    const text = [
      'From: Ann <ann@example.com>',
      'Subject: line endings',
      'Content-Type: multipart/mixed; boundary="le"',
      '',
      '--le',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Hello there.',
      '--le',
      'Content-Type: application/octet-stream; name="d.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      ...(data.toString('base64').match(/.{1,76}/g) ?? []),
      '--le--',
      '',
    ];
    const crlf = await parse(Buffer.from(text.join('\r\n')));
    const lf = await parse(Buffer.from(text.join('\n')));
    expect(lf).toEqual(crlf);
    expect(crlf.attachments[0]?.sha256).toBe(sha256(data));
    expect(crlf.snippet).toBe('Hello there.');
    for (const name of FIXTURE_NAMES) {
      const [withCrlf, withLf] = [await parse(fixture(name)), await parse(fixture(name, '\n'))];
      // Identity and quoted-printable attachments keep their line breaks: only their hashes differ.
      const shape = (m: MessageMetadata) => ({
        ...m,
        attachments: m.attachments.map((a) => [a.filename, a.contentType]),
      });
      expect(shape(withLf), name).toEqual(shape(withCrlf));
    }
  });
});

describe('header blocks', () => {
  it('a part whose header block a sibling delimiter cuts short is dropped; a closing one keeps it, empty', () => {
    const raw = (end: string) =>
      `Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/pdf\r\n--b${end}\r\nContent-Type: application/zip\r\n\r\nZIP\r\n--b--\r\n`;
    expect(scan(raw('')).map((p) => p.contentType)).toEqual(['multipart/mixed', 'application/zip']);
    const closed =
      'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/zip\r\n\r\nZIP\r\n--b\r\nContent-Type: application/pdf\r\n--b--\r\n';
    expect(leaves(closed)).toEqual(['application/zip: ZIP', 'application/pdf: ']);
  });

  it('a header block just under MAX_HEADER_BLOCK_OCTETS parses; one octet more fails', async () => {
    const head = (octets: number) => {
      const line = `X-Padding: ${'p'.repeat(986)}\r\n`;
      const lines = line.repeat(Math.floor(octets / line.length));
      const rest = octets - lines.length - 'Subject: s\r\nX: \r\n'.length;
      return `Subject: s\r\n${lines}X: ${'q'.repeat(rest)}\r\n\r\nbody\r\n`;
    };
    const under = await parse(head(MAX_HEADER_BLOCK_OCTETS));
    expect(under.parseError).toBeNull();
    expect(under.snippet).toBe('body');
    const over = await parse(head(MAX_HEADER_BLOCK_OCTETS + 1));
    expect(over.parseError).toBe(
      `a MIME part header block exceeds ${MAX_HEADER_BLOCK_OCTETS} octets`,
    );
  });

  it('a huge header line fed one octet at a time is not copied quadratically: the bound stops it', () => {
    // Scanning 1.1 MB one octet at a time stays linear: partial lines are kept as a list.
    const scanner = new MimeScanner({ partStart() {}, partBody() {}, partEnd() {} });
    const line = Buffer.from(`X-Long: ${'l'.repeat(MAX_HEADER_BLOCK_OCTETS)}`);
    let thrown: unknown = null;
    try {
      for (let at = 0; at < line.length; at++) scanner.write(line.subarray(at, at + 1));
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MimeLimitError);
  });
});

describe('structure limits', () => {
  const parts = (count: number) =>
    `Content-Type: multipart/mixed; boundary="p"\r\nSubject: parts\r\n\r\n${'--p\r\nContent-Type: application/pdf\r\n\r\nx\r\n'.repeat(count)}--p--\r\n`;

  it('MAX_MIME_PARTS parts (the message itself included) parse; 10,001 fail with the reason', async () => {
    const atBound = await parse(parts(MAX_MIME_PARTS - 1));
    expect(atBound.parseError).toBeNull();
    expect(atBound.attachmentsTruncated).toBe(true);
    const over = await parse(parts(MAX_MIME_PARTS));
    expect(MAX_MIME_PARTS + 1).toBe(10_001);
    expect(over.parseError).toBe(`the message has more than ${MAX_MIME_PARTS} MIME parts`);
    expect(over.subject).toBe('parts');
  });

  const nested = (depth: number) => {
    let raw = 'Subject: deep\r\n';
    for (let level = 0; level < depth; level++) {
      raw += `Content-Type: multipart/mixed; boundary="n${level}"\r\n\r\n--n${level}\r\n`;
      if (level === 0) {
        raw +=
          'Content-Type: application/pdf\r\nContent-Disposition: attachment; filename="first.pdf"\r\n\r\nPDF\r\n--n0\r\n';
      }
    }
    return `${raw}Content-Type: text/plain\r\n\r\nbottom\r\n`;
  };

  it('multiparts nested MAX_MULTIPART_DEPTH deep parse; one level more fails, keeping what came before', async () => {
    const atBound = await parse(nested(MAX_MULTIPART_DEPTH));
    expect(atBound.parseError).toBeNull();
    expect(atBound.snippet).toBe('bottom');
    const over = await parse(nested(MAX_MULTIPART_DEPTH + 1));
    expect(over.parseError).toBe(`MIME multiparts are nested deeper than ${MAX_MULTIPART_DEPTH}`);
    expect(over.attachments.map((a) => a.filename)).toEqual(['first.pdf']);
    expect(over.subject).toBe('deep');
  });

  it('an inline message/rfc822 is scanned as a message of its own, its parts inside', () => {
    const raw =
      'Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary="i"\r\n\r\n--i\r\n\r\ninner text\r\n--i--\r\n--o--\r\n';
    expect(scan(raw).map((p) => [p.contentType, p.embeddedRoot, p.body])).toEqual([
      ['multipart/mixed', false, ''],
      ['message/rfc822', false, ''],
      ['multipart/mixed', true, ''],
      ['text/plain', false, 'inner text'],
    ]);
  });

  it('a multipart without a usable boundary is one opaque part', () => {
    const raw =
      'Content-Type: multipart/mixed; boundary="\u00e9"\r\n\r\n--\u00e9\r\n\r\nnot a part\r\n';
    expect(leaves(raw)).toEqual([]);
  });
});
