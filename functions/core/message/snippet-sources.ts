/**
 * Where the snippet comes from: the message's plain text parts, else its HTML parts, read the way
 * mailparser assembled its `text` and `html` (text/plain and message/delivery-status parts in order,
 * with the header summary of each embedded message; HTML the same way). Only what the snippet needs is
 * decoded: plain text until the snippet is full, HTML up to MAX_HTML_SNIPPET_SOURCE and only while no
 * plain text has yielded a snippet. Nothing else of a text body is held.
 */
import { TextDecoder } from 'node:util';
import { bodyEncodingFor } from './charsets.js';
import type { EmbeddedSummary } from './embedded-summary.js';
import { FlowedText } from './flowed-text.js';
import { addHtmlText } from './html-text.js';
import { MAX_HTML_SNIPPET_SOURCE } from './message-limits.js';
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
  #sawPlain = false;
  #sawHtml = false;
  #html = '';

  get #htmlWanted(): boolean {
    return (
      this.#html.length < MAX_HTML_SNIPPET_SOURCE && !(this.#sawPlain && this.#plain.value() !== '')
    );
  }

  /** An embedded message begins: its header summary goes into both texts, as mailparser put it. */
  addEmbeddedSummary(summary: EmbeddedSummary): void {
    if (summary.text !== '') {
      this.#plain.add(summary.text);
      this.#addHtml(`<br/>\n${summary.html}`);
    }
  }

  #addHtml(html: string): void {
    if (this.#htmlWanted) this.#html += html.slice(0, MAX_HTML_SNIPPET_SOURCE - this.#html.length);
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
    const plain = this.#plain;
    plain.add('\n');
    const flowed = part.flowed ? new FlowedText(part.delSp, (text) => plain.add(text)) : null;
    const add = (text: string) => {
      if (flowed === null) plain.add(text);
      else flowed.write(text);
    };
    return {
      get wanted() {
        return !plain.full;
      },
      write: (octets) => add(decoder.decode(octets, { stream: true })),
      end: () => {
        if (plain.full) return;
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
    addHtmlText(this.#html, fromHtml);
    return fromHtml.value();
  }
}
