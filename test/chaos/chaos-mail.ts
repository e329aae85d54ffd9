/**
 * The mail a chaos run delivers, made from the run's seeded generator: every message has a
 * Message-ID unique to (seed, run, number), which is how the invariant finds it on the server and in
 * the archive, and a body of random lines, some dot-stuffed on the wire, some with 8-bit octets.
 */
import type { SeededRandom } from '../support/seeded-random.js';

const PRINTABLE = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_=+/()';

export class ChaosMail {
  #next = 0;
  constructor(
    private readonly random: SeededRandom,
    private readonly seed: number,
    private readonly run: number,
  ) {}

  /** A message of about `octets` octets (LF line ends; the server serves CRLF). */
  message(octets: number): Buffer {
    this.#next += 1;
    const n = this.#next;
    const head = Buffer.from(
      `From: Chaos ${n} <sender${n % 5}@chaos.example>\nTo: rcpt@chaos.example\n` +
        `Subject: chaos ${this.seed} run ${this.run} message ${n}\n` +
        `Date: Fri, 04 Dec 2026 10:${String(n % 60).padStart(2, '0')}:00 +0000\n` +
        `Message-ID: <chaos.${this.seed}.${this.run}.${n}@popvault.test>\n\n`,
    );
    const lines: Buffer[] = [head];
    let size = head.length;
    while (size < octets) {
      const length = Math.min(this.random.int(0, 120), octets - size);
      const line = Buffer.alloc(length + 1);
      for (let i = 0; i < length; i++)
        line[i] = PRINTABLE.charCodeAt(this.random.int(0, PRINTABLE.length - 1));
      // Lines starting with "." exercise dot-stuffing; a few 8-bit octets, raw UTF-8 mail.
      if (length > 0 && this.random.chance(0.05)) line[0] = 0x2e;
      if (length > 2 && this.random.chance(0.03)) line.set([0xc3, 0xa9], length - 2);
      line[length] = 0x0a;
      lines.push(line);
      size += line.length;
    }
    return Buffer.concat(lines);
  }
}
