/**
 * The query function's cache of search segments. Segments are immutable (a changed index is a new
 * segment with a new id), so a cached copy never goes stale and needs no check against S3:
 *
 * - on disk, in the function's /tmp, up to `diskBudgetOctets` (Lambda's /tmp outlives one request
 *   for as long as the execution environment stays warm);
 * - open in WebAssembly memory, up to `memoryBudgetOctets`, so a warm query pays neither the
 *   download nor the copy into SQLite.
 *
 * Both evict the least recently used segment first; the segment just added always stays, even
 * when it alone is over a budget (it is the one being searched). Lambda runs one request at a time per environment, so nothing here is shared between
 * concurrent searches.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { WasmDatabase } from './sqlite-wasm-driver.js';

/** Half of Lambda's default 512 MB /tmp: the rest stays free for the runtime and the SDK. */
export const DEFAULT_DISK_BUDGET_OCTETS = 256 * 1024 * 1024;
/**
 * Open segments kept in memory. A segment takes about its file size in WebAssembly memory (which
 * never shrinks back), so this plus one segment's size must fit the function's memory with the
 * rest of the API: 128 MiB beside the query function's 1,024 MiB (infra/constructs/query-api.ts).
 */
export const DEFAULT_MEMORY_BUDGET_OCTETS = 128 * 1024 * 1024;

export interface SegmentCacheOptions {
  directory: string;
  diskBudgetOctets?: number;
  memoryBudgetOctets?: number;
  /** The segment's bytes from S3, or null when it is gone (merged away since the manifest was read). */
  fetch(key: string): Promise<Uint8Array | null>;
  open(bytes: Uint8Array): Promise<WasmDatabase>;
}

/** The segment named by a manifest is gone: the caller reads the manifest again. */
export class SegmentGoneError extends Error {
  override name = 'SegmentGoneError';
}

/** A map kept in least-recently-used order, with the octets it holds. */
class Lru<V> {
  readonly entries = new Map<string, { value: V; octets: number }>();
  octets = 0;

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Adds, then returns what must go to bring the total under budget (never the new entry). */
  add(key: string, value: V, octets: number, budget: number): V[] {
    this.entries.set(key, { value, octets });
    this.octets += octets;
    const evicted: V[] = [];
    for (const [oldKey, old] of this.entries) {
      if (this.octets <= budget || oldKey === key) break;
      this.entries.delete(oldKey);
      this.octets -= old.octets;
      evicted.push(old.value);
    }
    return evicted;
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.octets -= entry.octets;
  }
}

export class SegmentCache {
  readonly #options: SegmentCacheOptions;
  readonly #disk = new Lru<string>();
  readonly #memory = new Lru<WasmDatabase>();
  #directoryReady: Promise<unknown> | null = null;

  constructor(options: SegmentCacheOptions) {
    this.#options = options;
  }

  /** Octets held on disk and in memory (for the benchmark and tests). */
  get usage(): { diskOctets: number; memoryOctets: number; open: number } {
    return {
      diskOctets: this.#disk.octets,
      memoryOctets: this.#memory.octets,
      open: this.#memory.entries.size,
    };
  }

  /** Downloads the segment to disk unless it is there already. Throws SegmentGoneError if gone. */
  async prefetch(key: string): Promise<void> {
    if (this.#memory.get(key) !== undefined || this.#disk.get(key) !== undefined) return;
    await this.#download(key);
  }

  /**
   * The segment, open. Valid until the next call to open or prefetch: a later call may evict it,
   * so use it (run the query) before opening the next.
   */
  async open(key: string): Promise<WasmDatabase> {
    const open = this.#memory.get(key);
    if (open !== undefined) return open;
    const path = this.#disk.get(key);
    const bytes =
      (path === undefined ? null : await readFile(path).catch(() => null)) ??
      (await this.#download(key));
    const db = await this.#options.open(bytes);
    const budget = this.#options.memoryBudgetOctets ?? DEFAULT_MEMORY_BUDGET_OCTETS;
    for (const evicted of this.#memory.add(key, db, bytes.length, budget)) evicted.close();
    return db;
  }

  async #download(key: string): Promise<Uint8Array> {
    const bytes = await this.#options.fetch(key);
    if (bytes === null) throw new SegmentGoneError(`search segment ${key} is gone`);
    const path = join(
      this.#options.directory,
      `${createHash('sha256').update(key).digest('hex')}.sqlite`,
    );
    this.#directoryReady ??= mkdir(this.#options.directory, { recursive: true });
    await this.#directoryReady;
    await writeFile(path, bytes);
    this.#disk.remove(key);
    const budget = this.#options.diskBudgetOctets ?? DEFAULT_DISK_BUDGET_OCTETS;
    const evicted = this.#disk.add(key, path, bytes.length, budget);
    await Promise.all(evicted.map((old) => rm(old, { force: true })));
    return bytes;
  }
}
