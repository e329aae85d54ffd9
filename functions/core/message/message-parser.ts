/**
 * The parsing step of the pull run: fed the same bytes as the hash and the spool, in one pass, it
 * yields the bounded metadata of the index record. Bad mail must never cost the archive a message, so
 * the sink never errors and never holds the caller up because of what the message contains: a parse
 * failure switches it to accepting and discarding the rest, and `metadata` resolves (never rejects)
 * with what was extracted and the reason in `parseError`.
 *
 * The work streams: each chunk is scanned for structure (mime-scanner.ts), attachment bodies are
 * decoded and hashed as they pass, and text is decoded only as far as the snippet and the search
 * index need (MAX_INDEXED_TEXT_LENGTH). Memory per message is the largest header block, a few
 * held-back octets per decoder, the text kept for the index, the HTML held to reduce to text, and
 * the queue of input views waiting for their turn (PARSE_QUEUE_OCTETS).
 *
 * What is read raw rather than decoded, and why:
 * - the Date: parsed here from the raw header (message-date.ts), never replaced by the current time;
 * - the Message-ID: encoded words inside it are not decoded, so that replies quoting it in
 *   In-Reply-To/References still match it.
 */
import { createHash, type Hash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { AttachmentSummary, MessageMetadata } from '../archive/ports.js';
import type { MessageText } from '../search/search-ports.js';
import { type AddressLists, collectAddresses } from './addresses.js';
import { bound, cleanText, wellFormed } from './bounded-text.js';
import { sanitizeContentType } from './content-types.js';
import { embeddedSummary } from './embedded-summary.js';
import { decodeWords } from './encoded-words.js';
import { sanitizeFilename } from './filenames.js';
import { type HeaderField, rawHeaderText, unfoldedValue } from './header-block.js';
import { parseMessageDate } from './message-date.js';
import {
  MAX_ATTACHMENTS_LISTED,
  MAX_DATE_HEADER_LENGTH,
  MAX_MESSAGE_ID_LENGTH,
  MAX_PARSE_ERROR_LENGTH,
  MAX_PARSED_OCTETS,
  MAX_SUBJECT_LENGTH,
} from './message-limits.js';
import { attachmentContentType, type MimePart } from './mime-part.js';
import {
  MimeLimitError,
  MimeScanner,
  type PartContext,
  type ScanListener,
} from './mime-scanner.js';
import { PARSER_VERSION } from './parser-version.js';
import { SnippetBuilder } from './snippet.js';
import { SnippetSources, type TextPartSink } from './snippet-sources.js';
import { createTransferDecoder, type TransferDecoder } from './transfer-decoders.js';

/**
 * Input queued ahead of the parser before a write reports backpressure: enough to ride out the
 * bursts a socket delivers between two turns of the event loop (TLS records are 16 KiB).
 */
const PARSE_QUEUE_OCTETS = 1024 * 1024;

export interface MessageParser {
  /** Accepts the raw RFC 5322 bytes with ordinary backpressure. Never emits 'error'. */
  sink: Writable;
  /** Resolves once the sink has ended (or been destroyed) and parsing has settled. Never rejects. */
  metadata: Promise<MessageMetadata>;
  /**
   * The decoded text for the search index, bounded (see snippet-sources.ts); resolves with the
   * metadata, its `truncated` equal to the metadata's `textTruncated`. Never rejects: a message that
   * fails to parse has the text read before the failure.
   */
  text: Promise<MessageText>;
}

export function createMessageParser(): MessageParser {
  const run = new ParseRun();
  return { sink: run.sink, metadata: run.metadata, text: run.text };
}

/**
 * A short reason for a parse failure: a structural limit names itself; anything else may quote the
 * mail, so it is cleaned and bounded like any header.
 */
export function parseErrorReason(err: unknown): string {
  if (err instanceof MimeLimitError) return cleanText(err.message, MAX_PARSE_ERROR_LENGTH);
  const message = err instanceof Error ? err.message : String(err);
  return cleanText(`mail parser failed: ${message}`, MAX_PARSE_ERROR_LENGTH);
}

/** A raw header field's value as sent: UTF-8, only the CRLF of folding removed (RFC 5322 s.2.2.3). */
function rawValue(field: HeaderField): string {
  return rawHeaderText(field.line.slice(field.line.indexOf(':') + 1)).replace(
    /\r?\n(?=[ \t])/g,
    '',
  );
}

/** The Message-ID as sent: the first <...> of the raw header, or its first word in brackets. */
function messageIdFrom(raw: string): string | null {
  const value = raw.trim();
  let id: string;
  const open = value.indexOf('<');
  if (open >= 0) {
    const close = value.indexOf('>', open);
    id = close === -1 ? value.slice(open) : value.slice(open, close + 1);
  } else {
    const word = value.split(/\s+/, 1)[0] ?? '';
    id = word === '' ? '' : `<${word}>`;
  }
  id = wellFormed(id).replace(/[\s\p{Cc}]+/gu, '');
  return id === '' || id === '<>' ? null : bound(id, MAX_MESSAGE_ID_LENGTH);
}

/** The Date header as sent, unfolded: tabs become spaces, other control characters U+FFFD. */
function dateHeaderFrom(raw: string): string | null {
  const value = bound(
    wellFormed(raw.trim().replace(/\t/g, ' ')).replace(/\p{Cc}/gu, '\uFFFD'),
    MAX_DATE_HEADER_LENGTH,
  );
  return value === '' ? null : value;
}

interface OpenAttachment {
  part: MimePart;
  /** Null when the attachment is past MAX_ATTACHMENTS_LISTED: it is read past, not decoded. */
  hash: Hash | null;
  octets: number;
}

type Mode =
  /** Input goes to the scanner. */
  | 'parsing'
  /** MAX_PARSED_OCTETS was reached; later input is discarded. */
  | 'cut'
  /** The scanner failed, the input was aborted, or metadata is settled; input is discarded. */
  | 'done';

class ParseRun implements ScanListener {
  readonly sink: Writable;
  readonly metadata: Promise<MessageMetadata>;
  readonly text: Promise<MessageText>;

  readonly #scanner = new MimeScanner(this);
  #resolve: (metadata: MessageMetadata) => void = () => {};
  #resolveText: (text: MessageText) => void = () => {};
  #mode: Mode = 'parsing';
  #settled = false;
  #inputEnded = false;
  #parsedOctets = 0;

  /** The leaf part being read, and what its decoded octets go to. */
  #decoder: TransferDecoder | null = null;
  #attachment: OpenAttachment | null = null;
  #text: TextPartSink | null = null;

  #attachmentsSeen = 0;
  #messageId: string | null = null;
  #subject: string | null = null;
  #dateHeader: string | null = null;
  #addresses: AddressLists = { from: [], to: [], cc: [], truncated: false };
  #attachments: AttachmentSummary[] = [];
  #attachmentsTruncated = false;
  readonly #snippet = new SnippetSources();
  /** Text that stood where headers belong (a message that is just text): the snippet if none else. */
  #strayHeaderText = '';
  #parseError: string | null = null;

  constructor() {
    this.metadata = new Promise<MessageMetadata>((resolve) => {
      this.#resolve = resolve;
    });
    this.text = new Promise<MessageText>((resolve) => {
      this.#resolveText = resolve;
    });
    this.sink = new Writable({
      // Parsing runs in its own turn of the event loop rather than inside the caller's write, so
      // that it fills the time a pull spends waiting for the server instead of adding to it. The
      // queue is of views the caller already holds, bounded by ordinary backpressure.
      highWaterMark: PARSE_QUEUE_OCTETS,
      write: (chunk: Buffer, _encoding, callback) => {
        setImmediate(() => {
          this.#write(chunk);
          callback();
        });
      },
      writev: (chunks, callback) => {
        setImmediate(() => {
          for (const { chunk } of chunks) this.#write(chunk as Buffer);
          callback();
        });
      },
      final: (callback) => {
        this.#inputEnded = true;
        if (this.#mode === 'parsing') this.#end();
        this.#settle();
        callback();
      },
      destroy: (_error, callback) => {
        // autoDestroy runs this after a normal finish too; only an unfinished input is an abort.
        if (!this.#inputEnded) this.#fail('the message stream was aborted before its end');
        // The caller's error, if any, is theirs: the sink itself never errors.
        callback(null);
      },
    });
  }

  #write(chunk: Buffer): void {
    if (this.#mode !== 'parsing') return;
    const room = MAX_PARSED_OCTETS - this.#parsedOctets;
    const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.#parsedOctets += piece.length;
    try {
      this.#scanner.write(piece);
    } catch (err) {
      // A structural limit, or a fault in extraction: either ends the parse.
      this.#fail(parseErrorReason(err));
    }
    if (piece.length < chunk.length && this.#mode === 'parsing') this.#cut();
  }

  #end(): void {
    try {
      this.#scanner.end();
    } catch (err) {
      this.#fail(parseErrorReason(err));
    }
  }

  /**
   * Input stops at MAX_PARSED_OCTETS: a text part read so far still counts for the snippet, but an
   * attachment cut off there has no true size or hash, and whatever followed it is unknown.
   */
  #cut(): void {
    this.#mode = 'cut';
    this.#attachmentsTruncated = true;
    this.#snippet.markCut();
    this.#attachment = null;
    const text = this.#text;
    this.#text = null;
    try {
      text?.end();
    } catch (err) {
      this.#fail(parseErrorReason(err));
    }
    this.#decoder = null;
  }

  #fail(reason: string): void {
    if (this.#settled) return;
    this.#mode = 'done';
    this.#parseError ??= cleanText(reason, MAX_PARSE_ERROR_LENGTH);
    // An attachment cut off mid-stream has no true hash or size.
    if (this.#attachment !== null) this.#attachmentsTruncated = true;
    this.#attachment = null;
    this.#text = null;
    this.#decoder = null;
    this.#settle();
  }

  // ScanListener ------------------------------------------------------------------------------

  partStart(part: MimePart, fields: HeaderField[], context: PartContext): void {
    if (context.root) this.#readRootHeaders(fields);
    // mailparser summarised an embedded message unless it was itself only a container of another.
    if (context.embeddedRoot && !part.embedsMessage) {
      this.#snippet.addEmbeddedSummary(embeddedSummary(fields));
    }
    if (part.role === 'attachment') {
      const listed = this.#attachmentsSeen < MAX_ATTACHMENTS_LISTED;
      this.#attachmentsSeen++;
      if (!listed) {
        this.#attachmentsTruncated = true;
        return;
      }
      const attachment: OpenAttachment = { part, hash: createHash('sha256'), octets: 0 };
      this.#attachment = attachment;
      this.#decoder = createTransferDecoder(part.transferEncoding, (octets) => {
        attachment.hash?.update(octets);
        attachment.octets += octets.length;
      });
    } else if (part.role === 'plain' || part.role === 'html') {
      const text = this.#snippet.textPart(part);
      this.#text = text;
      this.#decoder = createTransferDecoder(part.transferEncoding, (octets) => text.write(octets));
    }
  }

  partBody(octets: Buffer): void {
    if (this.#decoder === null) return;
    if (this.#text !== null && !this.#text.wanted) {
      // The snippet has all it needs from this part: its remaining octets are not even decoded.
      this.#decoder = null;
      return;
    }
    this.#decoder.write(octets);
  }

  partEnd(): void {
    this.#decoder?.end();
    this.#decoder = null;
    const attachment = this.#attachment;
    this.#attachment = null;
    if (attachment?.hash) {
      this.#attachments.push({
        filename: sanitizeFilename(attachment.part.filename),
        contentType: sanitizeContentType(attachmentContentType(attachment.part)),
        octets: attachment.octets,
        sha256: attachment.hash.digest('hex'),
      });
    }
    const text = this.#text;
    this.#text = null;
    text?.end();
  }

  // -------------------------------------------------------------------------------------------

  #readRootHeaders(fields: readonly HeaderField[]): void {
    let stray: SnippetBuilder | null = null;
    let subject: string | undefined;
    for (const field of fields) {
      if (field.key === 'date' && this.#dateHeader === null) {
        this.#dateHeader = dateHeaderFrom(rawValue(field));
      } else if (field.key === 'message-id' && this.#messageId === null) {
        this.#messageId = messageIdFrom(rawValue(field));
      } else if (field.key === 'subject' && subject === undefined) {
        // The first Subject with any text, as mailparser chose it; cleaned, it may still be empty.
        const decoded = decodeWords(rawHeaderText(unfoldedValue(field)));
        if (decoded !== '') subject = cleanText(decoded, MAX_SUBJECT_LENGTH);
      } else if (field.key === '') {
        stray ??= new SnippetBuilder();
        if (stray.full) continue;
        stray.add(rawHeaderText(field.line));
        stray.add(' ');
      }
    }
    this.#subject = subject || null;
    this.#strayHeaderText = stray?.value() ?? '';
    this.#addresses = collectAddresses(fields);
  }

  #settle(): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#mode = 'done';
    let date: string | null = null;
    let snippet = '';
    let text: MessageText = { body: '', truncated: false };
    try {
      if (this.#dateHeader !== null) date = parseMessageDate(this.#dateHeader);
      snippet = this.#snippet.snippet();
      text = this.#snippet.text();
    } catch {
      // metadata must resolve whatever happens; an unparsed date is null, as documented
    }
    if (text.body === '' && this.#strayHeaderText !== '') {
      text = { body: this.#strayHeaderText, truncated: text.truncated };
    }
    this.#resolve({
      messageId: this.#messageId,
      from: this.#addresses.from,
      to: this.#addresses.to,
      cc: this.#addresses.cc,
      addressesTruncated: this.#addresses.truncated,
      subject: this.#subject,
      dateHeader: this.#dateHeader,
      date,
      attachments: this.#attachments,
      attachmentsTruncated: this.#attachmentsTruncated,
      snippet: snippet !== '' ? snippet : this.#strayHeaderText,
      parseError: this.#parseError,
      parserVersion: PARSER_VERSION,
      textTruncated: text.truncated,
    });
    this.#resolveText(text);
  }
}
