/**
 * Bounds the commands written but not yet answered (RFC 2449 s.6.6 leaves the bound to the client).
 * Slots are handed out strictly in request order, so commands reach the wire in the order they were
 * issued, which is the order the server will answer them.
 */
export class CommandWindow {
  #size: number;
  #inUse = 0;
  readonly #waiters: Array<{ grant: () => void; refuse: (err: Error) => void }> = [];

  constructor(size: number) {
    this.#size = size;
  }

  /** Changes the bound (1 = one command at a time) for commands not yet admitted. */
  resize(size: number): void {
    this.#size = size;
    this.#admit();
  }

  acquire(): Promise<void> {
    if (this.#waiters.length === 0 && this.#inUse < this.#size) {
      this.#inUse += 1;
      return Promise.resolve();
    }
    return new Promise((grant, refuse) => {
      this.#waiters.push({ grant, refuse });
    });
  }

  release(): void {
    this.#inUse -= 1;
    this.#admit();
  }

  /** Refuses every queued request (the session is gone). */
  refuseAll(err: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.refuse(err);
  }

  #admit(): void {
    while (this.#waiters.length > 0 && this.#inUse < this.#size) {
      this.#inUse += 1;
      this.#waiters.shift()?.grant();
    }
  }
}
