import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../functions/query-api/errors.js';
import {
  decodeMessageRef,
  encodeMessageRef,
  parseDateBound,
  parseMessageIdQuery,
} from '../../functions/query-api/params.js';

const mailboxId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);

describe('message ids in URLs', () => {
  it('round-trip any message key, whatever characters it holds', () => {
    fc.assert(
      fc.property(mailboxId, fc.string({ unit: 'grapheme', minLength: 1 }), (box, key) => {
        const id = encodeMessageRef({ mailboxId: box, messageKey: key });
        expect(id).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(decodeMessageRef(id)).toEqual({ mailboxId: box, messageKey: key });
      }),
    );
  });

  it('accept only the one spelling they were issued in; anything else is a 400', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          const ref = decodeMessageRef(text);
          expect(encodeMessageRef(ref)).toBe(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ApiError);
          expect((error as ApiError).status).toBe(400);
          expect((error as ApiError).code).toBe('INVALID_MESSAGE_ID');
        }
      }),
    );
  });
});

describe('date bounds', () => {
  it.each([
    ['since', '2024-05-15', '2024-05-15T00:00:00.000Z'],
    ['until', '2024-05-15', '2024-05-15T23:59:59.999Z'],
    ['until', '2024-02-29', '2024-02-29T23:59:59.999Z'],
    ['since', '2024-05-15T10:00:00Z', '2024-05-15T10:00:00.000Z'],
    ['since', '2024-05-15T10:00Z', '2024-05-15T10:00:00.000Z'],
    ['since', '2024-05-15t10:00:00.123456z', '2024-05-15T10:00:00.123Z'],
    ['since', '2024-05-15T01:00:00+02:00', '2024-05-14T23:00:00.000Z'],
    ['since', '2024-05-15T01:00:00 02:00', '2024-05-14T23:00:00.000Z'],
    ['until', '2024-05-15T23:00:00-05:00', '2024-05-16T04:00:00.000Z'],
  ] as const)('%s=%s is %s', (name, value, iso) => {
    expect(parseDateBound(name, value)).toBe(iso);
  });

  it.each([
    '',
    '2024-5-15',
    '15.05.2024',
    '2024-05-15T10:00:00',
    '2024-13-01',
    '2023-02-29',
    '2024-04-31T00:00:00Z',
    '2024-05-15T23:60:00Z',
    '2024-05-15T10:00:00+24:00',
    '0000-01-01T00:00:00+01:00',
    '1715767200000',
  ])('refuses %j', (value) => {
    expect(() => parseDateBound('since', value)).toThrow(ApiError);
  });
});

describe('Message-ID queries', () => {
  it.each([
    ['<a@b>', '<a@b>'],
    ['a@b', '<a@b>'],
    ['  <a@b>  ', '<a@b>'],
    ['<=?utf-8?q?caf=C3=A9?=.123@example.com>', '<=?utf-8?q?caf=C3=A9?=.123@example.com>'],
  ])('%j is looked up as %j, the form the parser stores', (value, stored) => {
    expect(parseMessageIdQuery(value)).toBe(stored);
  });
});
