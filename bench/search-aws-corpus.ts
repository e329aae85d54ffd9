/**
 * Synthetic search documents for the AWS search benchmark, deterministic by seed. Text sizes follow
 * what mail bodies are like: a log-normal spread with a median of 1,500 characters (a short
 * reply), a long tail to newsletters, cut at MAX_INDEXED_TEXT_LENGTH as the parser cuts them.
 * Words follow Zipf's law over a 30,000-word vocabulary, so common words have long posting lists
 * and rare ones short, as in real text; the vocabulary is made-up syllables (no dictionary needed).
 */
import { MAX_INDEXED_TEXT_LENGTH } from '../functions/core/message/message-limits.js';
import type { SearchDocument } from '../functions/core/search/search-ports.js';
import { prng } from './corpus.js';

const VOCABULARY_SIZE = 30_000;
const MEDIAN_BODY_CHARS = 1_500;
const BODY_SIGMA = 1.0;
const SYLLABLES = 'ka ri to mo na shi lu ve pa zo en ar ti do bel gra fin hox qua stre'.split(' ');

export interface Vocabulary {
  words: string[];
  /** Cumulative Zipf weights, for sampling by binary search. */
  cumulative: Float64Array;
}

export function vocabulary(seed = 15): Vocabulary {
  const random = prng(seed);
  const words = new Set<string>();
  while (words.size < VOCABULARY_SIZE) {
    const parts = 2 + Math.floor(random() * 3);
    let word = '';
    for (let i = 0; i < parts; i++) word += SYLLABLES[Math.floor(random() * SYLLABLES.length)];
    words.add(word);
  }
  const cumulative = new Float64Array(VOCABULARY_SIZE);
  let total = 0;
  for (let rank = 0; rank < VOCABULARY_SIZE; rank++) {
    total += 1 / (rank + 1);
    cumulative[rank] = total;
  }
  return { words: [...words], cumulative };
}

function sampleWord(v: Vocabulary, random: () => number): string {
  const target = random() * (v.cumulative[v.cumulative.length - 1] as number);
  let low = 0;
  let high = v.cumulative.length - 1;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((v.cumulative[mid] as number) < target) low = mid + 1;
    else high = mid;
  }
  return v.words[low] as string;
}

function text(v: Vocabulary, random: () => number, chars: number): string {
  const parts: string[] = [];
  let length = 0;
  while (length < chars) {
    const word = sampleWord(v, random);
    parts.push(word);
    length += word.length + 1;
    if (random() < 0.08) parts.push(random() < 0.5 ? '.\n' : ',');
  }
  return parts.join(' ');
}

function bodyChars(random: () => number): number {
  // Box-Muller: a standard normal from two uniforms.
  const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  return Math.min(
    MAX_INDEXED_TEXT_LENGTH,
    Math.round(MEDIAN_BODY_CHARS * Math.exp(BODY_SIGMA * normal)),
  );
}

/** Message `i` of the mailbox, the same on every run. */
export function syntheticDocument(v: Vocabulary, mailboxId: string, i: number): SearchDocument {
  const random = prng(1_000_003 * (i + 1));
  const sender = sampleWord(v, random);
  const hasAttachments = random() < 0.2;
  return {
    mailboxId,
    messageKey: `uidl-${String(i).padStart(8, '0')}`,
    sortDate: new Date(Date.UTC(2020, 0, 1) + i * 600_000).toISOString(),
    subject: text(v, random, 20 + Math.floor(random() * 40)),
    from: `${sender} ${sender}@example.com`,
    to: `me me@example.org ${sampleWord(v, random)}@example.net`,
    attachmentNames: hasAttachments ? `${sampleWord(v, random)}.pdf` : '',
    body: text(v, random, bodyChars(random)),
    hasAttachments,
  };
}

/** The word at Zipf rank `rank` (0 is the most common). */
export function wordAtRank(v: Vocabulary, rank: number): string {
  return v.words[rank] as string;
}
