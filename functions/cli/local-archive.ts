import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { chmod, type FileHandle, lstat, mkdir, open, readlink, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { LocalRawStore } from '../adapters/local/local-raw-store.js';
import { SqliteMessageIndex } from '../adapters/local/sqlite-message-index.js';
import type { RawStore } from '../core/archive/ports.js';
import { CliError } from './cli-error.js';

export interface LocalArchive {
  directory: string;
  rawStore: RawStore;
  /** The records, their full-text search, and the backfill of text (`popvault reindex`). */
  index: SqliteMessageIndex;
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

/** The local API's bearer token, in the archive directory. */
export const API_TOKEN_FILE = 'api-token';
/**
 * The same token as the one header line `curl -H @FILE` sends: the documented way to call the API,
 * because a token in a command line is visible to every local user (ps, /proc/PID/cmdline).
 */
export const API_AUTH_HEADER_FILE = 'api-auth-header';
/** Entries of the archive directory that must be the user's own, never links (see checkEntries). */
const ARCHIVE_ENTRIES = [
  { name: 'mail', kind: 'directory' },
  { name: 'index.sqlite', kind: 'file' },
  { name: 'index.sqlite-wal', kind: 'file' },
  { name: 'index.sqlite-shm', kind: 'file' },
] as const;
/** The most symbolic links one path may pass through: Linux's own limit before ELOOP. */
const MAX_SYMLINK_HOPS = 40;
/** A token file is a line of 43 characters; anything much larger is not one. */
const MAX_TOKEN_FILE_OCTETS = 4096;
/** What the query app accepts as a token (RFC 6750 b64token, at least 16 characters). */
const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]{16,}=*$/;
const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;
const OWN_DIRECTORY = 'use --archive DIR (or $POPVAULT_ARCHIVE) with a directory of your own';

/** $POPVAULT_ARCHIVE, else the XDG data directory, else ~/.local/share/popvault. */
export function defaultArchiveDirectory(env: NodeJS.ProcessEnv = process.env): string {
  if (env.POPVAULT_ARCHIVE) return env.POPVAULT_ARCHIVE;
  return join(env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'popvault');
}

/**
 * Opens (creating if needed) the embedded archive: Maildir-style raw files under `mail/` and a SQLite
 * index, both readable by their owner only, because mail is private. The directory is checked first
 * (checkArchiveDirectory): another local user must not be able to hand us their archive.
 */
export async function openLocalArchive(directory: string): Promise<LocalArchive> {
  await checkArchiveDirectory(directory);
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

/** Another user's id, as a message shows it. */
function owner(info: Stats): string {
  return `uid ${info.uid}`;
}

function mode(info: Stats): string {
  return `mode ${(info.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

function errnoOf(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

/**
 * The archive directory must be one only the current user (and root, who can do anything anyway)
 * controls, or another local user could plant files in it (an `api-token` they know, an index, mail)
 * or swap it for their own after we looked. The rule, the one OpenSSH's StrictModes applies to
 * ~/.ssh:
 * - every directory on the way to it, after following links, belongs to root or to the user and is
 *   not writable by group or others, unless it is sticky (/tmp), where others cannot rename or
 *   remove our entries;
 * - every symbolic link on the way belongs to root or to the user. Such a link sits in a directory
 *   that passed the rule, so only root or the user could have made it, and it is followed and its
 *   target checked by the same rule. (Refusing every link would refuse macOS, whose /var and /tmp
 *   are root's links into /private, and any home reached through a link of the administrator's.)
 * - the archive directory itself is not a link (a link there points the archive elsewhere, and the
 *   user should name the real place), belongs to the user (root included: root is refused another
 *   user's archive) and is not writable by group or others. Being readable by others is only fixed
 *   (chmod 700), because that lets nobody plant anything.
 * - mail/ and the index files, where they exist, are the user's, not links and not writable by group
 *   or others (the token has checks of its own, readApiToken). With the directory the user's and
 *   closed to others, only an earlier, looser state could have left anyone else's there.
 * Missing directories are created (0700) as the walk reaches them, each only after its parent passed.
 * Where the system has no user ids (Windows), there is nothing to compare and the checks are skipped.
 */
export async function checkArchiveDirectory(directory: string): Promise<void> {
  const uid = process.getuid?.();
  const absolute = resolve(directory);
  if (uid === undefined) {
    await mkdir(absolute, { recursive: true, mode: 0o700 });
    return;
  }
  const parent = dirname(absolute);
  if (parent === absolute)
    throw new CliError(`popvault: the archive cannot be ${absolute} itself; pass --archive DIR.`);
  await walkTrusted(parent, absolute, uid);
  const info = await lstatOrCreate(absolute, absolute);
  if (info.isSymbolicLink()) {
    const target = await readlink(absolute);
    throw new CliError(
      `popvault: the archive directory ${absolute} is a symbolic link (to ${target}); popvault uses ` +
        'only a real directory, so that no link can point the archive somewhere else. Pass the real ' +
        `directory with --archive, or replace the link with the directory it points to.`,
    );
  }
  if (!info.isDirectory())
    throw new CliError(
      `popvault: the archive path ${absolute} is not a directory; ${OWN_DIRECTORY}.`,
    );
  if (info.uid !== uid)
    throw new CliError(
      `popvault: the archive directory ${absolute} belongs to ${owner(info)}, not to you (uid ${uid}); ` +
        `popvault will not use another user's archive, whose files (the API token among them) that ` +
        `user chose. Run popvault as that user, or ${OWN_DIRECTORY}.`,
    );
  if ((info.mode & GROUP_OR_OTHER_WRITE) !== 0)
    throw new CliError(
      `popvault: the archive directory ${absolute} can be written by other users (${mode(info)}), so ` +
        `its files may not be yours. Check its contents, then run: chmod 700 ${absolute}`,
    );
  if ((info.mode & 0o077) !== 0) await chmod(absolute, 0o700);
  for (const entry of ARCHIVE_ENTRIES)
    await checkEntry(join(absolute, entry.name), entry.kind, uid);
}

async function lstatOrCreate(path: string, archive: string): Promise<Stats> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw unreadable(path, archive, error);
  }
  try {
    await mkdir(path, { mode: 0o700 });
  } catch (error) {
    // Another process may have made it since: look again, and check what is there.
    if (errnoOf(error) !== 'EEXIST') throw unreadable(path, archive, error);
  }
  return lstat(path);
}

