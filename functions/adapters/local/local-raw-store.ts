/**
 * Raw message bytes as plain files, for the embedded local archive (no AWS). Each mailbox is a
 * Maildir, so any mail tool can read the archive as it is:
 *
 *   <directory>/<base64url(mailboxId)>/tmp/   files being written (unique names)
 *                                      new/   (unused, but part of what makes a Maildir)
 *                                      cur/<sha256>:2,S
 *
 * Messages go to `cur/` flagged Seen rather than to `new/`: a mail client that opens a Maildir moves
 * every file in `new/` to `cur/` and renames it, which would break the content-addressed key the
 * index holds; files already in `cur/` it leaves alone until someone changes their flags. And an
 * archive of mail already fetched should not show up as thousands of unread messages. (Point a
 * client that writes flags at a copy, or open it read-only.)
 *
 * A put is atomic and durable in the Maildir way: the bytes go to a uniquely named file in `tmp/`,
 * verified against the caller's SHA-256 and size while they are written, fsynced, renamed into
 * `cur/`, and `cur/` is fsynced; only then does put() resolve, so a message is never deleted from
 * the server while its file could still vanish in a power cut. A crash before the rename leaves only
 * a file in `tmp/`, which readers ignore and a later put of the same bytes does not need; tmp files
 * older than the Maildir convention's 36 hours are removed when a store first uses the mailbox.
 *
 * Content-addressed like the S3 store: the same bytes twice give the same file, never a second copy.
 * Files are 0600 and directories 0700: mail is private.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, lstat, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ArchiveError, ChecksumMismatchError } from '../../core/archive/errors.js';
import type { RawObjectRef, RawPutInput, RawStore } from '../../core/archive/ports.js';
import { encodeKeySegment } from '../../core/archive/raw-object-key.js';
import {
  closeFile,
  errnoOf,
  FILE_MODE,
  maildirHost,
  mkdirDurable,
  openFile,
  settled,
  sourceUnreadable,
  storeError,
  syncDirectory,
  syncFile,
  writeAll,
} from './local-durable-files.js';

export { DIRECTORY_MODE, FILE_MODE } from './local-durable-files.js';

/** Maildir's info suffix: version 2, flag S (seen). */
export const MAILDIR_INFO = ':2,S';
/** The Maildir convention: a tmp file this old was left by a writer that died. */
export const STALE_TMP_MS = 36 * 60 * 60 * 1000;
/** Copy buffer: large enough for few syscalls, small enough that a 100 MB message is not in memory. */
const COPY_CHUNK_OCTETS = 1024 * 1024;
/** Its base64url form must fit the 255-character file names of ext4, APFS and NTFS. */
export const MAX_MAILBOX_ID_OCTETS = 191;
const HEX_SHA256 = /^[0-9a-f]{64}$/;
/** Exactly the keys this store issues: nothing else can name a path, let alone one outside. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{1,255}\/cur\/[0-9a-f]{64}:2,S$/;

export interface LocalRawStoreOptions {
  directory: string;
}

/** The key of a message's file, relative to the store's directory (always "/"-separated). */
export function localRawKey(mailboxId: string, sha256: string): string {
  if (!HEX_SHA256.test(sha256)) {
    throw new ArchiveError(
      'INVALID_ARGUMENT',
      `not a lower-case hex SHA-256: ${sha256.slice(0, 80)}`,
    );
  }
  const octets = Buffer.byteLength(mailboxId, 'utf8');
  if (octets === 0 || octets > MAX_MAILBOX_ID_OCTETS) {
    throw new ArchiveError(
      'INVALID_ARGUMENT',
      `a local archive's mailbox id must be 1 to ${MAX_MAILBOX_ID_OCTETS} octets, not ${octets}`,
    );
  }
  return `${encodeKeySegment(mailboxId)}/cur/${sha256}${MAILDIR_INFO}`;
}

export class LocalRawStore implements RawStore {
  readonly #directory: string;
  /** Mailbox directories this store has made sure of (and swept), by key segment. */
  readonly #ready = new Map<string, Promise<void>>();
  /** Directory syncs in flight, and the one queued behind each (see #syncDirectory). */
  readonly #directorySyncs = new Map<
    string,
    { current: Promise<void>; queued: Promise<void> | null }
  >();

