/**
 * What a local put, get and has refuse, and what they say when the file system fails them: the
 * errors a caller branches on (code) and logs (message, cause), produced by real files in a
 * temporary directory (a directory where a file belongs, a symlink loop, a missing tmp/).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  LocalRawStore,
  localRawKey,
  STALE_TMP_MS,
} from '../../functions/adapters/local/local-raw-store.js';
import type { RawPutInput } from '../../functions/core/archive/ports.js';

const root = mkdtempSync(join(tmpdir(), 'popvault-local-refusals-'));

afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function fresh(label: string): string {
  return join(root, `${label}-${randomBytes(5).toString('hex')}`);
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function bufferInput(mailboxId: string, data: Buffer): RawPutInput {
  return {
    mailboxId,
    sha256: sha256Hex(data),
    octets: data.length,
    source: { kind: 'buffer', data },
  };
}

function segmentOf(mailboxId: string): string {
  return Buffer.from(mailboxId).toString('base64url');
}

/** The error a promise rejects with (the test fails if it resolves). */
async function rejection(
  promise: Promise<unknown>,
): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('keys and arguments a local store refuses, saying what was wrong', () => {
  it('a digest that is not lower-case hex is named in the error, cut to 80 characters', async () => {
    const bad = `${'G'.repeat(100)}`;
    expect(() => localRawKey('mbx', bad)).toThrow(
      expect.objectContaining({
        code: 'INVALID_ARGUMENT',
        message: `not a lower-case hex SHA-256: ${'G'.repeat(80)}`,
      }),
    );
    const store = new LocalRawStore({ directory: fresh('digest') });
    const error = await rejection(
      store.put({ ...bufferInput('mbx', Buffer.from('x')), sha256: bad, octets: -1 }),
    );
    // The digest is checked before the size: its message, not the size's.
    expect(error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: `not a lower-case hex SHA-256: ${'G'.repeat(80)}`,
    });
  });

  it('a negative or fractional octet count is refused before anything is written', async () => {
    const directory = fresh('octets');
    const store = new LocalRawStore({ directory });
    for (const octets of [-1, 1.5]) {
      const error = await rejection(store.put({ ...bufferInput('mbx', Buffer.from('x')), octets }));
      expect(error).toMatchObject({
        code: 'INVALID_ARGUMENT',
        message: 'octets must be a non-negative integer',
      });
    }
    expect(readdirSync(root)).not.toContain(directory.split('/').pop());
  });

  it('a mailbox id is measured in UTF-8 octets: 1 to 191 of them, the refusal naming the count', async () => {
    const digest = sha256Hex(Buffer.from('x'));
    for (const [mailboxId, octets] of [
      ['', 0],
      ['é'.repeat(96), 192],
    ] as const) {
      expect(() => localRawKey(mailboxId, digest)).toThrow(
        expect.objectContaining({
          code: 'INVALID_ARGUMENT',
          message: `a local archive's mailbox id must be 1 to 191 octets, not ${octets}`,
        }),
      );
    }
    expect(localRawKey('é'.repeat(95), digest)).toBe(
      `${segmentOf('é'.repeat(95))}/cur/${digest}:2,S`,
    );
  });

  it('a key that is not its own is named in the error, cut to 120 characters', async () => {
    const store = new LocalRawStore({ directory: fresh('key') });
    const key = `../${'k'.repeat(200)}`;
    const error = await rejection(store.get(key));
    expect(error).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: `not a local raw key: ${key.slice(0, 120)}`,
    });
  });
});

describe('bytes that are not what the caller described are refused, the message saying how', () => {
  it('a buffer of the wrong size is refused by its size, before it is hashed', async () => {
    const store = new LocalRawStore({ directory: fresh('size') });
    const data = Buffer.from('abc');
    const input = { ...bufferInput('mbx', data), octets: 4 };
    expect(await rejection(store.put(input))).toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      message: `source holds 3 octets, expected 4 (sha256 ${input.sha256})`,
    });
  });

  it('bytes of the right size but another digest are refused naming both digests', async () => {
    const store = new LocalRawStore({ directory: fresh('digest-mismatch') });
    const data = Buffer.from('abc');
    const expected = 'f'.repeat(64);
    const input = { ...bufferInput('mbx', data), sha256: expected };
    expect(await rejection(store.put(input))).toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      message: `source has sha256 ${sha256Hex(data)}, expected ${expected}`,
    });
  });

  it('a spool file is copied whole; one of the wrong size is refused by its size', async () => {
    const directory = fresh('spool');
    mkdirSync(directory);
    const spool = join(directory, 'spooled.eml');
    const data = randomBytes(3000);
    writeFileSync(spool, data);
    const store = new LocalRawStore({ directory: join(directory, 'store') });
    const input: RawPutInput = {
      mailboxId: 'mbx',
      sha256: sha256Hex(data),
      octets: data.length,
      source: { kind: 'file', path: spool },
    };
    const ref = await store.put(input);
    expect(ref).toEqual({
      key: localRawKey('mbx', input.sha256),
      ...{ sha256: input.sha256, octets: 3000 },
    });
    const chunks: Buffer[] = [];
    for await (const chunk of await store.get(ref.key)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);

    expect(await rejection(store.put({ ...input, octets: 2999 }))).toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      message: `spool file holds 3000 octets, expected 2999 (sha256 ${input.sha256})`,
    });
  });

  it('a spool file that cannot be opened is SOURCE_UNREADABLE, naming errno and path', async () => {
    const store = new LocalRawStore({ directory: fresh('unreadable') });
    const path = join(root, 'no-such-spool.eml');
    const error = await rejection(
      store.put({ ...bufferInput('mbx', Buffer.from('x')), source: { kind: 'file', path } }),
    );
    expect(error).toMatchObject({
      code: 'SOURCE_UNREADABLE',
      message: `cannot read the spooled message (ENOENT): ${path}`,
    });
    expect(error.cause).toMatchObject({ code: 'ENOENT' });
  });
});

