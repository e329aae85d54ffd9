/**
 * format=flowed text/plain (RFC 3676) unwrapped for the snippet, as libmime's decodeFlowed unwraps it,
 * but streaming: a line ending in a space continues on the next line of the same quote depth, whose
 * quote marker is then not text ("> a \r\n> b" reads "> a b"), and with delsp=yes the space before
 * the break goes too ("日本 \r\n語" reads "日本語"). A "-- " signature separator is never joined.
 */

/** A quote marker longer than this is taken as text: no real reply nests that deep. */
const MAX_QUOTE_PREFIX = 1024;

export class FlowedText {
  readonly #delSp: boolean;
  readonly #out: (text: string) => void;
  /** The start of the current line, until its quote depth is known. */
  #start = '';
  #startKnown = false;
  /** A CR that ended the last piece: with an LF next, it is part of the line break. */
  #cr = false;
  #first = true;
  #depth = 0;
  /** Trailing spaces of the paragraph, held back because delsp=yes may delete the last one. */
  #heldSpaces = 0;
  #paragraphLength = 0;
  #paragraphStart = '';

  constructor(delSp: boolean, out: (text: string) => void) {
    this.#delSp = delSp;
    this.#out = out;
  }

  write(text: string): void {
    let piece = this.#cr ? `\r${text}` : text;
    this.#cr = piece.endsWith('\r');
    if (this.#cr) piece = piece.slice(0, -1);
    const lines = piece.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      if (i > 0) this.#endLine();
      this.#lineText(lines[i] ?? '');
    }
  }

  end(): void {
    if (this.#cr) this.#lineText('\r');
    this.#cr = false;
    this.#endLine();
  }

  #lineText(text: string): void {
    if (this.#startKnown) {
      this.#content(text);
      return;
    }
    this.#start += text;
    let depth = 0;
    while (this.#start.charCodeAt(depth) === 0x3e) depth++;
    if (depth < this.#start.length || depth > MAX_QUOTE_PREFIX) this.#beginLine();
  }

  #endLine(): void {
    if (!this.#startKnown) this.#beginLine();
    this.#startKnown = false;
    this.#start = '';
  }

  #beginLine(): void {
    const line = this.#start;
    this.#start = '';
    this.#startKnown = true;
    let depth = 0;
    while (line.charCodeAt(depth) === 0x3e) depth++;
    const prefixLength = depth > 0 && line.charCodeAt(depth) === 0x20 ? depth + 1 : depth;
    let content = line.slice(prefixLength);
    const signature = this.#paragraphLength === 3 && this.#paragraphStart === '-- ';
    const soft = !this.#first && depth === this.#depth && this.#heldSpaces > 0 && !signature;
    this.#first = false;
    if (soft) {
      if (this.#delSp) {
        this.#heldSpaces--;
        this.#paragraphLength--;
      } else if (depth === 0) {
        content = content.replace(/^ /, '');
      }
    } else {
      this.#out(`${' '.repeat(this.#heldSpaces)}\n${line.slice(0, prefixLength)}`);
      this.#heldSpaces = 0;
      this.#paragraphLength = 0;
      this.#paragraphStart = '';
      this.#depth = depth;
    }
    this.#content(content);
  }

  #content(text: string): void {
    if (text === '') return;
    if (this.#paragraphStart.length < 3) {
      this.#paragraphStart = (this.#paragraphStart.slice(0, this.#paragraphLength) + text).slice(
        0,
        3,
      );
    }
    this.#paragraphLength += text.length;
    let end = text.length;
    while (end > 0 && text.charCodeAt(end - 1) === 0x20) end--;
    if (end === 0) {
      this.#heldSpaces += text.length;
      return;
    }
    this.#out(' '.repeat(this.#heldSpaces) + text.slice(0, end));
    this.#heldSpaces = text.length - end;
  }
}
