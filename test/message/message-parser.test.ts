import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MessageMetadata } from '../../functions/core/archive/ports.js';
import { sanitizeFilename } from '../../functions/core/message/filenames.js';
import { parseMessageDate } from '../../functions/core/message/message-date.js';
import {
  MAX_ADDRESS_LENGTH,
  MAX_ADDRESSES_PER_LIST,
  MAX_ADDRESSES_TOTAL,
  MAX_ATTACHMENTS_LISTED,
  MAX_CONTENT_TYPE_LENGTH,
  MAX_DATE_HEADER_LENGTH,
  MAX_FILENAME_EXTENSION_LENGTH,
  MAX_FILENAME_LENGTH,
  MAX_HEADER_BLOCK_OCTETS,
  MAX_HTML_SNIPPET_SOURCE,
  MAX_MESSAGE_ID_LENGTH,
  MAX_METADATA_JSON_OCTETS,
  MAX_MIME_PARTS,
  MAX_NAME_LENGTH,
  MAX_PARSE_ERROR_LENGTH,
  MAX_PARSED_OCTETS,
  MAX_SUBJECT_LENGTH,
  SNIPPET_LENGTH,
  WORST_CASE_METADATA_JSON_OCTETS,
} from '../../functions/core/message/message-limits.js';
import {
  createMessageParser,
  parseErrorReason,
} from '../../functions/core/message/message-parser.js';
import { PARSER_VERSION } from '../../functions/core/message/parser-version.js';

const FIXTURES = new URL('../fixtures/mail/', import.meta.url);
const FIXTURE_NAMES = readdirSync(FIXTURES).filter((name) => name.endsWith('.eml'));

