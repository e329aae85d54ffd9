/**
 * The listing parsers against lines a server gets wrong. A LIST or UIDL line that is misread makes the
 * run retrieve or delete the wrong message number, so every shape is either read exactly or refused
 * with a PROTOCOL_VIOLATION that shows the line. Written from the mutants StrykerJS left alive here.
 */
import { describe, expect, it } from 'vitest';
import { Pop3ProtocolError } from '../../functions/core/pop3/errors.js';
import {
  MAX_LISTING_LINE_OCTETS,
  MAX_MALFORMED_LINES_KEPT,
  MAX_UIDL_OCTETS,
} from '../../functions/core/pop3/limits.js';
import {
  ListingCollector,
  parseScanLine,
  parseStat,
  parseUidLine,
} from '../../functions/core/pop3/listing.js';

function refusal(parse: () => unknown): Pop3ProtocolError {
  try {
    parse();
  } catch (err) {
    expect(err).toBeInstanceOf(Pop3ProtocolError);
    expect((err as Pop3ProtocolError).code).toBe('PROTOCOL_VIOLATION');
    return err as Pop3ProtocolError;
  }
  throw new Error('the line was accepted');
}

describe('a LIST line', () => {
  it.each([
    ['1 120', { msg: 1, octets: 120 }],
    ['  7   4096  ', { msg: 7, octets: 4096 }],
    ['3\t55', { msg: 3, octets: 55 }],
    ['2 300 extra information RFC 1939 allows', { msg: 2, octets: 300 }],
  ])('%j is read exactly', (line, expected) => {
    expect(parseScanLine(line)).toEqual(expected);
  });

  it.each([
    ['message number 0', '0 120'],
    ['no size', '1'],
    ['a size that is not a number', '1 12x'],
    ['a letter before the number', 'a1 120'],
    ['a letter after the number', '1a 120'],
    ['a number of 16 digits', '1234567890123456 1'],
    ['nothing', ''],
  ])('%s is refused, naming the line', (_threat, line) => {
    const err = refusal(() => parseScanLine(line));
    expect(err.message).toContain('malformed LIST line');
    expect(err.message).toContain(JSON.stringify(line));
  });

  it('a garbage line is shown cut to 100 characters, under the name of the command that asked', () => {
    const line = `x${'y'.repeat(500)}`;
    const err = refusal(() => parseScanLine(line, 'RETR'));
    expect(err.message).toBe(
      `the server sent a malformed RETR line: ${JSON.stringify(line.slice(0, 100))}`,
    );
  });
});

describe('a UIDL line', () => {
  it.each([
    ['1 abc', { msg: 1, uid: 'abc' }],
    ['  12   padded-id   ', { msg: 12, uid: 'padded-id' }],
    ['3 id with spaces', { msg: 3, uid: 'id with spaces' }],
    ['4 caf\u00e9', { msg: 4, uid: 'caf\u00e9' }],
    [`5 ${'u'.repeat(MAX_UIDL_OCTETS)}`, { msg: 5, uid: 'u'.repeat(MAX_UIDL_OCTETS) }],
  ])('%j is read exactly', (line, expected) => {
    expect(parseUidLine(line)).toEqual(expected);
  });

  it.each([
    ['message number 0', '0 abc'],
    ['no unique-id', '1'],
    ['no unique-id after the space', '1   '],
    ['a letter before the number', 'x1 abc'],
    ['a control character in the id', '1 a\u0001b'],
    ['an id one octet over the limit', `1 ${'u'.repeat(MAX_UIDL_OCTETS + 1)}`],
  ])('%s is refused with PROTOCOL_VIOLATION', (_threat, line) => {
    expect(refusal(() => parseUidLine(line)).message).toContain('malformed UIDL line');
  });
});

describe('a STAT reply', () => {
  it.each([
    ['2 320', { count: 2, octets: 320 }],
    ['0 0', { count: 0, octets: 0 }],
    ['  5   900 ', { count: 5, octets: 900 }],
  ])('%j is read exactly (an empty mailbox included)', (text, expected) => {
    expect(parseStat(text)).toEqual(expected);
  });

  it.each([['2'], ['x 3'], ['2 x'], ['']])('%j is refused', (text) => {
    expect(refusal(() => parseStat(text)).message).toContain('malformed STAT line');
  });
});

function collect(chunks: string[], max = 1000) {
  const collector = new ListingCollector(parseUidLine, max);
  for (const chunk of chunks) collector.push(Buffer.from(chunk, 'latin1'));
  return collector.end();
}

function collectScan(chunks: string[]) {
  const collector = new ListingCollector((line) => parseScanLine(line), 1000);
  for (const chunk of chunks) collector.push(Buffer.from(chunk, 'latin1'));
  return collector.end();
}

