/**
 * The keys both indexes order and group messages by: the date as a UTC ISO string that sorts as its
 * instant (only years 0000-9999 do), the archive time when the Date header did not parse, and the
 * first From address, trimmed and lower-cased.
 */
import { describe, expect, it } from 'vitest';
import {
  requireSortableIso,
  senderOf,
  sortDateOf,
  toSortableIso,
} from '../../functions/core/archive/sort-date.js';

describe('toSortableIso', () => {
  it('turns any parseable date into UTC ISO 8601 with milliseconds', () => {
    expect(toSortableIso('Fri, 01 Mar 2024 12:00:00 +0200')).toBe('2024-03-01T10:00:00.000Z');
  });

  it('reads a missing or unparseable date as none', () => {
    expect(toSortableIso(null)).toBeNull();
    expect(toSortableIso(undefined)).toBeNull();
    expect(toSortableIso('the day after tomorrow')).toBeNull();
  });

  it('keeps the first and last instants of years 0000-9999', () => {
    expect(toSortableIso('0000-01-01T00:00:00.000Z')).toBe('0000-01-01T00:00:00.000Z');
    expect(toSortableIso('9999-12-31T23:59:59.999Z')).toBe('9999-12-31T23:59:59.999Z');
  });

  it('reads a date outside years 0000-9999 as none, since its ISO string would sort wrongly', () => {
    expect(toSortableIso('-000001-12-31T23:59:59.999Z')).toBeNull();
    expect(toSortableIso('+010000-01-01T00:00:00.000Z')).toBeNull();
  });
});

describe('requireSortableIso', () => {
  it('returns the sortable form of a date', () => {
    expect(requireSortableIso('since', '2024-03-01T12:00:00+02:00')).toBe(
      '2024-03-01T10:00:00.000Z',
    );
  });

  it('refuses a value that is not a date, naming the field and the value', () => {
    expect(() => requireSortableIso('startedAt', 'soon')).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: 'startedAt is not an ISO 8601 date: soon',
      }),
    );
  });

  it('quotes at most 80 characters of a long value', () => {
    const value = `x${'y'.repeat(200)}`;
    expect(() => requireSortableIso('until', value)).toThrow(
      expect.objectContaining({ message: `until is not an ISO 8601 date: ${value.slice(0, 80)}` }),
    );
  });
});

describe('sortDateOf', () => {
  it("is the message's date when its Date header parsed", () => {
    expect(
      sortDateOf({ date: '2024-03-01T10:00:00.000Z', archivedAt: '2025-01-01T00:00:00.000Z' }),
    ).toBe('2024-03-01T10:00:00.000Z');
  });

  it('falls back to the archive time when the Date header did not parse', () => {
    expect(sortDateOf({ date: null, archivedAt: '2025-01-01T00:00:00Z' })).toBe(
      '2025-01-01T00:00:00.000Z',
    );
  });

  it('names archivedAt when neither is a date', () => {
    expect(() => sortDateOf({ date: null, archivedAt: 'yesterday' })).toThrow(
      expect.objectContaining({ message: 'archivedAt is not an ISO 8601 date: yesterday' }),
    );
  });
});

describe('senderOf', () => {
  const address = (value: string) => ({ from: [{ address: value, name: '' }] });

  it('is the first From address, trimmed and lower-cased', () => {
    expect(senderOf(address('  Alice@Example.ORG \t'))).toBe('alice@example.org');
    expect(
      senderOf({
        from: [
          { address: 'b@example.org', name: '' },
          { address: 'c@example.org', name: '' },
        ],
      }),
    ).toBe('b@example.org');
  });

  it('is none when there is no From address or only blanks', () => {
    expect(senderOf({ from: [] })).toBeNull();
    expect(senderOf(address('   '))).toBeNull();
  });
});
