/**
 * What a store held becomes a record only if every field is what it should be; otherwise the read
 * fails as STORE_CORRUPT, naming the item's key and the field, so a damaged or hand-edited item is
 * found from the error alone.
 */
import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import {
  CorruptItemError,
  decodeMessage,
  decodeRun,
  FieldReader,
  STORED_ITEM_VERSION,
} from '../../functions/core/archive/record-decoder.js';
import { UNVERSIONED_PARSER } from '../../functions/core/message/parser-version.js';

const KEY = 'msg#inbox#k1';

/** A message record's stored fields as a store adapter hands them over. */
function storedMessage(): Record<string, unknown> {
  return {
    messageId: '<a@example.org>',
    from: [{ address: 'a@example.org', name: 'A' }],
    to: [],
    cc: [],
    addressesTruncated: false,
    subject: 'Hello',
    dateHeader: 'Fri, 01 Mar 2024 10:00:00 +0000',
    date: '2024-03-01T10:00:00.000Z',
    attachments: [],
    attachmentsTruncated: false,
    snippet: 'Hi',
    parseError: null,
    mailboxId: 'inbox',
    messageKey: 'k1',
    uidl: 'u1',
    octets: 120,
    sha256: 'ab'.repeat(32),
    rawKey: 'raw/x',
    archivedAt: '2024-03-01T10:00:01.000Z',
    runId: 'r1',
    deletedFromServerAt: null,
  };
}

/** The CorruptItemError `run` throws. */
function corruption(run: () => unknown): CorruptItemError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CorruptItemError);
    return error as CorruptItemError;
  }
  throw new Error('expected the item to be refused as corrupt');
}

describe('CorruptItemError', () => {
  it('is a STORE_CORRUPT archive error naming the key and the field', () => {
    const error = new CorruptItemError(KEY, 'octets', 'is not a number');
    expect(error).toBeInstanceOf(ArchiveError);
    expect(error.name).toBe('CorruptItemError');
    expect(error.code).toBe('STORE_CORRUPT');
    expect(error.message).toBe(`stored item ${KEY}: octets is not a number`);
    expect([error.key, error.field]).toEqual([KEY, 'octets']);
  });

  it('cuts a very long key to 300 characters in the message but keeps it whole on the error', () => {
    const key = `k${'x'.repeat(500)}`;
    const error = new CorruptItemError(key, 'octets', 'is not a number');
    expect(error.message).toBe(`stored item ${key.slice(0, 300)}: octets is not a number`);
    expect(error.key).toBe(key);
  });
});

describe('FieldReader', () => {
  it.each([
    ['null', null],
    ['a string', 'item'],
    ['a list', [{}]],
  ])('refuses an item that is %s as a whole', (_what, values) => {
    const error = corruption(() => new FieldReader(values, KEY));
    expect(error.message).toBe(`stored item ${KEY}: item is not an object`);
    expect(error.field).toBe('item');
  });

  it('names a nested object that is not one by its path', () => {
    const error = corruption(() => new FieldReader({ counts: 5 }, KEY).object('counts'));
    expect(error.message).toBe(`stored item ${KEY}: counts. is not an object`);
  });

  it('names a list entry that is not an object by its index', () => {
    const reader = new FieldReader({ to: [{ address: 'b@x', name: '' }, 'c@x'] }, KEY);
    const error = corruption(() => reader.list('to', (r) => r.string('address')));
    expect(error.message).toBe(`stored item ${KEY}: to[1]. is not an object`);
  });

  it.each<[string, (r: FieldReader) => unknown, string]>([
    ['a string', (r) => r.string('f'), 'f is not a string'],
    ['a boolean', (r) => r.boolean('f'), 'f is not a boolean'],
    ['a list', (r) => r.list('f', () => 1), 'f is not a list'],
    ['a number', (r) => r.number('f'), 'f is not a number'],
  ])('says a field is not %s', (_kind, read, problem) => {
    const error = corruption(() => read(new FieldReader({ f: {} }, KEY)));
    expect(error.message).toBe(`stored item ${KEY}: ${problem}`);
  });

  it.each([
    ['NaN', Number.NaN],
    ['infinite', Number.POSITIVE_INFINITY],
  ])('refuses a number field that is %s: no count or size is', (_what, value) => {
    const error = corruption(() => new FieldReader({ octets: value }, KEY).number('octets'));
    expect(error.message).toBe(`stored item ${KEY}: octets is not a number`);
  });

  it('reads an absent version as an item from before versions, and the current one as it is', () => {
    expect(new FieldReader({}, KEY).version('v')).toBe(1);
    expect(new FieldReader({ v: STORED_ITEM_VERSION }, KEY).version('v')).toBe(STORED_ITEM_VERSION);
  });

  it.each([0, -3, 0.5])('refuses a stored version of %s', (version) => {
    const error = corruption(() => new FieldReader({ v: version }, KEY).version('v'));
    expect(error.message).toBe(`stored item ${KEY}: v is not a version`);
  });

  it('refuses an item written by a newer popvault, saying to upgrade', () => {
    const error = corruption(() =>
      new FieldReader({ v: STORED_ITEM_VERSION + 1 }, KEY).version('v'),
    );
    expect(error.message).toContain('written by a newer popvault');
  });
});

describe('decodeMessage', () => {
  it('reads a record written before parser versions and kept text as unversioned and not cut', () => {
    const record = decodeMessage(new FieldReader(storedMessage(), KEY));
    expect(record.textTruncated).toBe(false);
    expect(record.parserVersion).toBe(UNVERSIONED_PARSER);
    expect(record.from).toEqual([{ address: 'a@example.org', name: 'A' }]);
  });

  it('keeps a stored textTruncated flag', () => {
    const stored = { ...storedMessage(), textTruncated: true, parserVersion: 3 };
    const record = decodeMessage(new FieldReader(stored, KEY));
    expect(record.textTruncated).toBe(true);
    expect(record.parserVersion).toBe(3);
  });

  it('names a bad field inside an address list', () => {
    const stored = { ...storedMessage(), cc: [{ address: 'c@x', name: null }] };
    const error = corruption(() => decodeMessage(new FieldReader(stored, KEY)));
    expect(error.message).toBe(`stored item ${KEY}: cc[0].name is not a string`);
    expect(error.field).toBe('cc[0].name');
  });
});

describe('decodeRun', () => {
  it('names a counts field that is not an object', () => {
    const stored = {
      mailboxId: 'inbox',
      runId: 'r1',
      startedAt: '2024-03-01T10:00:00.000Z',
      endedAt: '2024-03-01T10:01:00.000Z',
      outcome: 'success',
      counts: 'none',
    };
    const error = corruption(() => decodeRun(new FieldReader(stored, 'run#inbox#r1')));
    expect(error.message).toBe('stored item run#inbox#r1: counts. is not an object');
  });
});