function unreadable(path: string, archive: string, error: unknown): CliError {
  return new CliError(
    `popvault: cannot check or create ${path} for the archive ${archive} (${errnoOf(error) ?? String(error)}); ` +
      `${OWN_DIRECTORY}.`,
  );
}

/**
 * Follows `path` from / as the kernel would, one component at a time, checking each directory and
 * link against the rule above, and creating missing directories only when it is walking the path the
 * user gave (never a link's target, which must exist).
 */
async function walkTrusted(path: string, archive: string, uid: number): Promise<void> {
  const trusted = (info: Stats): boolean => info.uid === uid || info.uid === 0;
  const refuse = (what: string, problem: string, fix: string): CliError =>
    new CliError(
      `popvault: the archive directory ${archive} is reached through ${what}, which ${problem}, so ` +
        `another user could swap the archive for their own. ${fix}`,
    );
  const checkDirectory = (at: string, info: Stats): void => {
    if (!trusted(info)) throw refuse(at, `belongs to ${owner(info)}`, `Instead, ${OWN_DIRECTORY}.`);
    if ((info.mode & GROUP_OR_OTHER_WRITE) !== 0 && (info.mode & STICKY) === 0)
      throw refuse(
        at,
        `other users can write to (${mode(info)})`,
        `Run: chmod go-w ${at}, or ${OWN_DIRECTORY}.`,
      );
  };
  let real: string = sep;
  checkDirectory(real, await lstat(real));
  // A stack of the components still to walk, the next on top; a link's target goes on top.
  const pending = path
    .split(sep)
    .reverse()
    .map((part) => ({ part, create: true }));
  let hops = 0;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { part, create } = next;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      real = dirname(real);
      continue;
    }
    const at = join(real, part);
    let info: Stats;
    try {
      info = create ? await lstatOrCreate(at, archive) : await lstat(at);
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw unreadable(at, archive, error);
    }
    if (info.isSymbolicLink()) {
      if (!trusted(info))
        throw refuse(
          `the symbolic link ${at}`,
          `belongs to ${owner(info)}`,
          `Instead, ${OWN_DIRECTORY}.`,
        );
      hops += 1;
      if (hops > MAX_SYMLINK_HOPS)
        throw new CliError(
          `popvault: the archive path ${archive} passes through more than ${MAX_SYMLINK_HOPS} symbolic links; pass the real directory with --archive.`,
        );
      const target = await readlink(at);
      if (isAbsolute(target)) real = sep;
      pending.push(
        ...target
          .split(sep)
          .reverse()
          .map((p) => ({ part: p, create: false })),
      );
      continue;
    }
    if (!info.isDirectory())
      throw new CliError(
        `popvault: the archive path ${archive} goes through ${at}, which is not a directory; ${OWN_DIRECTORY}.`,
      );
    checkDirectory(at, info);
    real = at;
  }
}

