import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LocalRawStore } from '../core/archive/local-raw-store.js';
import type { MessageIndex, RawStore } from '../core/archive/ports.js';
import { SqliteMessageIndex } from '../core/archive/sqlite-message-index.js';
import { CliError } from './cli-error.js';

export interface LocalArchive {
  directory: string;
  rawStore: RawStore;
  index: MessageIndex;
  /** Messages a pull into this archive persists at once (LOCAL_PERSIST_CONCURRENCY). */
  persistConcurrency: number;
  close(): void;
}

/**
 * A local put waits mostly on its file's fsync, a fraction of a millisecond that many puts can wait
 * on together, and holds nothing but its bytes (which the pull run's memory budget bounds). At 8 the
 * fsyncs bound a 2,000-message pull; at 64 it is bound by the CPU (BENCHMARKS.md section 1).
 */
export const LOCAL_PERSIST_CONCURRENCY = 64;

/** $POPVAULT_ARCHIVE, else the XDG data directory, else ~/.local/share/popvault. */
export function defaultArchiveDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.POPVAULT_ARCHIVE) return env.POPVAULT_ARCHIVE;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'popvault');
}

/**
 * Opens (creating if needed) the embedded archive: Maildir-style raw files under `mail/` and a SQLite
 * index, both readable by their owner only, because mail is private.
 */
export async function openLocalArchive(directory: string): Promise<LocalArchive> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const info = await stat(directory);
  if (!info.isDirectory())
    throw new CliError(`the archive path ${directory} is not a directory; pass --archive DIR`);
  if ((info.mode & 0o077) !== 0) await chmod(directory, 0o700);
  const index = new SqliteMessageIndex({ path: join(directory, 'index.sqlite') });
  const rawStore = new LocalRawStore({ directory: join(directory, 'mail') });
  return {
    directory,
    rawStore,
    index,
    persistConcurrency: LOCAL_PERSIST_CONCURRENCY,
    close: () => index.close(),
  };
}

/**
 * The local API's bearer token: generated at first start, kept in the archive directory with
 * owner-only permissions, so another user on the machine cannot read the archive through the API.
 */
export async function ensureApiToken(
  directory: string,
): Promise<{ token: string; created: boolean }> {
  const path = join(directory, 'api-token');
  try {
    const info = await stat(path);
    if ((info.mode & 0o077) !== 0) {
      throw new CliError(`${path} is readable by other users; run: chmod 600 ${path}`);
    }
    return { token: (await readFile(path, 'utf8')).trim(), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  return { token, created: true };
}