  constructor(options: LocalRawStoreOptions) {
    this.#directory = options.directory;
  }

  async put(input: RawPutInput): Promise<RawObjectRef> {
    if (!HEX_SHA256.test(input.sha256)) {
      throw new ArchiveError(
        'INVALID_ARGUMENT',
        `not a lower-case hex SHA-256: ${input.sha256.slice(0, 80)}`,
      );
    }
    if (!Number.isSafeInteger(input.octets) || input.octets < 0) {
      throw new ArchiveError('INVALID_ARGUMENT', 'octets must be a non-negative integer');
    }
    const key = localRawKey(input.mailboxId, input.sha256);
    const ref: RawObjectRef = { key, sha256: input.sha256, octets: input.octets };
    const [segment] = key.split('/') as [string];
    const mailbox = join(this.#directory, segment);
    const cur = join(mailbox, 'cur');
    const target = this.#pathOf(key);
    await this.#ensureMailbox(segment, mailbox);

    // An object already here (the key is the digest) is written afresh all the same: checking first
    // would cost a stat per put on the hot path, which a new message fails with ENOENT, and a rename
    // over it is atomic and leaves the same bytes (or repairs a file damaged outside the store).
    // Maildir's unique-name recipe (pid, random, host; "/" and ":" may not appear in a name).
    const host = maildirHost();
    const tmp = join(
      mailbox,
      'tmp',
      `${input.sha256}.${process.pid}_${randomBytes(8).toString('hex')}.${host}`,
    );
    try {
      await this.#writeTmp(tmp, input);
      try {
        // Atomic: a reader sees no file or the whole verified file, never part of one.
        await rename(tmp, target);
      } catch (error) {
        throw storeError(error, 'rename', tmp);
      }
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw error;
    }
    try {
      await this.#syncDirectory(cur);
    } catch (error) {
      throw storeError(error, 'sync', cur);
    }
    return ref;
  }

  async get(key: string): Promise<Readable> {
    const path = this.#pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') {
        throw new ArchiveError('NOT_FOUND', `no raw message ${key}`, { cause: error });
      }
      throw storeError(error, 'open', path);
    }
    // Opened first, so a missing file is NOT_FOUND here rather than an error event later.
    return handle.createReadStream();
  }

  async has(key: string): Promise<boolean> {
    const path = this.#pathOf(key);
    try {
      return (await stat(path)).isFile();
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return false;
      throw storeError(error, 'stat', path);
    }
  }

  /** The file of a key this store issued; anything else (`..`, absolute paths) is refused. */
  #pathOf(key: string): string {
    if (!KEY_PATTERN.test(key)) {
      throw new ArchiveError('INVALID_ARGUMENT', `not a local raw key: ${key.slice(0, 120)}`);
    }
    return join(this.#directory, ...key.split('/'));
  }

  #ensureMailbox(segment: string, mailbox: string): Promise<void> {
    let ready = this.#ready.get(segment);
    if (ready === undefined) {
      ready = (async () => {
        try {
          for (const sub of ['tmp', 'new', 'cur']) await mkdirDurable(join(mailbox, sub));
        } catch (error) {
          throw storeError(error, 'mkdir', mailbox);
        }
        await this.#sweepStaleTmp(join(mailbox, 'tmp'));
      })();
      this.#ready.set(segment, ready);
      // A failure (a full disk, say) is retried by the next put rather than remembered.
      ready.catch(() => this.#ready.delete(segment));
    }
    return ready;
  }

  /** Best effort: a stale tmp file costs only space, and a sweep must never fail a put. */
  async #sweepStaleTmp(tmp: string): Promise<void> {
    const cutoff = Date.now() - STALE_TMP_MS;
    try {
      for (const name of await readdir(tmp)) {
        const path = join(tmp, name);
        const info = await lstat(path).catch(() => null);
        if (info?.isFile() && info.mtimeMs < cutoff) await rm(path, { force: true });
      }
    } catch {
      // Deliberately ignored, see above.
    }
  }

  /** Writes the verified bytes to a new file `tmp` and syncs it; the caller removes it on failure. */
  async #writeTmp(tmp: string, input: RawPutInput): Promise<void> {
    let fd: number;
    try {
      // "wx": a name that exists is not ours to overwrite.
      fd = await openFile(tmp, 'wx', FILE_MODE);
    } catch (error) {
      throw storeError(error, 'create', tmp);
    }
    try {
      await this.#copyVerified(input, fd);
      try {
        // #copyVerified counted every octet written, so no fstat is needed to know the size.
        await syncFile(fd);
      } catch (error) {
        throw storeError(error, 'sync', tmp);
      }
    } finally {
      await closeFile(fd);
    }
  }

  /**
   * fsync of a directory, coalesced: a caller that asks while a sync is running shares the next one,
   * which starts only after the running one ends, so it covers every rename done before its callers
   * asked. Many puts finishing together then cost one directory sync, not one each.
   */
  #syncDirectory(directory: string): Promise<void> {
    const entry = this.#directorySyncs.get(directory);
    if (entry === undefined) return this.#startDirectorySync(directory);
    entry.queued ??= entry.current.then(settled, settled).then(() => {
      entry.queued = null;
      return this.#startDirectorySync(directory);
    });
    return entry.queued;
  }

  #startDirectorySync(directory: string): Promise<void> {
    const current = syncDirectory(directory);
    const entry = this.#directorySyncs.get(directory) ?? { current, queued: null };
    entry.current = current;
    this.#directorySyncs.set(directory, entry);
    current.then(settled, settled).then(() => {
      if (entry.current === current && entry.queued === null)
        this.#directorySyncs.delete(directory);
    });
    return current;
  }

  /**
   * Copies the source to the file `destination` while hashing it, and refuses
   * it unless its size and SHA-256 are what the caller said. A file is checked for size first, so a
   * wrong one is refused before anything is written.
   */
  async #copyVerified(input: RawPutInput, destination: number): Promise<void> {
    const hash = createHash('sha256');
    let octets = 0;
    const { source } = input;
    if (source.kind === 'buffer') {
      if (source.data.length !== input.octets) {
        throw new ChecksumMismatchError(
          `source holds ${source.data.length} octets, expected ${input.octets} (sha256 ${input.sha256})`,
        );
      }
      hash.update(source.data);
      octets = source.data.length;
      await this.#write(destination, source.data);
    } else {
      let reader: FileHandle;
      try {
        reader = await open(source.path, 'r');
      } catch (error) {
        throw sourceUnreadable(source.path, error);
      }
      try {
        let size: number;
        try {
          size = (await reader.stat()).size;
        } catch (error) {
          throw sourceUnreadable(source.path, error);
        }
        if (size !== input.octets) {
          throw new ChecksumMismatchError(
            `spool file holds ${size} octets, expected ${input.octets} (sha256 ${input.sha256})`,
          );
        }
        const chunk = Buffer.allocUnsafe(COPY_CHUNK_OCTETS);
        for (;;) {
          let bytesRead: number;
          try {
            ({ bytesRead } = await reader.read(chunk, 0, chunk.length, null));
          } catch (error) {
            throw sourceUnreadable(source.path, error);
          }
          if (bytesRead === 0) break;
          const bytes = chunk.subarray(0, bytesRead);
          hash.update(bytes);
          octets += bytesRead;
          await this.#write(destination, bytes);
        }
      } finally {
        await reader.close();
      }
    }
    // The file may have changed size while it was read.
    if (octets !== input.octets) {
      throw new ChecksumMismatchError(
        `source held ${octets} octets when read, expected ${input.octets} (sha256 ${input.sha256})`,
      );
    }
    const actual = hash.digest('hex');
    if (actual !== input.sha256) {
      throw new ChecksumMismatchError(`source has sha256 ${actual}, expected ${input.sha256}`);
    }
  }

  async #write(destination: number, data: Uint8Array): Promise<void> {
    try {
      await writeAll(destination, data);
    } catch (error) {
      throw storeError(error, 'write', 'tmp file');
    }
  }
}
