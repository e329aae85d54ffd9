/**
 * A local put under the faults a real disk produces only by bad luck: a failed write or fsync, a
 * spool file that changes size while it is copied, tmp files vanishing under a concurrent sweep, and
 * directory syncs that take their time while other puts finish. Real files are written; node:fs and
 * node:fs/promises are wrapped to inject the fault and to count descriptors and syncs.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { RawPutInput } from '../../functions/core/archive/ports.js';

interface Gate {
  path: string;
  release: () => void;
}

const faults = {
  write: null as string | null,
  fileSync: null as string | null,
  directorySync: null as string | null,
  /** Runs after the store's stat of a spool file, before it is read. */
  afterSpoolStat: null as ((path: string) => void) | null,
  /** Replaces the store's lstat of a tmp file during a sweep. */
  sweepLstat: null as ((path: string, real: () => Promise<unknown>) => Promise<unknown>) | null,
  /** When set, each directory sync waits for its gate to be released. */
  holdDirectorySyncs: false,
};
const openFds = new Set<number>();
const openHandles = new Set<string>();
const directorySyncs: string[] = [];
const gates: Gate[] = [];
let renamed = 0;
/** Checked after every gated sync and every rename: resolves `until` promises. */
const waiters = new Set<() => void>();

function notify(): void {
  for (const check of [...waiters]) check();
}

/** Resolves once `condition` holds, checked whenever a sync reaches its gate or a rename ends. */
function until(condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (!condition()) return;
      waiters.delete(check);
      resolve();
    };
    waiters.add(check);
    check();
  });
}

function errno(code: string): Error {
  return Object.assign(new Error(`injected ${code}`), { code });
}

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  const { promisify } = await import('node:util');
  const writeAsync = promisify(actual.write);
  const write = Object.assign(actual.write.bind(null) as typeof actual.write, {
    [promisify.custom]: async (fd: number, data: Uint8Array, ...rest: [number, number, null]) => {
      if (faults.write !== null) throw errno(faults.write);
      return writeAsync(fd, data, ...rest);
    },
  });
  return {
    ...actual,
    write,
    open: (path: string, flags: string, mode: number, cb: (e: Error | null, fd: number) => void) =>
      actual.open(path, flags, mode, (error, fd) => {
        if (!error) openFds.add(fd);
        cb(error, fd);
      }),
    close: (fd: number, cb: (e: Error | null) => void) => {
      openFds.delete(fd);
      actual.close(fd, cb);
    },
    fsync: (fd: number, cb: (e: Error | null) => void) => {
      if (faults.fileSync !== null) cb(errno(faults.fileSync));
      else actual.fsync(fd, cb);
    },
  };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rename: async (from: string, to: string) => {
      await actual.rename(from, to);
      renamed += 1;
      notify();
    },
    lstat: (path: string) =>
      faults.sweepLstat === null
        ? actual.lstat(path)
        : faults.sweepLstat(path, () => actual.lstat(path)),
    open: async (path: string, flags?: string, mode?: number) => {
      const handle = await actual.open(path, flags, mode);
      const id = `${path}#${handle.fd}`;
      openHandles.add(id);
      const { close, sync, stat } = {
        close: handle.close.bind(handle),
        sync: handle.sync.bind(handle),
        stat: handle.stat.bind(handle),
      };
      handle.close = async () => {
        openHandles.delete(id);
        return close();
      };
      handle.stat = (async (...args: Parameters<typeof stat>) => {
        const info = await stat(...args);
        faults.afterSpoolStat?.(path);
        return info;
      }) as typeof handle.stat;
      handle.sync = async () => {
        directorySyncs.push(path);
        if (faults.directorySync !== null) throw errno(faults.directorySync);
        if (faults.holdDirectorySyncs) {
          await new Promise<void>((release) => {
            gates.push({ path, release });
            notify();
          });
        }
        return sync();
      };
      return handle;
    },
  };
});

const { LocalRawStore, STALE_TMP_MS } = await import(
  '../../functions/adapters/local/local-raw-store.js'
);

beforeEach(() => {
  faults.write = null;
  faults.fileSync = null;
  faults.directorySync = null;
  faults.afterSpoolStat = null;
  faults.sweepLstat = null;
  faults.holdDirectorySyncs = false;
  directorySyncs.length = 0;
  gates.length = 0;
});

