/**
 * Pagination cursors every index adapter issues: opaque base64url that round-trips its position,
 * accepted only for the listing, mailbox and partition it was issued for, and refused (as
 * INVALID_CURSOR, saying why) when it was tampered with, forged, or names a position outside the query.
 */
import { describe, expect, it } from 'vitest';
import { ArchiveError, InvalidCursorError } from '../../functions/core/archive/errors.js';
import {
  type CursorScope,
  datePage,
  decodeCursor,
  encodeCursor,
  MAX_PAGE_LIMIT,
  requirePageLimit,
} from '../../functions/core/archive/listing-cursor.js';

const SCOPE: CursorScope = { listing: 'by-date', mailboxId: 'inbox-1', partition: '' };
const POSITION = { sortDate: '2024-03-01T10:00:00.000Z', messageKey: 'k1' };

/** A cursor whose decoded JSON is exactly `json`, as a forger would write it. */
function forged(json: string): string {
  return Buffer.from(json, 'utf8').toString('base64url');
}

/** The InvalidCursorError `run` throws. */
function refusal(run: () => unknown): InvalidCursorError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidCursorError);
    return error as InvalidCursorError;
  }
  throw new Error('expected the cursor to be refused');
}

function expectRefused(cursor: string, why: string, scope: CursorScope = SCOPE): void {
  const error = refusal(() => decodeCursor(cursor, scope));
  expect(error.code).toBe('INVALID_CURSOR');
  expect(error.message).toBe(`invalid cursor: ${why}`);
}

describe('requirePageLimit', () => {
  it('accepts every whole number from 1 to the page ceiling', () => {
    expect(requirePageLimit(1)).toBe(1);
    expect(requirePageLimit(MAX_PAGE_LIMIT)).toBe(MAX_PAGE_LIMIT);
  });

  it.each([0, -1, MAX_PAGE_LIMIT + 1, 2.5, Number.NaN])('refuses a limit of %s', (limit) => {
    expect(() => requirePageLimit(limit)).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: `limit must be an integer in [1, ${MAX_PAGE_LIMIT}]`,
      }),
    );
  });
});

describe('encodeCursor and decodeCursor', () => {
  it('a cursor is base64url and gives back the position it was issued with', () => {
    const position = { sortDate: POSITION.sortDate, messageKey: 'é/../%2F ünï' };
    const cursor = encodeCursor(SCOPE, position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, SCOPE)).toEqual(position);
  });

  it('a cursor carries its scope and position as UTF-8 JSON with a version', () => {
    const scope = { listing: 'by-sender', mailboxId: 'ü-box', partition: 'ä@example.org' };
    const cursor = encodeCursor(scope, { n: 1 });
    expect(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))).toEqual({
      v: 1,
      ...scope,
      position: { n: 1 },
    });
  });

  it('refuses a cursor issued for another listing, mailbox or partition', () => {
    const cursor = encodeCursor(SCOPE, POSITION);
    expectRefused(cursor, 'issued for another listing', { ...SCOPE, listing: 'by-sender' });
    expectRefused(cursor, 'issued for another mailbox', { ...SCOPE, mailboxId: 'inbox-2' });
    expectRefused(cursor, 'issued for another query', { ...SCOPE, partition: 'a@example.org' });
  });

  it('refuses a cursor of an unknown version', () => {
    expectRefused(
      forged(JSON.stringify({ v: 2, ...SCOPE, position: POSITION })),
      'unknown version',
    );
    expectRefused(forged(JSON.stringify({ ...SCOPE, position: POSITION })), 'unknown version');
  });

  it.each([
    ['no position at all', undefined],
    ['a null position', null],
    ['a string position', 'k1'],
    ['a number position', 7],
    ['a list position', ['k1']],
  ])('refuses a cursor with %s', (_what, position) => {
    expectRefused(forged(JSON.stringify({ v: 1, ...SCOPE, position })), 'no position');
  });

  it.each([
    ['with a character outside base64url at the end', `${encodeCursor(SCOPE, POSITION)}=`],
    ['with a character outside base64url at the start', `.${encodeCursor(SCOPE, POSITION)}`],
    ['in standard base64', Buffer.from('{"v":1,"a":"??>>"}').toString('base64')],
    ['that is empty', ''],
  ])('refuses a cursor %s before decoding it', (_what, cursor) => {
    expectRefused(cursor, 'not base64url');
  });

  it('refuses a cursor longer than 8192 characters before decoding it', () => {
    const padded = encodeCursor({ ...SCOPE, partition: 'p'.repeat(7000) }, POSITION);
    expect(padded.length).toBeGreaterThan(8192);
    expectRefused(padded, 'not base64url', { ...SCOPE, partition: 'p'.repeat(7000) });
  });

  it('decodes a cursor of exactly 8192 characters', () => {
    // 6144 bytes of JSON encode to exactly 8192 base64url characters.
    const fixed = JSON.stringify({ v: 1, ...SCOPE, position: POSITION, pad: '' }).length;
    const json = JSON.stringify({
      v: 1,
      ...SCOPE,
      position: POSITION,
      pad: 'x'.repeat(6144 - fixed),
    });
    const cursor = forged(json);
    expect(cursor).toHaveLength(8192);
    expect(decodeCursor(cursor, SCOPE)).toEqual(POSITION);
  });

  it('refuses base64url that is not JSON, keeping the parse error as the cause', () => {
    const error = refusal(() => decodeCursor(forged('{"v":1,'), SCOPE));
    expect(error.message).toBe('invalid cursor: does not decode');
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });

  it.each([
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"cursor"'],
    ['a list', '[1,{"v":1}]'],
  ])('refuses a cursor whose JSON is %s', (_what, json) => {
    const error = refusal(() => decodeCursor(forged(json), SCOPE));
    expect(error.message).toBe('invalid cursor: does not decode');
    expect(error.cause).toBeUndefined();
  });
});