/** Fixtures are wire format (CRLF); a checkout that rewrote line endings must not change the tests. */
function fixture(name: string): Buffer {
  const text = readFileSync(new URL(name, FIXTURES)).toString('latin1');
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

type Source = Buffer | string | Iterable<Buffer> | AsyncIterable<Buffer>;

/** Feeds a message through the sink the way the spool does (pipeline, backpressure) and awaits both. */
async function parse(source: Source): Promise<MessageMetadata> {
  const parser = createMessageParser();
  const chunks =
    typeof source === 'string'
      ? [Buffer.from(source, 'utf8')]
      : Buffer.isBuffer(source)
        ? [source]
        : source;
  await pipeline(Readable.from(chunks), parser.sink);
  return parser.metadata;
}

function* inChunks(data: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

function jsonOctets(metadata: MessageMetadata): number {
  return Buffer.byteLength(JSON.stringify(metadata), 'utf8');
}

/** Every parse in this file goes through this: the record must fit the index whatever the input. */
function expectUnderItemBound(metadata: MessageMetadata): void {
  expect(jsonOctets(metadata)).toBeLessThan(MAX_METADATA_JSON_OCTETS);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic, incompressible-looking bytes. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    out[i] = state & 0xff;
  }
  return out;
}

/** Base64 in 76-character lines with CRLF, as mailers write it. */
function base64Lines(data: Buffer): Buffer {
  const flat = Buffer.from(data.toString('base64'), 'latin1');
  const lines = Math.ceil(flat.length / 76);
  const out = Buffer.allocUnsafe(flat.length + 2 * lines);
  let at = 0;
  for (let i = 0; i < flat.length; i += 76) {
    at += flat.copy(out, at, i, Math.min(i + 76, flat.length));
    out[at++] = 0x0d;
    out[at++] = 0x0a;
  }
  return out;
}

function multipart(boundary: string, headers: string, parts: string[]): string {
  return `${headers}MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="${boundary}"\r\n\r\n${parts
    .map((part) => `--${boundary}\r\n${part}\r\n`)
    .join('')}--${boundary}--\r\n`;
}

function attachmentPart(filename: string, data: Buffer, contentType = 'application/pdf'): string {
  return `Content-Type: ${contentType}\r\nContent-Disposition: attachment; filename="${filename}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(data).toString('latin1')}`;
}

describe('fixtures: real-shaped mail', () => {
  it.each(FIXTURE_NAMES)(
    '%s yields a record under the item bound, the same in 7-byte writes as in one',
    async (name) => {
      const raw = fixture(name);
      const whole = await parse(raw);
      const trickled = await parse(inChunks(raw, 7));
      expectUnderItemBound(whole);
      expect(trickled).toEqual(whole);
      expect(whole.parseError).toBeNull();
    },
  );

  it('a plain text message yields lower-cased, deduplicated addresses, its date and a collapsed snippet', async () => {
    const metadata = await parse(fixture('plain-text.eml'));
    expect(metadata).toEqual({
      messageId: '<20240514071240.GA1234@mail.example.org>',
      from: [{ address: 'alice@example.org', name: 'Alice Example' }],
      to: [{ address: 'bob@example.net', name: 'Bob Example' }],
      // Carol appears twice in Cc (different case): kept once, first name wins. Bob in both To and Cc
      // stays in both: the lists say different things.
      cc: [
        { address: 'carol@example.com', name: '' },
        { address: 'bob@example.net', name: 'Bob (again)' },
      ],
      addressesTruncated: false,
      subject: 'Lunch on Thursday?',
      dateHeader: 'Tue, 14 May 2024 09:12:40 +0200',
      date: '2024-05-14T07:12:40.000Z',
      attachments: [],
      attachmentsTruncated: false,
      snippet:
        'Hi Bob, Are you free for lunch on Thursday? The new place on Main Street opens at noon. Cheers, Alice',
      parseError: null,
      parserVersion: PARSER_VERSION,
      textTruncated: false,
    });
  });

  it('attachments in base64 and quoted-printable are hashed over their decoded bytes', async () => {
    const metadata = await parse(fixture('multipart-alternative-attachments.eml'));
    // Hashes computed by Python's hashlib over the original files when the fixture was written.
    expect(metadata.attachments).toEqual([
      {
        filename: 'pixel.png',
        contentType: 'image/png',
        octets: 70,
        sha256: 'd6d30fa246ebac4a8e7d2c12a031661e09b88795a275ff8ba2d6fdf7e9d1a577',
      },
      {
        filename: 'invoice.pdf',
        contentType: 'application/pdf',
        octets: 77,
        sha256: '56c2ac043c28d3543275a6f50b593a6beb0b6888ed8159ac02e3e7f4a32ccb26',
      },
      {
        filename: 'expenses.csv',
        contentType: 'text/csv',
        octets: 81,
        sha256: '9dc1c5d61a93a1f739c9d6aa18b0429a57b9cdc4ed8e3c85c5b9cb42bba2e9ff',
      },
    ]);
    // multipart/alternative: the plain part is the snippet, not the HTML one too.
    expect(metadata.snippet).toBe(
      'Thank you for your order \u2014 your invoice is attached. Total: 19.50 \u20AC',
    );
  });

  it('an HTML-only message yields a snippet without tags, styles, comments or entities', async () => {
    const html =
      '<!DOCTYPE html><html><head><title>Ignored title</title><style>p{color:red}</style>' +
      '<script>var x = "<p>no</p>";</script></head><body><!-- hidden --><div>Hello&nbsp;<b>wor</b>ld' +
      '</div><p>Caf&eacute; &amp; &#8364;5 &#x1F600; a &lt; b</p>\u200C\u034F\u00AD<p>Bye</p></body></html>';
    const metadata = await parse(
      `From: news@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n${html}\r\n`,
    );
    expect(metadata.snippet).toBe('Hello world Café & \u20AC5 \u{1F600} a < b Bye');
    expect(metadata.parseError).toBeNull();
  });

  it('a nested message/rfc822 lists the attachments inside it and an attached message whole', async () => {
    const metadata = await parse(fixture('nested-rfc822.eml'));
    expect(metadata.subject).toBe('Fwd: Agenda');
    expect(metadata.from).toEqual([{ address: 'frank@example.com', name: 'Frank' }]);
    expect(metadata.attachments).toEqual([
      {
        filename: 'notes.txt',
        contentType: 'text/plain',
        octets: 29,
        sha256: '5a8af708b09d34ccade66978ac15aaf9188d34f2062644b32b557cb14e21676c',
      },
      {
        filename: 'old-thread.eml',
        contentType: 'message/rfc822',
        octets: 177,
        sha256: 'de9b2a32f2058bfeb9da1ae24c681b35177b4dab68c32031293b59fe1f514613',
      },
    ]);
    expect(metadata.snippet.startsWith('FYI, see the forwarded messages below.')).toBe(true);
    // The embedded message's header summary is part of the text, its Date left empty: the snippet
    // must never carry a date of the parser's own making.
    expect(metadata.snippet).not.toMatch(/GMT|\d{4} \d\d:\d\d/);
  });

  it('RFC 2047 subjects and names decode from UTF-8 and ISO-8859-1', async () => {
    const metadata = await parse(fixture('encoded-words.eml'));
    expect(metadata.subject).toBe('\u{1F389} Gr\u00FC\u00DFe aus M\u00FCnchen \u2013 \u65E5\u672C');
    expect(metadata.from).toEqual([
      { address: 'francois@example.fr', name: 'Fran\u00E7ois M\u00FCller' },
    ]);
    expect(metadata.to).toEqual([
      { address: 'taro@example.jp', name: '\u5C71\u7530\u592A\u90CE' },
      { address: 'juergen@example.de', name: 'J\u00FCrgen \u00D6zt\u00FCrk' },
    ]);
    expect(metadata.snippet).toBe('Gr\u00FC\u00DFe aus M\u00FCnchen!');
  });

  it('an unparseable Date is kept raw and never replaced by the import time', async () => {
    const metadata = await parse(fixture('unparseable-date.eml'));
    expect(metadata.dateHeader).toBe('sometime last Tuesday, probably');
    expect(metadata.date).toBeNull();
    expect(metadata.parseError).toBeNull();
  });

  it('obsolete date forms (no day of week, two-digit year, named zone) parse to UTC', async () => {
    const metadata = await parse(fixture('obsolete-date.eml'));
    expect(metadata.dateHeader).toBe('3 Feb 99 17:05 EST');
    expect(metadata.date).toBe('1999-02-03T22:05:00.000Z');
  });

  it('a message with no header section yields its body as snippet and null headers', async () => {
    const metadata = await parse(fixture('no-headers.eml'));
    expect(metadata).toMatchObject({
      messageId: null,
      from: [],
      subject: null,
      dateHeader: null,
      date: null,
      parseError: null,
      snippet: 'This message starts with an empty line: it has no header section at all.',
    });
  });

  it('a message that is not MIME, just text, still yields its text as the snippet', async () => {
    const metadata = await parse(fixture('just-text.eml'));
    expect(metadata).toMatchObject({
      messageId: null,
      subject: null,
      date: null,
      parseError: null,
    });
    expect(metadata.snippet).toBe(
      'Hello, this file is just text, the way a broken gateway might deliver it. There are no headers and no MIME structure.',
    );
  });

  it('a broken multipart (closing boundary missing) keeps its parts without a parse error', async () => {
    const metadata = await parse(fixture('broken-multipart.eml'));
    expect(metadata.snippet).toBe('The attachment below was cut off in transit.');
    expect(metadata.attachments).toEqual([
      {
        filename: 'data.bin',
        contentType: 'application/octet-stream',
        octets: 45,
        sha256: 'a8e960c769a9508d098451e3d74dd5a2ac6c861eb0341ae94e9fc273597278c9',
      },
    ]);
    expect(metadata.parseError).toBeNull();
  });

  it('a hostile attachment filename cannot traverse paths, hide its extension or carry controls', async () => {
    const metadata = await parse(fixture('hostile-filename.eml'));
    const names = metadata.attachments.map((attachment) => attachment.filename);
    expect(names[0]).toBe('passwd');
    // "..\..\win<NUL>dows<CR><LF>evil<ESC>[31m.txt"
    expect(names[1]).toBe('windowsevil[31m.txt');
    // 1000 characters, sent as RFC 2231 continuations: cut, extension kept.
    expect(names[2]).toBe(`${'A'.repeat(MAX_FILENAME_LENGTH - 4)}.pdf`);
    // U+202E would display "invoice\u202Efdp.exe" as "invoiceexe.pdf".
    expect(names[3]).toBe('invoicefdp.exe');
    expect(names[4]).toBeNull();
    for (const name of names) {
      expect(name ?? '').not.toMatch(/[/\\\p{Cc}\p{Cf}]/u);
    }
  });

  it('an empty message yields empty metadata', async () => {
    const metadata = await parse(Buffer.alloc(0));
    expect(metadata).toEqual({
      messageId: null,
      from: [],
      to: [],
      cc: [],
      addressesTruncated: false,
      subject: null,
      dateHeader: null,
      date: null,
      attachments: [],
      attachmentsTruncated: false,
      snippet: '',
      parseError: null,
      parserVersion: PARSER_VERSION,
      textTruncated: false,
    });
  });

  it('a Message-ID is kept as sent: encoded words inside it are not decoded', async () => {
    const metadata = await parse(
      'Message-ID: <=?utf-8?q?caf=C3=A9?=.123@example.com>\r\nSubject: x\r\n\r\nbody\r\n',
    );
    expect(metadata.messageId).toBe('<=?utf-8?q?caf=C3=A9?=.123@example.com>');
  });
});

describe('Date headers: parsed from the raw field, never replaced by the import time', () => {
  it.each([
    ['Tue, 14 May 2024 09:12:40 +0200', '2024-05-14T07:12:40.000Z'],
    ['14 May 2024 09:12:40 -0000', '2024-05-14T09:12:40.000Z'],
    ['Tue, 14 May 2024 09:12 +0200', '2024-05-14T07:12:00.000Z'],
    ['Tue,14 May 2024 09:12:40 +0200 (CEST)', '2024-05-14T07:12:40.000Z'],
    ['Tue, 14 May 2024\r\n 09:12:40 +0200', '2024-05-14T07:12:40.000Z'],
    ['Tue, 14 May 2024 09 : 12 : 40 +0200', '2024-05-14T07:12:40.000Z'],
    ['Tue, 14 May 24 09:12:40 EDT', '2024-05-14T13:12:40.000Z'],
    ['3 Feb 99 17:05 EST', '1999-02-03T22:05:00.000Z'],
    ['Wed, 3 Feb 124 17:05:00 +0000', '2024-02-03T17:05:00.000Z'],
    ['Tue, 14 May 2024 09:12:40 PST', '2024-05-14T17:12:40.000Z'],
    ['Tue, 14 May 2024 09:12:40 Z', '2024-05-14T09:12:40.000Z'],
    ['Tue, 14 May 2024 09:12:40 A', '2024-05-14T09:12:40.000Z'],
    ['Tue, 14 May 2024 09:12:40 GMT+0530', '2024-05-14T03:42:40.000Z'],
    ['Tue, 14 May 2024 09:12:40 +02:00', '2024-05-14T07:12:40.000Z'],
    ['Tue, 14 May 2024 09:12:40 CEST', '2024-05-14T07:12:40.000Z'],
    ['Tue, 14 May 2024 09:12:40 XYZT', '2024-05-14T09:12:40.000Z'],
    ['Tue, 14 May 2024 09:12:40', '2024-05-14T09:12:40.000Z'],
    ['Tue May 14 09:12:40 2024', '2024-05-14T09:12:40.000Z'],
    ['Tuesday, 14-May-24 09:12:40 GMT', '2024-05-14T09:12:40.000Z'],
    ['May 14, 2024 9:12 PM', '2024-05-14T21:12:00.000Z'],
    ['14 Sept. 2023 10:00:00 +0000', '2023-09-14T10:00:00.000Z'],
    ['2024-05-14T09:12:40+02:00', '2024-05-14T07:12:40.000Z'],
    ['2024-05-14 09:12:40Z', '2024-05-14T09:12:40.000Z'],
    ['Sat, 31 Dec 2016 23:59:60 +0000', '2016-12-31T23:59:59.000Z'],
    ['Thu, 1 Jan 1970 00:00:00 +0000', '1970-01-01T00:00:00.000Z'],
  ])('%j parses to %s', (raw, expected) => {
    expect(parseMessageDate(raw)).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    ['sometime last Tuesday', 'words'],
    ['Tue, 31 Feb 2024 10:00:00 +0000', 'a day that does not exist'],
    ['Tue, 14 May 2024 25:00:00 +0000', 'hour 25'],
    ['Tue, 14 May 2024 10:00:00 +9999', 'an impossible zone'],
    ['14/05/2024 10:00', 'numeric-only (day/month order unknowable)'],
    ['Fri, 1 Jan 10000 00:00:00 +0000', 'year 10000, which the sort key cannot order'],
    ['Fri, 31 Dec 9999 23:00:00 -0100', 'past year 9999 once the zone is applied'],
    ['Sat, 1 Jan 0000 00:00:00 +0100', 'before year 0000 once the zone is applied'],
    ['Tue, 14 May 2024 10:00:00 -660', 'a three-digit zone with 60 minutes'],
  ])('%j is null (%s)', (raw) => {
    expect(parseMessageDate(raw)).toBeNull();
  });

  it('the canonical form, read by a shortcut, reads as the general path (forced by a comment) does', () => {
    const pad = (n: number) => String(n).padStart(2, '0');
    fc.assert(
      fc.property(
        fc.constantFrom('', 'Mon, ', 'Sun,', 'Fri, '),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom(...'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ')),
        fc.integer({ min: 1960, max: 2100 }),
        fc.tuple(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 })),
        fc.option(fc.integer({ min: 0, max: 61 })),
        fc.tuple(
          fc.constantFrom('+', '-'),
          fc.integer({ min: 0, max: 25 }),
          fc.integer({ min: 0, max: 61 }),
        ),
        (weekday, day, month, year, [hour, minute], second, [sign, zh, zm]) => {
          const time = `${pad(hour)}:${pad(minute)}${second === null ? '' : `:${pad(second)}`}`;
          const raw = `${weekday}${day} ${month} ${year} ${time} ${sign}${pad(zh)}${pad(zm)}`;
          expect(parseMessageDate(raw)).toBe(parseMessageDate(`${raw} (c)`));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it.each([
    ['Wed, 31 Dec 1969 23:59:59 +0000', '1969-12-31T23:59:59.000Z'],
    ['Thu, 1 Jan 1970 00:00:00 +0100', '1969-12-31T23:00:00.000Z'],
    ['1 Jan 69 00:00:00 +0000', '1969-01-01T00:00:00.000Z'],
    ['Mon, 4 Jul 1910 12:00:00 -0500', '1910-07-04T17:00:00.000Z'],
    ['Fri, 1 Jan 2999 00:00:00 +0000', '2999-01-01T00:00:00.000Z'],
    ['Fri, 31 Dec 9999 23:59:59 +0000', '9999-12-31T23:59:59.000Z'],
    ['Tue, 14 May 0099 10:00:00 +0000', '0099-05-14T10:00:00.000Z'],
  ])('valid dates before 1970 or far in the future are kept: %j is %s', async (raw, expected) => {
    expect(parseMessageDate(raw)).toBe(expected);
    expect((await parse(`Date: ${raw}\r\n\r\nx\r\n`)).date).toBe(expected);
  });

  it.each([
    ['Mon, 1 Jan 2024 13:30:00 -600', '2024-01-01T19:30:00.000Z'],
    ['Mon, 1 Jan 2024 13:30:00 +530', '2024-01-01T08:00:00.000Z'],
    ['Mon, 1 Jan 2024 13:30:00 -6', '2024-01-01T19:30:00.000Z'],
    ['Mon, 1 Jan 2024 13:30:00 +10', '2024-01-01T03:30:00.000Z'],
  ])('a -600-style zone is read as mailparser reads it: %j is %s', (raw, expected) => {
    expect(parseMessageDate(raw)).toBe(expected);
    expect(new Date(raw).toISOString()).toBe(expected);
  });

  it.each([
    ['Mon, 1 Jan 2024 13:30:00.5 +0000', '2024-01-01T13:30:00.500Z'],
    ['Mon, 1 Jan 2024 13:30:00.123456 +0000', '2024-01-01T13:30:00.123Z'],
    ['Mon, 1 Jan 2024 13:30:00.25 +0100', '2024-01-01T12:30:00.250Z'],
    ['2024-01-01T13:30:00.042Z', '2024-01-01T13:30:00.042Z'],
  ])('fractional seconds are kept to the millisecond: %j is %s', (raw, expected) => {
    expect(parseMessageDate(raw)).toBe(expected);
  });

  it('a Date header padded with a huge comment is bounded raw and still parses', async () => {
    const raw = `Tue, 14 May 2024 09:12:40 +0200 (${'x'.repeat(5000)})`;
    const metadata = await parse(`Date: ${raw}\r\n\r\nx\r\n`);
    expect(metadata.dateHeader).toHaveLength(MAX_DATE_HEADER_LENGTH);
    expect(raw.startsWith(metadata.dateHeader ?? '-')).toBe(true);
    expect(metadata.date).toBe('2024-05-14T07:12:40.000Z');
  });
});

describe('limits: any message yields a record under the item bound', () => {
  it('a 138 KB To: header yields a record under the item limit', async () => {
    const addresses: string[] = [];
    for (let i = 0; addresses.join(',\r\n ').length < 138 * 1024; i++) {
      addresses.push(`"Recipient Number ${i}" <Recipient.${i}@Example.COM>`);
    }
    const header = `To: ${addresses.join(',\r\n ')}\r\n`;
    expect(header.length).toBeGreaterThan(138 * 1024);
    const metadata = await parse(
      `From: list@example.com\r\n${header}Subject: all hands\r\n\r\nhi\r\n`,
    );
    expectUnderItemBound(metadata);
    expect(metadata.to).toHaveLength(MAX_ADDRESSES_PER_LIST);
    expect(metadata.to[0]).toEqual({
      address: 'recipient.0@example.com',
      name: 'Recipient Number 0',
    });
    expect(metadata.addressesTruncated).toBe(true);
    expect(metadata.subject).toBe('all hands');
  });

  it('one list is cut at MAX_ADDRESSES_PER_LIST, leaving room for the others', async () => {
    const to = Array.from({ length: MAX_ADDRESSES_PER_LIST + 5 }, (_, i) => `to${i}@example.com`);
    const metadata = await parse(
      `From: a@example.com\r\nTo: ${to.join(', ')}\r\nCc: cc@example.com\r\n\r\nx\r\n`,
    );
    expect(metadata.to).toHaveLength(MAX_ADDRESSES_PER_LIST);
    expect(metadata.cc).toEqual([{ address: 'cc@example.com', name: '' }]);
    expect(metadata.addressesTruncated).toBe(true);
  });

  it('from, to and cc together are cut at MAX_ADDRESSES_TOTAL', async () => {
    const list = (prefix: string) =>
      Array.from({ length: MAX_ADDRESSES_PER_LIST }, (_, i) => `${prefix}${i}@example.com`).join(
        ', ',
      );
    const metadata = await parse(
      `From: ${list('f')}\r\nTo: ${list('t')}\r\nCc: ${list('c')}\r\n\r\nx\r\n`,
    );
    const total = metadata.from.length + metadata.to.length + metadata.cc.length;
    expect(total).toBe(MAX_ADDRESSES_TOTAL);
    expect(metadata.addressesTruncated).toBe(true);
  });

  it('an address longer than any SMTP path is cut and flagged; a long name is bounded', async () => {
    const local = 'x'.repeat(400);
    const name = 'N'.repeat(1000);
    const metadata = await parse(`From: "${name}" <${local}@example.com>\r\n\r\nx\r\n`);
    expect(metadata.from[0]?.address).toHaveLength(MAX_ADDRESS_LENGTH);
    expect(local.startsWith(metadata.from[0]?.address ?? '-')).toBe(true);
    expect(metadata.from[0]?.name).toHaveLength(MAX_NAME_LENGTH);
    expect(name.startsWith(metadata.from[0]?.name ?? '-')).toBe(true);
    expect(metadata.addressesTruncated).toBe(true);
  });

  it('a subject of 5,000 characters is bounded', async () => {
    const metadata = await parse(`Subject: ${'s'.repeat(5000)}\r\n\r\nx\r\n`);
    expect(metadata.subject).toBe('s'.repeat(MAX_SUBJECT_LENGTH));
  });

  it('a Message-ID of 1,000 characters is bounded', async () => {
    const metadata = await parse(`Message-ID: <${'m'.repeat(1000)}@example.com>\r\n\r\nx\r\n`);
    expect(metadata.messageId).toBe(`<${'m'.repeat(MAX_MESSAGE_ID_LENGTH - 1)}`);
  });

  it('a long body yields a snippet of SNIPPET_LENGTH, whitespace and invisibles collapsed', async () => {
    const body = `   \t\r\n${'word\u200B  \t'.repeat(5000)}`;
    const metadata = await parse(`Subject: x\r\n\r\n${body}\r\n`);
    expect(metadata.snippet).toBe('word '.repeat(100).slice(0, SNIPPET_LENGTH));
  });

  it('a content type is reduced to RFC 6838 characters and bounded', async () => {
    const subtype = `x${'y'.repeat(1000)}"<script>`;
    const metadata = await parse(
      multipart('b', 'From: a@example.com\r\n', [
        `Content-Type: application/${subtype}\r\nContent-Disposition: attachment; filename="f.bin"\r\n\r\nabc`,
      ]),
    );
    const contentType = metadata.attachments[0]?.contentType ?? '';
    expect(contentType).toHaveLength(MAX_CONTENT_TYPE_LENGTH);
    expect(contentType).toMatch(/^application\/xy+$/);
  });

  it('a long filename keeps an extension of up to MAX_FILENAME_EXTENSION_LENGTH and no longer', () => {
    const kept = sanitizeFilename(`${'a'.repeat(400)}.pdf`);
    const tooLong = `.${'e'.repeat(40)}`;
    expect(tooLong.length).toBeGreaterThan(MAX_FILENAME_EXTENSION_LENGTH);
    const notKept = sanitizeFilename(`${'a'.repeat(400)}${tooLong}`);
    expect(kept).toHaveLength(MAX_FILENAME_LENGTH);
    expect(kept?.endsWith('.pdf')).toBe(true);
    expect(notKept).toHaveLength(MAX_FILENAME_LENGTH);
    expect(notKept?.endsWith(tooLong)).toBe(false);
  });

  it('a 5,000-attachment message lists MAX_ATTACHMENTS_LISTED and is still parsed to its end', async () => {
    const parts = Array.from({ length: 5000 }, (_, i) =>
      attachmentPart(`file-${i}.bin`, Buffer.from([i & 0xff]), 'application/octet-stream'),
    );
    parts.push('Content-Type: text/plain\r\n\r\nthe very end');
    const metadata = await parse(multipart('b5000', 'From: bulk@example.com\r\n', parts));
    expectUnderItemBound(metadata);
    expect(metadata.attachments).toHaveLength(MAX_ATTACHMENTS_LISTED);
    expect(metadata.attachments[0]).toEqual({
      filename: 'file-0.bin',
      contentType: 'application/octet-stream',
      octets: 1,
      sha256: sha256(Buffer.from([0])),
    });
    expect(metadata.attachmentsTruncated).toBe(true);
    // A bound of 1,000 parts (mailparser's default) would have failed this message.
    expect(metadata.parseError).toBeNull();
    expect(metadata.snippet).toBe('the very end');
  });

  it('a message with more than MAX_MIME_PARTS parts records the error and keeps what came before', async () => {
    const parts = Array.from(
      { length: MAX_MIME_PARTS + 10 },
      () => 'Content-Type: text/x-empty\r\n\r\n',
    );
    parts.unshift(attachmentPart('first.pdf', Buffer.from('first')));
    const metadata = await parse(multipart('many', 'Subject: many parts\r\n', parts));
    expectUnderItemBound(metadata);
    expect(metadata.parseError).toBe(`the message has more than ${MAX_MIME_PARTS} MIME parts`);
    expect(metadata.subject).toBe('many parts');
    expect(metadata.attachments[0]?.filename).toBe('first.pdf');
  });

  it('a header block over MAX_HEADER_BLOCK_OCTETS fails the parse with a recorded reason', async () => {
    const padding = `X-Padding: ${'p'.repeat(998)}\r\n`.repeat(
      Math.ceil((MAX_HEADER_BLOCK_OCTETS + 1024) / 1012),
    );
    const metadata = await parse(`Subject: huge\r\n${padding}\r\nbody\r\n`);
    expectUnderItemBound(metadata);
    expect(metadata.parseError).toBe(
      `a MIME part header block exceeds ${MAX_HEADER_BLOCK_OCTETS} octets`,
    );
  });

  it('a parse error quoting the mail is cleaned and bounded', () => {
    const reason = parseErrorReason(new Error(`bad charset ${'\u0000x'.repeat(5000)}`));
    expect(reason.length).toBe(MAX_PARSE_ERROR_LENGTH);
    expect(reason).not.toMatch(/\p{Cc}/u);
  });

  it('every field at its bound in 3-byte characters stays under MAX_METADATA_JSON_OCTETS', async () => {
    expect(WORST_CASE_METADATA_JSON_OCTETS).toBeLessThan(MAX_METADATA_JSON_OCTETS);
    const cjk = (length: number) => '\u6F22'.repeat(length);
    const word = (length: number) => `=?UTF-8?B?${Buffer.from(cjk(length)).toString('base64')}?=`;
    const mailboxes = (prefix: string) =>
      Array.from(
        { length: MAX_ADDRESSES_PER_LIST + 1 },
        (_, i) =>
          `${word(MAX_NAME_LENGTH + 20)} <${prefix}${i}${cjk(MAX_ADDRESS_LENGTH)}@example.com>`,
      ).join(',\r\n ');
    const attachments = Array.from(
      { length: MAX_ATTACHMENTS_LISTED + 5 },
      (_, i) =>
        `Content-Type: application/${'z'.repeat(MAX_CONTENT_TYPE_LENGTH * 2)}\r\nContent-Disposition: attachment; filename*=utf-8''${encodeURIComponent(`${i}${cjk(MAX_FILENAME_LENGTH * 2)}`)}\r\n\r\n${i}`,
    );
    attachments.unshift(
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${cjk(SNIPPET_LENGTH * 4)}`,
    );
    const headers = [
      `From: ${mailboxes('f')}`,
      `To: ${mailboxes('t')}`,
      `Cc: ${mailboxes('c')}`,
      `Subject: ${word(MAX_SUBJECT_LENGTH + 50)}`,
      `Message-ID: <${cjk(MAX_MESSAGE_ID_LENGTH * 2)}@example.com>`,
      `Date: ${cjk(MAX_DATE_HEADER_LENGTH * 2)}`,
      '',
    ].join('\r\n');
    const metadata = await parse(Buffer.from(multipart('worst', headers, attachments), 'utf8'));
    expect(metadata.parseError).toBeNull();
    expect(metadata.from.length + metadata.to.length + metadata.cc.length).toBe(
      MAX_ADDRESSES_TOTAL,
    );
    expect(metadata.attachments).toHaveLength(MAX_ATTACHMENTS_LISTED);
    expect(metadata.subject).toHaveLength(MAX_SUBJECT_LENGTH);
    expect(metadata.snippet).toHaveLength(SNIPPET_LENGTH);
    expect(metadata.dateHeader).toHaveLength(MAX_DATE_HEADER_LENGTH);
    expect(metadata.messageId).toHaveLength(MAX_MESSAGE_ID_LENGTH);
    expect(metadata.attachments[1]?.filename).toHaveLength(MAX_FILENAME_LENGTH);
    expect(metadata.to[0]?.name).toHaveLength(MAX_NAME_LENGTH);
    expect(metadata.to[0]?.address).toHaveLength(MAX_ADDRESS_LENGTH);
    expect(jsonOctets(metadata)).toBeGreaterThan(MAX_METADATA_JSON_OCTETS / 2);
    expectUnderItemBound(metadata);
  });
});

describe('faults: the sink never errors, never stalls, and metadata never rejects', () => {
  it('a parser failure mid-stream still drains the stream and records the error', async () => {
    const oversizedHeader = `X-Padding: ${'p'.repeat(998)}\r\n`.repeat(
      Math.ceil((MAX_HEADER_BLOCK_OCTETS + 1024) / 1012),
    );
    const tail = Buffer.from('trailing data after the failure\r\n'.repeat(100_000));
    const message = Buffer.concat([
      Buffer.from(
        multipart('mid', 'Subject: fails midway\r\n', [
          attachmentPart('one.pdf', Buffer.from('one')),
          attachmentPart('two.pdf', Buffer.from('two')),
          `${oversizedHeader}Content-Type: text/plain\r\n\r\nnever reached`,
        ]),
      ),
      tail,
    ]);
    let fedOctets = 0;
    const counted = (function* () {
      for (const chunk of inChunks(message, 16 * 1024)) {
        fedOctets += chunk.length;
        yield chunk;
      }
    })();
    // pipeline() resolves only once the sink has accepted every chunk and finished.
    const metadata = await parse(counted);
    expect(fedOctets).toBe(message.length);
    expect(metadata.parseError).toBe(
      `a MIME part header block exceeds ${MAX_HEADER_BLOCK_OCTETS} octets`,
    );
    expect(metadata.subject).toBe('fails midway');
    expect(metadata.attachments.map((attachment) => attachment.filename)).toEqual([
      'one.pdf',
      'two.pdf',
    ]);
    expectUnderItemBound(metadata);
  });

  it('an input aborted mid-message resolves with a reason instead of rejecting or hanging', async () => {
    const parser = createMessageParser();
    const errors: unknown[] = [];
    parser.sink.on('error', (err) => errors.push(err));
    parser.sink.write(
      Buffer.from(
        'Subject: cut\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA',
      ),
    );
    parser.sink.destroy(new Error('socket closed'));
    const metadata = await parser.metadata;
    expect(metadata.parseError).toBe('the message stream was aborted before its end');
    expect(metadata.attachments).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a fast producer is held back by backpressure instead of being buffered', async () => {
    const data = pseudoRandomBytes(4 * 1024 * 1024, 7);
    const message = Buffer.from(
      multipart('bp', 'Subject: bp\r\n', [attachmentPart('data.bin', data)]),
    );
    const parser = createMessageParser();
    const chunkOctets = 64 * 1024;
    let refused = 0;
    let queued = 0;
    for (const chunk of inChunks(message, chunkOctets)) {
      if (!parser.sink.write(chunk)) {
        refused++;
        queued = Math.max(queued, parser.sink.writableLength);
        await new Promise((resolve) => parser.sink.once('drain', resolve));
      }
    }
    parser.sink.end();
    const metadata = await parser.metadata;
    expect(refused).toBeGreaterThan(0);
    // What waits for the parser never exceeds the high-water mark by more than one write.
    expect(queued).toBeLessThan(parser.sink.writableHighWaterMark + chunkOctets);
    expect(metadata.attachments[0]?.sha256).toBe(sha256(data));
  });
});

describe('big messages: streamed, never buffered whole', () => {
  it('a 20 MB attachment is hashed over its decoded bytes while streaming', async () => {
    const data = pseudoRandomBytes(20 * 1024 * 1024, 20);
    const encoded = base64Lines(data);
    const head = Buffer.from(
      'From: sender@example.com\r\nSubject: big file\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\nContent-Type: text/plain\r\n\r\nThe file is attached.\r\n--big\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename="big.zip"\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    );
    const metadata = await parse(
      (function* () {
        yield head;
        yield* inChunks(encoded, 64 * 1024);
        yield Buffer.from('\r\n--big--\r\n');
      })(),
    );
    expect(metadata.attachments).toEqual([
      {
        filename: 'big.zip',
        contentType: 'application/zip',
        octets: data.length,
        sha256: sha256(data),
      },
    ]);
    expect(metadata.attachmentsTruncated).toBe(false);
    expect(metadata.snippet).toBe('The file is attached.');
    expectUnderItemBound(metadata);
  });

  it('input past MAX_PARSED_OCTETS is not parsed: no attachment is listed with a false hash', async () => {
    const first = Buffer.from('small and complete');
    // Base64 of this many octets is larger than MAX_PARSED_OCTETS.
    const huge = pseudoRandomBytes(Math.ceil((MAX_PARSED_OCTETS * 3) / 4) + 1024 * 1024, 3);
    const head = Buffer.from(
      multipart('cap', 'Subject: over the cap\r\n', [
        attachmentPart('first.txt', first, 'text/plain'),
      ]).replace(
        /--cap--\r\n$/,
        '--cap\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="huge.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n',
      ),
    );
    const metadata = await parse(
      (function* () {
        yield head;
        yield* inChunks(base64Lines(huge), 256 * 1024);
        yield Buffer.from('\r\n--cap--\r\n');
      })(),
    );
    expect(metadata.attachments).toEqual([
      {
        filename: 'first.txt',
        contentType: 'text/plain',
        octets: first.length,
        sha256: sha256(first),
      },
    ]);
    expect(metadata.attachmentsTruncated).toBe(true);
    expect(metadata.parseError).toBeNull();
  });

  it('a long text body is not held: the snippet comes from its start and later parts are still listed', async () => {
    const line = 'All work and no play makes Jack a dull boy.\r\n';
    const text = line.repeat(Math.ceil((20 * 1024 * 1024) / line.length));
    const metadata = await parse(
      Buffer.from(
        multipart('txt', 'Subject: long text\r\n', [
          `Content-Type: text/plain\r\n\r\n${text}`,
          attachmentPart('after.pdf', Buffer.from('after')),
        ]),
      ),
    );
    expect(
      metadata.snippet.startsWith('All work and no play makes Jack a dull boy. All work'),
    ).toBe(true);
    expect(metadata.attachments.map((attachment) => attachment.filename)).toEqual(['after.pdf']);
    expect(metadata.attachmentsTruncated).toBe(false);
    expect(metadata.parseError).toBeNull();
  });

  it('HTML is held for the snippet only up to MAX_HTML_SNIPPET_SOURCE', async () => {
    const html = (cssOctets: number) =>
      `Content-Type: text/html\r\n\r\n<html><head><style>${'p{margin:0}\r\n'.repeat(
        Math.ceil(cssOctets / 13),
      )}</style></head><body><p>The newsletter text.</p></body></html>`;
    const within = await parse(html(MAX_HTML_SNIPPET_SOURCE - 4096));
    const beyond = await parse(html(MAX_HTML_SNIPPET_SOURCE + 4096));
    expect(within.snippet).toBe('The newsletter text.');
    // The text lies past what is held: the scan ends inside the unclosed <style>, with nothing.
    expect(beyond.snippet).toBe('');
    expect(beyond.parseError).toBeNull();
  });

  it('a 100 MB text body completes with sane, bounded metadata', async () => {
    const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
    const block = Buffer.from(line.repeat(Math.ceil((64 * 1024) / line.length)));
    const total = 100 * 1024 * 1024;
    const metadata = await parse(
      (function* () {
        yield Buffer.from(
          'From: Writer <writer@example.com>\r\nSubject: a very long letter\r\nDate: Mon, 13 May 2024 08:00:00 +0000\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n',
        );
        for (let sent = 0; sent < total; sent += block.length) yield block;
      })(),
    );
    expect(metadata.subject).toBe('a very long letter');
    expect(metadata.date).toBe('2024-05-13T08:00:00.000Z');
    expect(metadata.from).toEqual([{ address: 'writer@example.com', name: 'Writer' }]);
    expect(metadata.snippet).toHaveLength(SNIPPET_LENGTH);
    expect(metadata.snippet.startsWith('The quick brown fox jumps over the lazy dog,')).toBe(true);
    expect(metadata.parseError).toBeNull();
    expectUnderItemBound(metadata);
  });
});