describe('a listing whose line ends are not CRLF', () => {
  it('a bare LF at the start of a chunk does not end a line', () => {
    const listing = collect(['1 a', '\n2 b\r\n']);
    expect(listing.entries).toEqual([]);
    expect(listing.malformed).toEqual([{ msg: 1, line: JSON.stringify('1 a\n2 b') }]);
  });

  it('a CR at the end of a chunk without an LF after it does not end a line', () => {
    const listing = collect(['1 a\r', 'b\r\n']);
    expect(listing.entries).toEqual([]);
    expect(listing.malformed).toEqual([{ msg: 1, line: JSON.stringify('1 a\rb') }]);
  });

  it('a CRLF split between chunks ends the line without its CR', () => {
    const listing = collect(['bad\u0001\r', '\n2 b\r\n']);
    expect(listing.entries).toEqual([{ msg: 2, uid: 'b' }]);
    expect(listing.malformed).toEqual([{ msg: null, line: JSON.stringify('bad\u0001') }]);
  });

  // A leading LF is whitespace to the line parsers, so these lines parse; what matters is that no
  // empty line is made up before them.
  it('a listing that opens with a bare LF keeps it in the first line', () => {
    const listing = collect(['\n1 a\r\n2 b\r\n']);
    expect(listing.entries).toEqual([
      { msg: 1, uid: 'a' },
      { msg: 2, uid: 'b' },
    ]);
    expect(listing.malformedCount).toBe(0);
  });

  it('an LF after a whole CRLF line is not a second line end', () => {
    const listing = collect(['1 a\r\n', '\n2 b\r\n']);
    expect(listing.entries).toEqual([
      { msg: 1, uid: 'a' },
      { msg: 2, uid: 'b' },
    ]);
    expect(listing.malformedCount).toBe(0);
  });

  it('a last line without CRLF still counts, overlong or not', () => {
    expect(collect(['1 a\r\n2 b']).entries).toEqual([
      { msg: 1, uid: 'a' },
      { msg: 2, uid: 'b' },
    ]);
    const overlong = collect([`3 ${'x'.repeat(MAX_LISTING_LINE_OCTETS)}`]);
    expect(overlong.malformed).toEqual([{ msg: 3, line: expect.any(String) }]);
  });
});

describe('a listing line at the line limit', () => {
  const scanLineOf = (octets: number) => `1 100 ${'x'.repeat(octets - 6)}`;

  it('a line of exactly MAX_LISTING_LINE_OCTETS is read', () => {
    expect(collectScan([`${scanLineOf(MAX_LISTING_LINE_OCTETS)}\r\n`]).entries).toEqual([
      { msg: 1, octets: 100 },
    ]);
  });

  it('a line one octet longer is malformed, also when it arrives in two halves under the limit', () => {
    const line = scanLineOf(MAX_LISTING_LINE_OCTETS + 1);
    expect(collectScan([`${line}\r\n`]).entries).toEqual([]);
    const half = Math.ceil(line.length / 2);
    const split = collectScan([line.slice(0, half), `${line.slice(half)}\r\n2 7\r\n`]);
    expect(split.entries).toEqual([{ msg: 2, octets: 7 }]);
    expect(split.malformed).toEqual([{ msg: 1, line: JSON.stringify(line.slice(0, 100)) }]);
  });
});

describe('what is kept of malformed lines', () => {
  it('only the first MAX_MALFORMED_LINES_KEPT are kept; all are counted', () => {
    const bad = Array.from({ length: MAX_MALFORMED_LINES_KEPT + 3 }, (_, i) => `${i + 1}\r\n`);
    const listing = collect([bad.join('')]);
    expect(listing.malformedCount).toBe(MAX_MALFORMED_LINES_KEPT + 3);
    expect(listing.malformed).toHaveLength(MAX_MALFORMED_LINES_KEPT);
  });

  it.each([
    ['a number of two digits', '12 a\u0001b', 12],
    ['leading spaces', '   7 a\u0001b', 7],
    ['a letter before the number', 'x7 a\u0001b', null],
    ['message number 0', '0 a\u0001b', null],
  ])(
    'the message number of a malformed line (%s) is read only when the line starts with it',
    (_case, line, msg) => {
      expect(collect([`${line}\r\n`]).malformed).toEqual([{ msg, line: JSON.stringify(line) }]);
    },
  );

  it('a malformed line is kept cut to 100 characters', () => {
    const line = `9 ${'z'.repeat(300)}\u0001`;
    expect(collect([`${line}\r\n`]).malformed).toEqual([
      { msg: 9, line: JSON.stringify(line.slice(0, 100)) },
    ]);
  });
});