describe('datePage', () => {
  it('a first page has the query limit, open bounds and no position', () => {
    const page = datePage(SCOPE, { limit: 25 });
    expect(page).toEqual({ limit: 25, low: '', high: '\u{10FFFF}', after: null });
    expect(datePage(SCOPE, { limit: 25, cursor: null }).after).toBeNull();
  });

  it('normalises since and until to sortable UTC ISO strings', () => {
    const page = datePage(SCOPE, {
      limit: 10,
      since: '2024-03-01T12:00:00+02:00',
      until: 'Fri, 01 Mar 2024 12:00:00 GMT',
    });
    expect(page).toMatchObject({
      low: '2024-03-01T10:00:00.000Z',
      high: '2024-03-01T12:00:00.000Z',
    });
  });

  it.each(['since', 'until'] as const)('names %s when it is not a date', (field) => {
    expect(() => datePage(SCOPE, { limit: 10, [field]: 'last tuesday' })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: `${field} is not an ISO 8601 date: last tuesday`,
      }),
    );
  });

  it('refuses a bad limit before reading the cursor', () => {
    expect(() => datePage(SCOPE, { limit: 0, cursor: 'not a cursor' })).toThrow(ArchiveError);
  });

  it('resumes after the position a cursor names, including one on either bound', () => {
    const since = '2024-03-01T10:00:00.000Z';
    const until = '2024-03-02T10:00:00.000Z';
    for (const sortDate of [since, '2024-03-01T20:00:00.000Z', until]) {
      const cursor = encodeCursor(SCOPE, { sortDate, messageKey: 'k9' });
      expect(datePage(SCOPE, { limit: 5, since, until, cursor })).toEqual({
        limit: 5,
        low: since,
        high: until,
        after: { sortDate, messageKey: 'k9' },
      });
    }
  });

  it.each([
    ['before since', '2024-03-01T09:59:59.999Z'],
    ['after until', '2024-03-02T10:00:00.001Z'],
  ])('refuses a cursor from a wider query whose position lies %s', (_where, sortDate) => {
    const cursor = encodeCursor(SCOPE, { sortDate, messageKey: 'k9' });
    const error = refusal(() =>
      datePage(SCOPE, {
        limit: 5,
        since: '2024-03-01T10:00:00.000Z',
        until: '2024-03-02T10:00:00.000Z',
        cursor,
      }),
    );
    expect(error.message).toBe('invalid cursor: position lies outside this query');
  });

  it.each([
    ['a date that is a list', { sortDate: [POSITION.sortDate], messageKey: 'k1' }],
    ['no date', { messageKey: 'k1' }],
    ['a key that is a number', { sortDate: POSITION.sortDate, messageKey: 7 }],
    ['no key', { sortDate: POSITION.sortDate }],
    ['a date that is not sortable ISO', { sortDate: '2024-03-01', messageKey: 'k1' }],
  ])('refuses a cursor whose position has %s', (_what, position) => {
    const cursor = encodeCursor(SCOPE, position);
    const error = refusal(() => datePage(SCOPE, { limit: 5, cursor }));
    expect(error.message).toBe('invalid cursor: no position');
  });

  it('refuses a cursor issued for another mailbox', () => {
    const cursor = encodeCursor({ ...SCOPE, mailboxId: 'other' }, POSITION);
    const error = refusal(() => datePage(SCOPE, { limit: 5, cursor }));
    expect(error.message).toBe('invalid cursor: issued for another mailbox');
  });
});
