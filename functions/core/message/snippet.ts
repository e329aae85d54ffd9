/**
 * The snippet: the start of a message's text, whitespace collapsed, for list views (and, with a longer
 * limit, the text kept for the search index). Text is added in pieces as it is decoded, so a word or a run of whitespace split between pieces comes out the same as
 * if the text had been added whole.
 */
import { bound, wellFormed } from './bounded-text.js';
import { SNIPPET_LENGTH } from './message-limits.js';

// Separators collapse to one space; invisible characters (format characters and other default-ignorable
// ones such as the zero-width joiners, soft hyphens and U+034F that newsletters pad their preheaders
// with) vanish; words are taken in pieces so that one enormous word is never copied whole.
const SNIPPET_RUN = /([\s\p{Cc}]+)|([\p{Cf}\p{DI}]+)|[^\s\p{Cc}\p{Cf}\p{DI}]{1,256}/gu;

export class SnippetBuilder {
  #out = '';
  #space = false;

  /** `limit`: code units kept; the indexed text (snippet-sources.ts) is built the same way, longer. */
  constructor(readonly limit: number = SNIPPET_LENGTH) {}

  /** Nothing but whitespace was added (cheap, unlike value() !== ''). */
  get empty(): boolean {
    return this.#out.length === 0;
  }

  get full(): boolean {
    return this.#out.length >= this.limit;
  }

  add(text: string): void {
    for (const match of text.matchAll(SNIPPET_RUN)) {
      if (this.full) return;
      if (match[1] !== undefined) {
        this.#space = this.#out.length > 0;
      } else if (match[2] === undefined) {
        this.#out += (this.#space ? ' ' : '') + match[0];
        this.#space = false;
      }
    }
  }

  value(): string {
    return bound(wellFormed(this.#out), this.limit);
  }
}
