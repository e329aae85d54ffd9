/**
 * Arguments every archive adapter refuses before touching its store: a raw-object digest that is not
 * a hex SHA-256 (it becomes part of a key), and a lease whose times are not whole milliseconds or
 * whose TTL is not positive.
 */
import { describe, expect, it } from 'vitest';
import { checkLeaseRequest } from '../../functions/core/archive/lease-request.js';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';

describe('rawObjectKey', () => {
  it('places a message under its base64url mailbox id and a two-digit fan-out', () => {
    const sha256 = `ab${'0'.repeat(62)}`;
    expect(rawObjectKey('in/box', sha256)).toBe(`raw/aW4vYm94/ab/${sha256}.eml`);
  });

  it('refuses a digest that is not 64 lower-case hex digits, quoting at most 80 characters', () => {
    expect(() => rawObjectKey('inbox', 'AB'.repeat(32))).toThrow(
      `not a hex SHA-256: ${'AB'.repeat(32)}`,
    );
    // A digest with anything after its 64 digits would put that text into the key.
    expect(() => rawObjectKey('inbox', `${'a'.repeat(64)}/x`)).toThrow('not a hex SHA-256');
    expect(() => rawObjectKey('inbox', 'a'.repeat(65))).toThrow('not a hex SHA-256');
    const long = `../${'f'.repeat(100)}`;
    expect(() => rawObjectKey('inbox', long)).toThrow(
      expect.objectContaining({ message: `not a hex SHA-256: ${long.slice(0, 80)}` }),
    );
  });
});

describe('checkLeaseRequest', () => {
  it('accepts whole-millisecond times with a positive TTL', () => {
    expect(() =>
      checkLeaseRequest({ mailboxId: 'inbox', owner: 'run-1', now: 1_700_000_000_000, ttlMs: 1 }),
    ).not.toThrow();
  });

  it.each([
    ['a fractional now', { now: 1.5, ttlMs: 1000 }],
    ['a NaN TTL', { now: 0, ttlMs: Number.NaN }],
    ['a zero TTL', { now: 0, ttlMs: 0 }],
    ['a negative TTL', { now: 0, ttlMs: -1 }],
  ])('refuses %s, saying what a lease request must be', (_what, times) => {
    expect(() => checkLeaseRequest({ mailboxId: 'inbox', owner: 'run-1', ...times })).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: 'lease now and ttlMs must be integers, ttlMs > 0',
      }),
    );
  });
});
