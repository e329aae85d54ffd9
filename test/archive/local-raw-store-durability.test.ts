/**
 * The order of the durable steps of a local put: the file's bytes fsynced before the rename makes
 * them visible under cur/, and the directory fsynced after it. Real writes happen; node:fs and
 * node:fs/promises are wrapped only to record the calls, because a crash between two calls is the
 * one fault no test can produce for real.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const calls: string[] = [];
const fdPaths = new Map<number, string>();

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>();
  return {
    ...actual,
    open: (
      path: string,
      flags: string,
      mode: number,
      callback: (e: Error | null, fd: number) => void,
    ) =>
      actual.open(path, flags, mode, (error, fd) => {
        if (!error) fdPaths.set(fd, String(path));
        callback(error, fd);
      }),
    fsync: (fd: number, callback: (e: Error | null) => void) => {
      calls.push(`fsync ${fdPaths.get(fd) ?? fd}`);
      actual.fsync(fd, callback);
    },
  };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    rename: async (from: string, to: string) => {
      calls.push(`rename ${from} -> ${to}`);
      return actual.rename(from, to);
    },
    open: async (path: string, flags?: string, mode?: number) => {
      const handle = await actual.open(path, flags, mode);
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        calls.push(`fsync ${path}`);
        return sync();
      };
      return handle;
    },
  };
});

const { LocalRawStore } = await import('../../functions/adapters/local/local-raw-store.js');

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

beforeEach(() => {
  calls.length = 0;
});

describe('a local put is durable before it is acknowledged', () => {
  it('fsyncs the temporary file, then renames it into cur/, then fsyncs cur/', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'popvault-durable-'));
    const store = new LocalRawStore({ directory });
    const data = Buffer.from('Subject: durable\r\n\r\nbody\r\n');
    const ref = await store.put({
      mailboxId: 'mbx',
      sha256: sha256(data),
      octets: data.length,
      source: { kind: 'buffer', data },
    });
    const rename = calls.findIndex(
      (c) => c.startsWith('rename ') && c.endsWith(ref.key.split('/').pop() ?? '?'),
    );
    expect(rename).toBeGreaterThan(0);
    const tmp = (calls[rename] ?? '').slice('rename '.length).split(' -> ')[0] ?? '';
    expect(tmp).toContain(`${join('tmp', '')}`);
    const fileSync = calls.indexOf(`fsync ${tmp}`);
    const curSync = calls.findIndex(
      (c, i) => i > rename && c.startsWith('fsync ') && c.endsWith('/cur'),
    );
    expect(fileSync, calls.join('\n')).toBeGreaterThanOrEqual(0);
    expect(fileSync).toBeLessThan(rename);
    expect(curSync, calls.join('\n')).toBeGreaterThan(rename);
  });
});

describe('an archived message survives a failed re-put of its key', () => {
  it('wrong bytes put under a stored key are refused, and the stored file keeps its bytes', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'popvault-reput-'));
    const store = new LocalRawStore({ directory });
    const data = Buffer.from('Subject: original\r\n\r\nkept\r\n');
    const digest = sha256(data);
    const ref = await store.put({
      mailboxId: 'mbx',
      sha256: digest,
      octets: data.length,
      source: { kind: 'buffer', data },
    });
    const impostor = Buffer.from('Subject: impostor\r\n\r\nnot these bytes\r\n');
    await expect(
      store.put({
        mailboxId: 'mbx',
        sha256: digest,
        octets: impostor.length,
        source: { kind: 'buffer', data: impostor },
      }),
    ).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(readFileSync(join(directory, ...ref.key.split('/')))).toEqual(data);
    expect(readdirSync(join(directory, ref.key.split('/')[0] ?? '', 'tmp'))).toEqual([]);
  });

  it('bytes that fail verification never appear under cur/, not even for a moment before the check', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'popvault-unverified-'));
    const store = new LocalRawStore({ directory });
    const data = Buffer.from('Subject: x\r\n\r\ny\r\n');
    await expect(
      store.put({
        mailboxId: 'mbx',
        sha256: 'f'.repeat(64),
        octets: data.length,
        source: { kind: 'buffer', data },
      }),
    ).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect(calls.some((c) => c.startsWith('rename '))).toBe(false);
    const [segment] = readdirSync(directory);
    expect(readdirSync(join(directory, segment ?? '', 'cur'))).toEqual([]);
  });
});