const root = mkdtempSync(join(tmpdir(), 'popvault-io-faults-'));

function fresh(label: string): string {
  return join(root, `${label}-${randomBytes(5).toString('hex')}`);
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function bufferInput(data: Buffer, mailboxId = 'mbx'): RawPutInput {
  return {
    mailboxId,
    sha256: sha256Hex(data),
    octets: data.length,
    source: { kind: 'buffer', data },
  };
}

function tmpOf(directory: string, mailboxId = 'mbx'): string {
  return join(directory, Buffer.from(mailboxId).toString('base64url'), 'tmp');
}

/** Lets every callback and promise reaction already due run (one turn of the event loop). */
function drained(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('a put that fails on the disk fails whole: an error, no tmp file, no open descriptor', () => {
  it('a full disk during the write is STORE_UNAVAILABLE (retry later), naming the write', async () => {
    const directory = fresh('enospc');
    const store = new LocalRawStore({ directory });
    faults.write = 'ENOSPC';
    await expect(store.put(bufferInput(Buffer.from('Subject: full\r\n')))).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: 'file write failed (ENOSPC): tmp file',
    });
    expect(readdirSync(tmpOf(directory))).toEqual([]);
    expect(openFds.size).toBe(0);
  });

  it('a failed fsync of the file fails the put before the rename, naming the tmp file', async () => {
    const directory = fresh('fsync');
    const store = new LocalRawStore({ directory });
    faults.fileSync = 'EIO';
    const error = await store.put(bufferInput(Buffer.from('Subject: eio\r\n'))).catch((e) => e);
    expect(error).toMatchObject({ code: 'STORE_FAILED' });
    expect(error.message).toMatch(new RegExp(`^file sync failed \\(EIO\\): ${tmpOf(directory)}/`));
    expect(readdirSync(tmpOf(directory))).toEqual([]);
    expect(readdirSync(join(tmpOf(directory), '..', 'cur'))).toEqual([]);
    expect(openFds.size).toBe(0);
  });

  it('a failed fsync of cur/ fails the put: the message could still vanish in a power cut', async () => {
    const directory = fresh('dirsync');
    const store = new LocalRawStore({ directory });
    const data = Buffer.from('Subject: dir\r\n');
    await store.put(bufferInput(Buffer.from('first'))); // the mailbox exists, synced
    faults.directorySync = 'EIO';
    const cur = join(tmpOf(directory), '..', 'cur');
    await expect(store.put(bufferInput(data))).rejects.toMatchObject({
      code: 'STORE_FAILED',
      message: `file sync failed (EIO): ${join(directory, 'bWJ4', 'cur')}`,
    });
    expect(readdirSync(cur)).toContain(`${sha256Hex(data)}:2,S`);
  });
});

