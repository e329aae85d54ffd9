import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_LISTING_LINE_OCTETS } from '../../functions/core/pop3/limits.js';
import { ListingCollector, parseUidLine } from '../../functions/core/pop3/listing.js';

function collect(chunks: Buffer[], max = 1000) {
  const collector = new ListingCollector(parseUidLine, max);
  for (const chunk of chunks) collector.push(chunk);
  return collector.end();
}

describe('a listing parsed as it arrives', () => {
  const wire = Buffer.from('1 a\r\n2 b-b\r\n3 c\r\n');

  it('gives the same entries however the octets are split, a CRLF split included', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: wire.length }), { maxLength: 6 }), (cuts) => {
        const points = [0, ...[...cuts].sort((a, b) => a - b), wire.length];
        const chunks = points.slice(1).map((end, i) => wire.subarray(points[i], end));
        expect(collect(chunks).entries).toEqual([
          { msg: 1, uid: 'a' },
          { msg: 2, uid: 'b-b' },
          { msg: 3, uid: 'c' },
        ]);
      }),
    );
  });

  it('a server listing millions of entries: only the cap is parsed and kept, the rest counted', () => {
    const line = Buffer.from('123456 0123456789abcdef0123456789abcdef\r\n');
    const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => line));
    const collector = new ListingCollector(parseUidLine, 5);
    for (let i = 0; i < 30; i += 1) collector.push(chunk);
    const listing = collector.end();
    expect(listing.entries).toHaveLength(5);
    expect(listing.dropped).toBe(300_000 - 5);
  });

  it('a malformed line is recorded with its message number and skipped; the others count', () => {
    const listing = collect([
      Buffer.from('1 a\r\n2 \r\n3 bad\u0001id\r\nnonsense\r\n4 d\r\n', 'latin1'),
    ]);
    expect(listing.entries.map((e) => e.msg)).toEqual([1, 4]);
    expect(listing.malformedCount).toBe(3);
    expect(listing.malformed.map((m) => m.msg)).toEqual([2, 3, null]);
  });

  it('a line longer than the line limit is malformed, never buffered whole', () => {
    const long = Buffer.from(`7 ${'x'.repeat(MAX_LISTING_LINE_OCTETS * 50)}\r\n8 ok\r\n`);
    const chunks = Array.from({ length: Math.ceil(long.length / 100) }, (_, i) =>
      long.subarray(i * 100, (i + 1) * 100),
    );
    const listing = collect(chunks);
    expect(listing.entries).toEqual([{ msg: 8, uid: 'ok' }]);
    expect(listing.malformed).toEqual([{ msg: 7, line: expect.any(String) }]);
    expect(listing.malformed[0]?.line.length).toBeLessThan(120);
  });
});
