/**
 * Where the snippet and the indexed text come from: the message's plain text parts, else its HTML
 * parts, read the way mailparser assembled its `text` and `html` (text/plain and
 * message/delivery-status parts in order, with the header summary of each embedded message; HTML the
 * same way). Plain text is decoded as it arrives, up to MAX_INDEXED_TEXT_LENGTH, and feeds both the
 * snippet (its first SNIPPET_LENGTH) and the indexed text. HTML is held, up to
 * MAX_INDEXED_HTML_SOURCE and only while no plain text has yielded any, and reduced to text at the
 * end: the snippet reads its first MAX_HTML_SNIPPET_SOURCE units, the index all of it. When a
 * message has both, the plain text is indexed alone: the two are alternatives of one text, and
 * indexing both would count every word twice.
 */
import { TextDecoder } from 'node:util';
import type { MessageText } from '../search/search-ports.js';
import { bodyEncodingFor } from './charsets.js';
import type { EmbeddedSummary } from './embedded-summary.js';
import { FlowedText } from './flowed-text.js';
import { addHtmlText } from './html-text.js';
import {
  MAX_HTML_SNIPPET_SOURCE,
  MAX_INDEXED_HTML_SOURCE,
  MAX_INDEXED_TEXT_LENGTH,
} from './message-limits.js';
import type { MimePart } from './mime-part.js';
import { SnippetBuilder } from './snippet.js';

/** Receives one text part's decoded octets. */
export interface TextPartSink {
  /** False once nothing more of this part is needed: its octets need not even be decoded. */
  readonly wanted: boolean;
  write(octets: Buffer): void;
  end(): void;
}

export class SnippetSources {
  readonly #plain = new SnippetBuilder();
  readonly #indexed = new SnippetBuilder(MAX_INDEXED_TEXT_LENGTH);
  #sawPlain = false;
  #sawHtml = false;
  #html = '';
  /** HTML reached MAX_INDEXED_HTML_SOURCE: what followed was not kept. */
  #htmlCut = false;
  /** Input stopped before the message's end (MAX_PARSED_OCTETS). */
  #cut = false;

  get #htmlWanted(): boolean {
    return this.#html.length < MAX_INDEXED_HTML_SOURCE && !(this.#sawPlain && !this.#indexed.empty);
  }

  /** An embedded message begins: its header summary goes into both texts, as mailparser put it. */
  addEmbeddedSummary(summary: EmbeddedSummary): void {
    if (summary.text !== '') {
      this.#addPlain(summary.text);
      this.#addHtml(`<br/>\n${summary.html}`);
    }
  }

  /** The parser stopped reading the message at a limit: the text is cut there. */
  markCut(): void {
    this.#cut = true;
  }

  #addPlain(text: string): void {
    if (!this.#plain.full) this.#plain.add(text);
    this.#indexed.add(text);
  }

  #addHtml(html: string): void {
    if (!this.#htmlWanted) return;
    const room = MAX_INDEXED_HTML_SOURCE - this.#html.length;
    if (html.length > room) this.#htmlCut = true;
    this.#html += html.slice(0, room);
  }

  /** A sink for a text part (role 'plain' or 'html'). */
  textPart(part: MimePart): TextPartSink {
    const decoder = new TextDecoder(bodyEncodingFor(part.charset));
    if (part.role === 'html') {
      this.#sawHtml = true;
      this.#addHtml('<br/>\n');
      const sources = this;
      return {
        get wanted() {
          return sources.#htmlWanted;
        },
        write: (octets) => this.#addHtml(decoder.decode(octets, { stream: true })),
        end: () => this.#addHtml(decoder.decode()),
      };
    }
    this.#sawPlain = true;
    const indexed = this.#indexed;
    this.#addPlain('\n');
    const flowed = part.flowed ? new FlowedText(part.delSp, (text) => this.#addPlain(text)) : null;
    const add = (text: string) => {
      if (flowed === null) this.#addPlain(text);
      else flowed.write(text);
    };
    return {
      get wanted() {
        return !indexed.full;
      },
      write: (octets) => add(decoder.decode(octets, { stream: true })),
      end: () => {
        if (indexed.full) return;
        add(decoder.decode());
        flowed?.end();
      },
    };
  }

  /** The snippet: from plain text if it yields one, else from the HTML; '' if neither does. */
  snippet(): string {
    const plain = this.#sawPlain ? this.#plain.value() : '';
    if (plain !== '' || !this.#sawHtml) return plain;
    const fromHtml = new SnippetBuilder();
    addHtmlText(this.#html.slice(0, MAX_HTML_SNIPPET_SOURCE), fromHtml);
    return fromHtml.value();
  }

  /**
   * The text for the search index, chosen as the snippet is. `truncated` when a limit cut it: the
   * text reached MAX_INDEXED_TEXT_LENGTH, the HTML MAX_INDEXED_HTML_SOURCE, or the parser stopped
   * reading the message.
   */
  text(): MessageText {
    const plain = this.#sawPlain ? this.#indexed.value() : '';
    if (plain !== '' || !this.#sawHtml) {
      return { body: plain, truncated: this.#cut || this.#indexed.full };
    }
    const fromHtml = new SnippetBuilder(MAX_INDEXED_TEXT_LENGTH);
    addHtmlText(this.#html, fromHtml);
    return { body: fromHtml.value(), truncated: this.#cut || this.#htmlCut || fromHtml.full };
  }
}
