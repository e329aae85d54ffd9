/** An attachment of an archived message, found and streamed by the current parser. */
import { pipeline, type Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import type { AttachmentSummary, MessageRecord, RawStore } from '../core/archive/ports.js';
import { readAttachment } from '../core/message/attachment-reader.js';
import { createMessageParser } from '../core/message/message-parser.js';
import { PARSER_VERSION } from '../core/message/parser-version.js';
import { ApiError } from './errors.js';
import { verifying } from './verifying-transform.js';

/**
 * Opens the `position`-th attachment of a raw message, in the order the message parser listed them,
 * verified against the size and hash the index recorded. The reader runs the parser's own scanner
 * and decoders (attachment-reader.ts), so numbering and bytes agree by construction; it streams the
 * target with backpressure and stops reading the message once the target has ended.
 *
 * Resolves once the target's headers are parsed, so a message that no longer yields it is an error
 * response, not a broken download; after that, failures error the returned stream.
 */
export async function openAttachment(
  raw: Readable,
  position: number,
  expected: AttachmentSummary,
): Promise<Readable> {
  let content: Readable;
  try {
    content = await readAttachment(raw, position);
  } catch (cause) {
    throw new ApiError(
      500,
      'ATTACHMENT_UNREADABLE',
      'the stored message no longer yields this attachment',
      { cause },
    );
  }
  const target = verifying(expected, `attachment ${position}`);
  // The client went away, or the bytes did not verify: stop reading the message.
  target.once('close', () => content.destroy());
  pipeline(content, target, () => {});
  return target;
}

/**
 * Where the attachment a record lists at `position` is now, and what the current parser records for
 * it. A record from another parser version may number its attachments otherwise, or name or type
 * them by older rules: its number and hash are not trusted until the current parser, run over the raw
 * message, yields an attachment of the same size and hash (at that position if it still is there,
 * else the first other one). The name and type served are then the current parser's.
 */
export async function locateAttachment(
  record: MessageRecord,
  position: number,
  listed: AttachmentSummary,
  store: RawStore,
): Promise<{ position: number; attachment: AttachmentSummary }> {
  if (record.parserVersion === PARSER_VERSION) return { position, attachment: listed };
  const parser = createMessageParser();
  await pipelineAsync(await store.get(record.rawKey), parser.sink);
  const current = (await parser.metadata).attachments;
  const same = (a: AttachmentSummary | undefined) =>
    a !== undefined && a.sha256 === listed.sha256 && a.octets === listed.octets;
  const found = same(current[position]) ? position : current.findIndex(same);
  const attachment = current[found];
  if (attachment === undefined) {
    // The index and the message disagree, which no request can fix: a server error, logged with
    // the request id, as when the current version's own attachment does not verify.
    throw new ApiError(
      500,
      'ATTACHMENT_UNREADABLE',
      `the message was indexed by parser version ${record.parserVersion}, and the current parser (version ${PARSER_VERSION}) finds no attachment of that size and hash in it; download the raw message instead`,
    );
  }
  return { position: found, attachment };
}