describe('a spool file is read once, closed, and checked against what was read', () => {
  function spool(data: Buffer): string {
    const path = join(fresh('spool'), 'message.eml');
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, data);
    return path;
  }

  it('the spool file is closed after a put, whether it succeeds or is refused', async () => {
    const store = new LocalRawStore({ directory: fresh('close') });
    const data = randomBytes(5000);
    const path = spool(data);
    const input: RawPutInput = { ...bufferInput(data), source: { kind: 'file', path } };
    await store.put(input);
    await expect(store.put({ ...input, octets: 4999 })).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
    });
    expect([...openHandles].filter((id) => id.startsWith(`${path}#`))).toEqual([]);
  });

  it('a spool file whose size cannot be read is SOURCE_UNREADABLE, naming errno and path', async () => {
    const directory = fresh('unstattable');
    const store = new LocalRawStore({ directory });
    const data = randomBytes(100);
    const path = spool(data);
    faults.afterSpoolStat = (statted) => {
      if (statted === path) throw errno('EIO');
    };
    await expect(
      store.put({ ...bufferInput(data), source: { kind: 'file', path } }),
    ).rejects.toMatchObject({
      code: 'SOURCE_UNREADABLE',
      message: `cannot read the spooled message (EIO): ${path}`,
    });
    expect(readdirSync(tmpOf(directory))).toEqual([]);
  });

  it('a spool file that opens and stats but cannot be read (a directory) is SOURCE_UNREADABLE, naming errno and path', async () => {
    const directory = fresh('unreadable');
    const store = new LocalRawStore({ directory });
    const path = fresh('spool-directory');
    mkdirSync(path, { recursive: true });
    // Its size as stat reports it, so the put gets past the size check to the read (EISDIR).
    const octets = statSync(path).size;
    await expect(
      store.put({ ...bufferInput(Buffer.alloc(octets)), source: { kind: 'file', path } }),
    ).rejects.toMatchObject({
      code: 'SOURCE_UNREADABLE',
      message: `cannot read the spooled message (EISDIR): ${path}`,
    });
    expect(readdirSync(join(tmpOf(directory), '..', 'cur'))).toEqual([]);
  });

  it('a spool file cut short while it is copied is refused by the octets actually read', async () => {
    const directory = fresh('shrunk');
    const store = new LocalRawStore({ directory });
    const data = randomBytes(3000);
    const path = spool(data);
    faults.afterSpoolStat = (statted) => {
      if (statted === path) truncateSync(path, 2999);
    };
    const input: RawPutInput = { ...bufferInput(data), source: { kind: 'file', path } };
    await expect(store.put(input)).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      message: `source held 2999 octets when read, expected 3000 (sha256 ${input.sha256})`,
    });
    expect(readdirSync(join(tmpOf(directory), '..', 'cur'))).toEqual([]);
  });
});

describe('the sweep of stale tmp files goes on past files that vanish under it', () => {
  async function sweepWith(lstat: NonNullable<typeof faults.sweepLstat>): Promise<string[]> {
    const directory = fresh('sweep');
    const tmp = tmpOf(directory);
    mkdirSync(tmp, { recursive: true });
    const old = (Date.now() - STALE_TMP_MS - 60_000) / 1000;
    for (const name of ['one.1_1.host', 'two.1_2.host']) {
      writeFileSync(join(tmp, name), 'partial');
      utimesSync(join(tmp, name), old, old);
    }
    faults.sweepLstat = lstat;
    await new LocalRawStore({ directory }).put(bufferInput(Buffer.from('x')));
    return readdirSync(tmp);
  }

  it('a file gone before it is examined is skipped, and the next stale one still removed', async () => {
    let first = true;
    const left = await sweepWith(async (path, real) => {
      if (!first) return real();
      first = false;
      rmSync(path);
      throw errno('ENOENT');
    });
    expect(left).toEqual([]);
  });

  it('a file removed by another sweeper between examining and removing it does not stop the sweep', async () => {
    let first = true;
    const left = await sweepWith(async (path, real) => {
      const info = await real();
      if (first) rmSync(path);
      first = false;
      return info;
    });
    expect(left).toEqual([]);
  });
});

describe('directory syncs are shared, and a put resolves only after a sync that began after its rename', () => {
  it('puts finishing while a sync of cur/ runs share the next one, and wait for it', async () => {
    const directory = fresh('gate');
    const store = new LocalRawStore({ directory });
    await store.put(bufferInput(Buffer.from('warm-up'))); // mailbox made outside the count
    directorySyncs.length = 0;
    faults.holdDirectorySyncs = true;
    const resolved: string[] = [];
    const put = (label: string) =>
      store.put(bufferInput(Buffer.from(label))).then(() => resolved.push(label));

    renamed = 0;
    const a = put('a');
    await until(() => gates.length === 1);
    const later = [put('b'), put('c')];
    // b and c rename their files and ask for a sync while a's is still running.
    await until(() => renamed === 3);
    await drained();
    expect(gates.length).toBe(1);
    expect(resolved).toEqual([]);

    gates[0]?.release();
    await a;
    await drained();
    expect(resolved).toEqual(['a']); // b and c wait for the sync that covers their renames
    await until(() => gates.length === 2);
    await drained();
    expect(resolved).toEqual(['a']);
    gates[1]?.release();
    await Promise.all(later);
    expect(resolved.sort()).toEqual(['a', 'b', 'c']);
    expect(directorySyncs.filter((p) => p.endsWith('cur'))).toHaveLength(2);
  });
});
