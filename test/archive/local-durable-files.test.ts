/**
 * The durable file primitives of the local archive: errno codes mapped to the ArchiveError codes
 * callers branch on (retry later, stop the run, give up on the message), complete writes however
 * short each write(2) is, Maildir's host name, and directories created with each creation fsynced
 * into its parent. node:fs, node:fs/promises and node:os are wrapped only to record calls and to
 * produce the faults a real disk will not produce on demand.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';

const writes: { offset: number; length: number; size: number }[] = [];
const syncs: string[] = [];
/** Paths of the FileHandles opened and not yet closed. */
const openHandles: string[] = [];
let hostnameCalls = 0;
let mkdirCalls = 0;
let mkdirFault: string | null = null;
const SHORT_WRITE = 5;

vi.mock('node:os', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:os')>();
  return {
    ...actual,
    hostname: () => {
      hostnameCalls += 1;
      return 'mail/host:1';
    },
  };
});

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const { promisify } = await import('node:util');
  const writeAsync = promisify(actual.write);
  // A disk that takes at most SHORT_WRITE octets per write(2), as a pipe or a full quota may.
  const short = Object.assign(actual.write.bind(null) as typeof actual.write, {
    [promisify.custom]: (
      fd: number,
      data: Uint8Array,
      offset: number,
      length: number,
      position: null,
    ) => {
      writes.push({ offset, length, size: data.length });
      return writeAsync(fd, data, offset, Math.min(length, SHORT_WRITE), position);
    },
  });
  return { ...actual, write: short };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    mkdir: async (path: string, options: { mode: number }) => {
      mkdirCalls += 1;
      if (mkdirCalls > 100) throw new Error('mkdir called over 100 times: a runaway recursion');
      if (mkdirFault !== null) {
        throw Object.assign(new Error(`${mkdirFault}: ${path}`), { code: mkdirFault });
      }
      return actual.mkdir(path, options);
    },
    open: async (path: string, flags?: string, mode?: number) => {
      const handle = await actual.open(path, flags, mode);
      openHandles.push(path);
      const close = handle.close.bind(handle);
      handle.close = async () => {
        openHandles.splice(openHandles.indexOf(path), 1);
        return close();
      };
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        syncs.push(path);
        return sync();
      };
      return handle;
    },
  };
});

const files = await import('../../functions/adapters/local/local-durable-files.js');

beforeEach(() => {
  writes.length = 0;
  syncs.length = 0;
  mkdirCalls = 0;
  mkdirFault = null;
});

function errnoError(code: unknown): Error {
  return Object.assign(new Error(`failed with ${String(code)}`), { code });
}

describe('errno codes become the ArchiveError codes callers act on', () => {
  it.each([
    ['EACCES', 'STORE_ACCESS_DENIED'],
    ['EPERM', 'STORE_ACCESS_DENIED'],
    ['EROFS', 'STORE_ACCESS_DENIED'],
    ['ENOSPC', 'STORE_UNAVAILABLE'],
    ['EDQUOT', 'STORE_UNAVAILABLE'],
    ['EMFILE', 'STORE_UNAVAILABLE'],
    ['ENFILE', 'STORE_UNAVAILABLE'],
    ['EAGAIN', 'STORE_UNAVAILABLE'],
    ['EBUSY', 'STORE_UNAVAILABLE'],
    ['ENAMETOOLONG', 'STORE_REJECTED'],
    ['EIO', 'STORE_FAILED'],
    [null, 'STORE_FAILED'],
    ['', 'STORE_FAILED'],
  ])('%s is %s', (errno, code) => {
    expect(files.codeFor(errno)).toBe(code);
  });

  it('a denied file system stops the run; a full one fails only the message', () => {
    expect(files.storeError(errnoError('EROFS'), 'create', '/a').systemic).toBe(true);
    expect(files.storeError(errnoError('ENOSPC'), 'write', '/a').systemic).toBe(false);
  });
});