async function checkEntry(path: string, kind: 'directory' | 'file', uid: number): Promise<void> {
  let info: Stats;
  try {
    info = await lstat(path);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return;
    throw error;
  }
  if (info.isSymbolicLink())
    throw new CliError(
      `popvault: ${path} is a symbolic link; the archive's own files are never links, so no one can ` +
        `point them at other files. Remove the link (rm ${path}) and put the real ${kind} there.`,
    );
  if (kind === 'directory' ? !info.isDirectory() : !info.isFile())
    throw new CliError(`popvault: ${path} is not a ${kind}; move it out of the archive.`);
  if (info.uid !== uid)
    throw new CliError(
      `popvault: ${path} belongs to ${owner(info)}, not to you (uid ${uid}), so another user may ` +
        `have planted it. Check it, then remove it or run: chown -R ${uid} ${path}`,
    );
  if ((info.mode & GROUP_OR_OTHER_WRITE) !== 0)
    throw new CliError(
      `popvault: ${path} can be written by other users (${mode(info)}), so its contents may not be ` +
        `yours. Check it, then run: chmod go-w ${path}`,
    );
}

/**
 * The local API's bearer token: generated at first start, kept in the archive directory with
 * owner-only permissions, so another user on the machine cannot read the archive through the API.
 * Also writes API_AUTH_HEADER_FILE, the header line curl reads with `-H @FILE`. Call after
 * openLocalArchive, which checks the directory both files live in.
 */
export async function ensureApiToken(directory: string): Promise<{
  token: string;
  created: boolean;
  tokenPath: string;
  headerPath: string;
}> {
  // Absolute, because they are printed for the user to paste elsewhere.
  const tokenPath = join(resolve(directory), API_TOKEN_FILE);
  const headerPath = join(resolve(directory), API_AUTH_HEADER_FILE);
  let token = await readApiToken(tokenPath);
  let created = false;
  if (token === null) {
    const fresh = randomBytes(32).toString('base64url');
    created = await createPrivateFile(tokenPath, `${fresh}\n`);
    // Another start may have created it first: use the one that is there.
    token = created ? fresh : await readApiToken(tokenPath);
    if (token === null)
      throw new CliError(
        `popvault: ${tokenPath} vanished while it was being created; start again.`,
      );
  }
  await replacePrivateFile(headerPath, `Authorization: Bearer ${token}\n`);
  return { token, created, tokenPath, headerPath };
}

/**
 * Reads the token without following a link (O_NOFOLLOW: a link could hand us a file another user
 * wrote or wants to learn) and only from a regular file of the user's that no one else can read or
 * write. Null when there is none.
 */
async function readApiToken(path: string): Promise<string | null> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO put in its place must not hang the start; it is refused below.
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return null;
    if (errnoOf(error) === 'ELOOP')
      throw new CliError(
        `popvault: ${path} is a symbolic link; popvault reads the API token only from a file of ` +
          `its own, never through a link (one could hand it a token someone else knows). Remove it ` +
          `(rm ${path}) and popvault serve creates a new token.`,
      );
    throw error;
  }
  try {
    const info = await handle.stat();
    const rotate = `Remove it (rm ${path}) and popvault serve creates a new token.`;
    if (!info.isFile()) throw new CliError(`popvault: ${path} is not a regular file. ${rotate}`);
    const uid = process.getuid?.();
    if (uid !== undefined && info.uid !== uid)
      throw new CliError(
        `popvault: ${path} belongs to ${owner(info)}, not to you (uid ${uid}): another user may have ` +
          `planted a token they know. ${rotate}`,
      );
    if (uid !== undefined && (info.mode & 0o077) !== 0)
      throw new CliError(
        `popvault: ${path} can be read or written by other users (${mode(info)}), so the token may ` +
          `be known to them. ${rotate} (If you are sure no one has read it, chmod 600 ${path} keeps it.)`,
      );
    if (info.size > MAX_TOKEN_FILE_OCTETS)
      throw new CliError(`popvault: ${path} is too large to be an API token. ${rotate}`);
    const token = (await handle.readFile('utf8')).trim();
    if (!TOKEN_PATTERN.test(token))
      throw new CliError(
        `popvault: ${path} does not hold an API token (16 or more of A-Z a-z 0-9 - . _ ~ + /). ${rotate}`,
      );
    return token;
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path` owner-only with O_CREAT|O_EXCL|O_NOFOLLOW, so nothing already there (a file, or a
 * link to one) is ever written through; false when something is there.
 */
async function createPrivateFile(path: string, content: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(
      path,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw error;
  }
  try {
    // The mode given to open() passes through the umask; this one does not.
    await handle.chmod(0o600);
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/** Writes a fresh owner-only file under a unique name, then renames it over `path` (never followed). */
async function replacePrivateFile(path: string, content: string): Promise<void> {
  const temporary = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  if (!(await createPrivateFile(temporary, content)))
    throw new CliError(`popvault: ${temporary} already exists; remove it and start again.`);
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
