/**
 * A deterministic mail corpus for benchmarks: the same seed gives the same 2,000 messages, byte for
 * byte, on every machine, so runs compare like with like. Sizes follow a long-tailed spread (most mail
 * is small, a few messages carry large attachments) scaled to the requested total.
 */

import { SeededRandom } from '../test/support/seeded-random.js';

/** The seeded generator of the tests (mulberry32), as a function: same seed, same numbers. */
export function prng(seed: number): () => number {
  const random = new SeededRandom(seed);
  return () => random.next();
}

export interface CorpusOptions {
  messages: number;
  totalOctets: number;
  seed: number;
}

export const DEFAULT_CORPUS: CorpusOptions = {
  messages: 2_000,
  totalOctets: 150 * 1024 * 1024,
  seed: 1939,
};

/** The corpus flags every bench takes (`--messages N --mb M`), defaulting to DEFAULT_CORPUS. */
export const CORPUS_ARGS = {
  messages: { type: 'string', default: String(DEFAULT_CORPUS.messages) },
  mb: { type: 'string', default: String(DEFAULT_CORPUS.totalOctets / 1024 / 1024) },
} as const;

/** The deterministic corpus: DEFAULT_CORPUS, or the size the flags of CORPUS_ARGS ask for. */
export function buildCorpus(args: { messages?: string; mb?: string } = {}): Buffer[] {
  const options: CorpusOptions = {
    messages: args.messages === undefined ? DEFAULT_CORPUS.messages : Number(args.messages),
    totalOctets: args.mb === undefined ? DEFAULT_CORPUS.totalOctets : Number(args.mb) * 1024 * 1024,
    seed: DEFAULT_CORPUS.seed,
  };
  return corpusSizes(options).map((octets, i) => corpusMessage(i, octets, options.seed));
}

const MIN_OCTETS = 1_024;
const MAX_OCTETS = 12 * 1024 * 1024;

export function corpusSizes(options: CorpusOptions): number[] {
  const random = prng(options.seed);
  const raw = Array.from({ length: options.messages }, () => Math.exp(random() * 9));
  const scale = options.totalOctets / raw.reduce((a, b) => a + b, 0);
  return raw.map((r) => Math.min(MAX_OCTETS, Math.max(MIN_OCTETS, Math.round(r * scale))));
}

/** One message of about `octets` bytes with LF line ends (Dovecot serves them as CRLF). */
export function corpusMessage(i: number, octets: number, seed: number): Buffer {
  const random = prng(seed * 7919 + i);
  const head =
    `From: Sender ${i % 97} <sender${i % 97}@example.com>\n` +
    `To: archive@example.com\n` +
    `Subject: benchmark message ${i}\n` +
    `Date: Thu, 26 Nov 2026 ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00 +0000\n` +
    `Message-ID: <bench.${seed}.${i}@example.com>\n` +
    'MIME-Version: 1.0\n' +
    'Content-Type: multipart/mixed; boundary="b"\n\n' +
    '--b\nContent-Type: text/plain; charset=utf-8\n\n' +
    `Hello ${i}.\n.a line that starts with a dot\n` +
    '--b\nContent-Type: application/octet-stream; name="data.bin"\nContent-Transfer-Encoding: base64\n\n';
  const tail = '--b--\n';
  const bodyOctets = Math.max(0, octets - head.length - tail.length);
  const lines = Math.ceil(bodyOctets / 77);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const body = Buffer.alloc(lines * 77);
  for (let l = 0; l < lines; l += 1) {
    for (let c = 0; c < 76; c += 1)
      body[l * 77 + c] = alphabet.charCodeAt(Math.floor(random() * 64));
    body[l * 77 + 76] = 0x0a;
  }
  return Buffer.concat([Buffer.from(head), body, Buffer.from(tail)]);
}