describe('a file failure names the operation, the errno and the path, and keeps the cause', () => {
  it('says which operation failed on which path, with what errno', () => {
    const cause = errnoError('ENOSPC');
    const error = files.storeError(cause, 'write', '/archive/x');
    expect(error).toBeInstanceOf(ArchiveError);
    expect(error).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: 'file write failed (ENOSPC): /archive/x',
    });
    expect(error.cause).toBe(cause);
  });

  it('an error without an errno is a plain store failure, "(error)" in its message', () => {
    for (const cause of [new Error('odd'), errnoError(5), null, undefined, 'text']) {
      expect(files.errnoOf(cause)).toBeNull();
      expect(files.storeError(cause, 'rename', '/p')).toMatchObject({
        code: 'STORE_FAILED',
        message: 'file rename failed (error): /p',
      });
    }
  });

  it('an ArchiveError passes through as it is, not wrapped again', () => {
    const inner = new ArchiveError('CHECKSUM_MISMATCH', 'wrong bytes');
    expect(files.storeError(inner, 'write', '/p')).toBe(inner);
  });

  it('an unreadable spool file is SOURCE_UNREADABLE, with its errno or "(error)"', () => {
    const cause = errnoError('EIO');
    const error = files.sourceUnreadable('/spool/1', cause);
    expect(error).toMatchObject({
      code: 'SOURCE_UNREADABLE',
      message: 'cannot read the spooled message (EIO): /spool/1',
    });
    expect(error.cause).toBe(cause);
    expect(files.sourceUnreadable('/spool/2', new Error('x')).message).toBe(
      'cannot read the spooled message (error): /spool/2',
    );
  });
});

describe('writes and names', () => {
  it('a write that takes fewer octets than asked is continued until every octet is in the file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'popvault-short-write-')), 'f');
    const data = Buffer.from('twelve bytes');
    const fd = await files.openFile(path, 'wx', files.FILE_MODE);
    try {
      await files.writeAll(fd, data);
    } finally {
      await files.closeFile(fd);
    }
    expect(readFileSync(path)).toEqual(data);
    expect(writes).toEqual([
      { offset: 0, length: 12, size: 12 },
      { offset: 5, length: 7, size: 12 },
      { offset: 10, length: 2, size: 12 },
    ]);
  });

  it('the Maildir host part replaces "/" and ":" and is looked up once', () => {
    expect(files.maildirHost()).toBe('mail_host_1');
    expect(files.maildirHost()).toBe('mail_host_1');
    expect(hostnameCalls).toBe(1);
  });
});

describe('directories are created 0700, each creation fsynced into its parent', () => {
  it('creates missing parents first, syncs each parent after its child appears, and closes each directory it opened', async () => {
    const base = mkdtempSync(join(tmpdir(), 'popvault-mkdir-'));
    const leaf = join(base, 'a', 'b', 'c');
    await files.mkdirDurable(leaf);
    expect(statSync(leaf).mode & 0o777).toBe(0o700);
    expect(statSync(join(base, 'a')).mode & 0o777).toBe(0o700);
    expect(syncs).toEqual([base, join(base, 'a'), join(base, 'a', 'b')]);
    expect(openHandles).toEqual([]); // each directory opened to be synced is closed again
    // One that exists already is left as it is, and nothing is synced.
    syncs.length = 0;
    await files.mkdirDurable(leaf);
    expect(syncs).toEqual([]);
  });

  it('a path under a regular file fails with ENOTDIR instead of climbing again and again', async () => {
    const base = mkdtempSync(join(tmpdir(), 'popvault-notdir-'));
    writeFileSync(join(base, 'file'), 'x');
    await expect(files.mkdirDurable(join(base, 'file', 'sub'))).rejects.toMatchObject({
      code: 'ENOTDIR',
    });
    expect(mkdirCalls).toBe(1);
  });

  it('a file system that reports even its root missing fails the mkdir once it reaches the root', async () => {
    mkdirFault = 'ENOENT';
    const path = join('/', 'x', 'y');
    await expect(files.mkdirDurable(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(mkdirCalls).toBe(3);
  });
});
