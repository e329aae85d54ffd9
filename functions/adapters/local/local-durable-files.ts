/**
 * The file operations the local raw store makes durable: fsynced writes, directories created and
 * synced into their parents, and the mapping of errno codes to ArchiveErrors.
 */
import { close, fsync, open as openFd, write } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { ArchiveError, type ArchiveErrorCode } from '../../core/archive/errors.js';

export const FILE_MODE = 0o600;
export const DIRECTORY_MODE = 0o700;

export function errnoOf(error: unknown): string | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : null;
}

export function codeFor(errno: string | null): ArchiveErrorCode {
  switch (errno) {
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return 'STORE_ACCESS_DENIED';
    // Full disk, quota, too many open files: another attempt later may succeed.
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EMFILE':
    case 'ENFILE':
    case 'EAGAIN':
    case 'EBUSY':
      return 'STORE_UNAVAILABLE';
    case 'ENAMETOOLONG':
      return 'STORE_REJECTED';
    default:
      return 'STORE_FAILED';
  }
}

export function storeError(error: unknown, operation: string, path: string): ArchiveError {
  if (error instanceof ArchiveError) return error;
  const errno = errnoOf(error);
  const code = codeFor(errno);
  return new ArchiveError(code, `file ${operation} failed (${errno ?? 'error'}): ${path}`, {
    cause: error,
  });
}

export function sourceUnreadable(path: string, error: unknown): ArchiveError {
  return new ArchiveError(
    'SOURCE_UNREADABLE',
    `cannot read the spooled message (${errnoOf(error) ?? 'error'}): ${path}`,
    { cause: error },
  );
}

// The hot path (one new file per message) uses plain descriptors: FileHandle's promise machinery
// cost ~0.15 ms of main-thread time per open in a 2,000-message pull (BENCHMARKS.md section 1),
// time taken from the thread that also reads the POP3 socket.
export const openFile = promisify(openFd);
export const closeFile = promisify(close);
export const syncFile = promisify(fsync);
export const writeFile = promisify(write);

export async function writeAll(fd: number, data: Uint8Array): Promise<void> {
  let written = 0;
  while (written < data.length) {
    written += (await writeFile(fd, data, written, data.length - written, null)).bytesWritten;
  }
}

export function settled(): void {}

let cachedHost: string | undefined;

/** The host part of Maildir names; looked up once, not with a uname(2) per message. */
export function maildirHost(): string {
  cachedHost ??= hostname().replace(/[/:]/g, '_');
  return cachedHost;
}

export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `path` (and missing parents) 0700, each creation made durable in its parent. */
export async function mkdirDurable(path: string): Promise<void> {
  try {
    await mkdir(path, { mode: DIRECTORY_MODE });
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === 'EEXIST') return;
    if (errno !== 'ENOENT' || dirname(path) === path) throw error;
    await mkdirDurable(dirname(path));
    return mkdirDurable(path);
  }
  await syncDirectory(dirname(path));
}
