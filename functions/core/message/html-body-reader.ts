/**
 * A message's HTML body and the images it embeds, read back out of the stored raw message for
 * display: the first text/html part decoded to a string, and each image attachment that carries a
 * Content-ID, decoded, so that `cid:` references can be shown without the page fetching anything.
 * It runs the same scanner, part rules and decoders as the parser, so attachment positions agree
 * with the record's numbering.
 */
import type { Readable } from 'node:stream';
import { bodyEncodingFor, decodeOctets } from './charsets.js';
import { firstField, type HeaderField, unfoldedValue } from './header-block.js';
import { MAX_PARSED_OCTETS } from './message-limits.js';
import type { MimePart } from './mime-part.js';
import { MimeLimitError, MimeScanner, type ScanListener } from './mime-scanner.js';
import { createTransferDecoder, type TransferDecoder } from './transfer-decoders.js';

/** HTML beyond this is not shown: no real message body is larger, and a browser tab must not choke. */
export const MAX_HTML_BODY_OCTETS = 2 * 1024 * 1024;
/** Embedded images kept in all: they are inlined into the page as data: URLs, so they are bounded. */
export const MAX_INLINE_IMAGE_OCTETS = 8 * 1024 * 1024;

export interface InlineImage {
  contentType: string;
  data: Buffer;
}

export interface HtmlBody {
  html: string;
  truncated: boolean;
  /** By Content-ID (without its angle brackets). */
  images: Map<string, InlineImage>;
}

function contentIdOf(fields: readonly HeaderField[]): string | null {
  const field = firstField(fields, 'content-id');
  if (field === undefined) return null;
  const id = unfoldedValue(field)
    .trim()
    .replace(/^<(.*)>$/, '$1');
  return id === '' ? null : id;
}

class HtmlBodyScan implements ScanListener {
  html: Buffer[] = [];
  htmlOctets = 0;
  htmlPart: MimePart | null = null;
  truncated = false;
  readonly images = new Map<string, InlineImage>();
  #imageOctets = 0;
  #decoder: TransferDecoder | null = null;
  #finish: (() => void) | null = null;

  partStart(part: MimePart, fields: HeaderField[]): void {
    if (part.role === 'html' && this.htmlPart === null) {
      this.htmlPart = part;
      this.#decoder = createTransferDecoder(part.transferEncoding, (octets) =>
        this.#addHtml(octets),
      );
      return;
    }
    const id = part.role === 'attachment' ? contentIdOf(fields) : null;
    if (id === null || !part.contentType.startsWith('image/') || this.images.has(id)) return;
    const chunks: Buffer[] = [];
    let octets = 0;
    this.#decoder = createTransferDecoder(part.transferEncoding, (data) => {
      octets += data.length;
      chunks.push(Buffer.from(data));
    });
    this.#finish = () => {
      if (this.#imageOctets + octets > MAX_INLINE_IMAGE_OCTETS) return;
      this.#imageOctets += octets;
      this.images.set(id, { contentType: part.contentType, data: Buffer.concat(chunks) });
    };
  }

  #addHtml(octets: Buffer): void {
    const room = MAX_HTML_BODY_OCTETS - this.htmlOctets;
    if (octets.length > room) this.truncated = true;
    const kept = octets.subarray(0, Math.max(0, room));
    this.html.push(Buffer.from(kept));
    this.htmlOctets += kept.length;
  }

  partBody(octets: Buffer): void {
    this.#decoder?.write(octets);
  }

  partEnd(): void {
    this.#decoder?.end();
    this.#decoder = null;
    this.#finish?.();
    this.#finish = null;
  }
}

/** Null when the message has no HTML part. Never throws for what the message contains. */
export async function readHtmlBody(raw: Readable): Promise<HtmlBody | null> {
  const scan = new HtmlBodyScan();
  const scanner = new MimeScanner(scan);
  let read = 0;
  try {
    for await (const chunk of raw as AsyncIterable<Buffer>) {
      if (read >= MAX_PARSED_OCTETS) break;
      const piece = chunk.subarray(0, MAX_PARSED_OCTETS - read);
      read += piece.length;
      scanner.write(piece);
    }
    scanner.end();
  } catch (error) {
    // A message over a structural limit is shown as far as it was read.
    if (!(error instanceof MimeLimitError)) throw error;
  } finally {
    raw.destroy();
  }
  if (scan.htmlPart === null) return null;
  const html = decodeOctets(Buffer.concat(scan.html), bodyEncodingFor(scan.htmlPart.charset));
  return { html, truncated: scan.truncated, images: scan.images };
}