describe('file system failures of a local store, by operation, errno and path', () => {
  it('a rename onto a directory fails the put as STORE_FAILED and leaves no tmp file', async () => {
    const directory = fresh('rename');
    const store = new LocalRawStore({ directory });
    const data = Buffer.from('Subject: blocked\r\n\r\n');
    const key = localRawKey('mbx', sha256Hex(data));
    // A non-empty directory where the message's file belongs: rename(2) says EISDIR.
    mkdirSync(join(directory, ...key.split('/'), 'inside'), { recursive: true });
    const error = await rejection(store.put(bufferInput('mbx', data)));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toMatch(
      new RegExp(`^file rename failed \\(EISDIR\\): ${join(directory, segmentOf('mbx'), 'tmp')}/`),
    );
    expect(error.cause).toMatchObject({ code: 'EISDIR' });
    expect(readdirSync(join(directory, segmentOf('mbx'), 'tmp'))).toEqual([]);
  });

  it('a message file that cannot be opened or examined is a store failure, not a missing message', async () => {
    const directory = fresh('loop');
    const store = new LocalRawStore({ directory });
    const data = Buffer.from('x');
    await store.put(bufferInput('mbx', Buffer.from('other')));
    const key = localRawKey('mbx', sha256Hex(data));
    const path = join(directory, ...key.split('/'));
    symlinkSync(path, path); // ELOOP on every open and stat
    expect(await rejection(store.get(key))).toMatchObject({
      code: 'STORE_FAILED',
      message: `file open failed (ELOOP): ${path}`,
    });
    expect(await rejection(store.has(key))).toMatchObject({
      code: 'STORE_FAILED',
      message: `file stat failed (ELOOP): ${path}`,
    });
    const missing = localRawKey('mbx', 'a'.repeat(64));
    const notFound = await rejection(store.get(missing));
    expect(notFound).toMatchObject({ code: 'NOT_FOUND', message: `no raw message ${missing}` });
    expect(notFound.cause).toMatchObject({ code: 'ENOENT' });
  });

  it('a tmp/ that vanished fails the put at the create, naming the tmp file', async () => {
    const directory = fresh('create');
    const store = new LocalRawStore({ directory });
    await store.put(bufferInput('mbx', Buffer.from('first')));
    rmSync(join(directory, segmentOf('mbx'), 'tmp'), { recursive: true });
    const error = await rejection(store.put(bufferInput('mbx', Buffer.from('second'))));
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toMatch(
      new RegExp(`^file create failed \\(ENOENT\\): ${join(directory, segmentOf('mbx'), 'tmp')}/`),
    );
  });

  it('a mailbox directory that cannot be made fails the put, and the next put tries again', async () => {
    const directory = fresh('mkdir');
    mkdirSync(directory);
    const mailbox = join(directory, segmentOf('mbx'));
    writeFileSync(mailbox, 'a file where the Maildir belongs');
    const store = new LocalRawStore({ directory });
    expect(await rejection(store.put(bufferInput('mbx', Buffer.from('x'))))).toMatchObject({
      code: 'STORE_FAILED',
      message: `file mkdir failed (ENOTDIR): ${mailbox}`,
    });
    rmSync(mailbox);
    const ref = await store.put(bufferInput('mbx', Buffer.from('x')));
    expect(await store.has(ref.key)).toBe(true);
  });
});

describe('the sweep of stale tmp files', () => {
  it('runs when a store first uses a mailbox, not on every put', async () => {
    const directory = fresh('sweep-once');
    const store = new LocalRawStore({ directory });
    await store.put(bufferInput('mbx', Buffer.from('first')));
    const stray = join(directory, segmentOf('mbx'), 'tmp', 'left.1_2.host');
    writeFileSync(stray, 'partial');
    const old = (Date.now() - STALE_TMP_MS - 60_000) / 1000;
    utimesSync(stray, old, old);
    await store.put(bufferInput('mbx', Buffer.from('second')));
    expect(readdirSync(join(directory, segmentOf('mbx'), 'tmp'))).toEqual(['left.1_2.host']);
  });

  it('keeps a tmp file exactly 36 hours old and removes one a second older', async () => {
    const directory = fresh('sweep-edge');
    const tmp = join(directory, segmentOf('mbx'), 'tmp');
    mkdirSync(tmp, { recursive: true });
    const now = 1_800_000_000_000;
    const edge = join(tmp, 'edge.1_2.host');
    const older = join(tmp, 'older.1_2.host');
    writeFileSync(edge, 'x');
    writeFileSync(older, 'x');
    utimesSync(edge, (now - STALE_TMP_MS) / 1000, (now - STALE_TMP_MS) / 1000);
    utimesSync(older, (now - STALE_TMP_MS - 1000) / 1000, (now - STALE_TMP_MS - 1000) / 1000);
    vi.spyOn(Date, 'now').mockReturnValue(now);
    await new LocalRawStore({ directory }).put(bufferInput('mbx', Buffer.from('x')));
    expect(readdirSync(tmp)).toEqual(['edge.1_2.host']);
  });
});
