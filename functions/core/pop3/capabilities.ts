/**
 * The server's CAPA listing (RFC 2449 s.5). Tags and arguments are case-insensitive; a server that
 * does not support CAPA at all has an empty set (`supported` false), which callers treat as "unknown",
 * not as "has nothing".
 */
export class Capabilities {
  readonly supported: boolean;
  readonly lines: readonly string[];
  readonly #byTag: Map<string, string[]>;

  constructor(lines: readonly string[] | null) {
    this.supported = lines !== null;
    this.lines = lines ?? [];
    this.#byTag = new Map();
    for (const line of this.lines) {
      const [tag, ...args] = line.trim().split(/\s+/);
      if (tag) this.#byTag.set(tag.toUpperCase(), args);
    }
  }

  has(tag: string): boolean {
    return this.#byTag.has(tag.toUpperCase());
  }

  args(tag: string): readonly string[] {
    return this.#byTag.get(tag.toUpperCase()) ?? [];
  }

  /** SASL mechanisms offered, upper-cased. */
  get saslMechanisms(): ReadonlySet<string> {
    return new Set(this.args('SASL').map((m) => m.toUpperCase()));
  }

  /** "EXPIRE 0": the server deletes retrieved mail itself, so keep-on-server cannot work (s.6.7). */
  get expiresImmediately(): boolean {
    return this.args('EXPIRE')[0] === '0';
  }
}
