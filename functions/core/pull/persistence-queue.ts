export interface PersistenceLimits {
  /** Tasks in flight at most before retrieval waits. */
  concurrency: number;
  /** Memory the tasks may hold together before retrieval waits (one task may always run). */
  memoryOctets: number;
}

/**
 * Persistence overlapping retrieval: each retrieved message is uploaded and indexed while the next
 * ones arrive, and retrieval waits (`whenRoom`) while too many are in flight or they hold too much
 * memory. A task's spool is released only once the task has settled.
 */
export class PersistenceQueue {
  readonly #inFlight = new Set<Promise<void>>();
  readonly #limits: PersistenceLimits;
  readonly #onWait: (persisting: number, heldOctets: number) => void;
  #held = 0;

  constructor(
    limits: PersistenceLimits,
    onWait: (persisting: number, heldOctets: number) => void = () => {},
  ) {
    this.#limits = limits;
    this.#onWait = onWait;
  }

  get size(): number {
    return this.#inFlight.size;
  }

  get heldOctets(): number {
    return this.#held;
  }

  /** Tracks `work`, which holds `heldOctets` until it settles; then `release` runs (and is awaited). */
  add(work: Promise<void>, heldOctets: number, release: () => Promise<void> | void): void {
    this.#held += heldOctets;
    const task = work.finally(() => {
      this.#inFlight.delete(task);
      this.#held -= heldOctets;
      return release();
    });
    this.#inFlight.add(task);
  }

  /** Resolves once another task may start; rejects if a task (or its release) failed. */
  async whenRoom(): Promise<void> {
    while (
      this.#inFlight.size >= this.#limits.concurrency ||
      (this.#held > this.#limits.memoryOctets && this.#inFlight.size > 0)
    ) {
      this.#onWait(this.#inFlight.size, this.#held);
      await Promise.race(this.#inFlight);
    }
  }

  /** Every task in flight, done; rejects on the first that failed. */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
  }

  /** Every task in flight, settled, failed or not: what must happen before spools go away. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }
}
