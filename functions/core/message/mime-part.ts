/**
 * What a MIME part is, from its header block: its type, its structure (multipart boundary, embedded
 * message) and its role for the index (attachment, text for the snippet, or neither). The rules are
 * mailsplit's and mailparser 3.14.2's, so that a message yields the same attachments, in the same
 * order, as it did when mailparser parsed it; the attachment numbering the query API serves depends
 * on that order.
 */
import { contentTypeForFilename, filenameExtension, OCTET_STREAM } from './content-types.js';
import { decodeWords } from './encoded-words.js';
import { firstField, type HeaderField, unfoldedValue, utf8OrLatin1 } from './header-block.js';
import { type HeaderValue, parseHeaderValue } from './header-params.js';

export type TransferEncoding = 'base64' | 'quoted-printable' | 'identity';

export type PartRole =
  /** Listed with its decoded size and hash. */
  | 'attachment'
  /** Plain text read for the snippet (text/plain, message/delivery-status). */
  | 'plain'
  /** HTML read for the snippet when no plain text yields one. */
  | 'html'
  /** Structure only: a multipart, or an embedded message's container. */
  | 'none';

export interface MimePart {
  /** Lower-cased type/subtype; '' when a Content-Type field is there but empty. */
  contentType: string;
  charset: string | undefined;
  transferEncoding: TransferEncoding;
  /** The decoded file name as sent (not yet sanitized), from Content-Disposition or Content-Type. */
  filename: string | undefined;
  /** The delimiter of a multipart's children ("--" + boundary), or null. */
  delimiter: Buffer | null;
  /** A multipart type, whether or not it has a usable boundary. */
  multipart: boolean;
  /** message/rfc822 shown inline: its body is parsed as a message of its own. */
  embedsMessage: boolean;
  /** text/plain; format=flowed (RFC 3676), and whether delsp=yes. */
  flowed: boolean;
  delSp: boolean;
  role: PartRole;
}

/**
 * A boundary longer than a line (RFC 5322 s.2.1.1; RFC 2046 allows 70 characters) could never stand
 * on a delimiter line, and the scanner holds a possible delimiter line back between chunks: the bound
 * keeps that small. Such a multipart is one opaque part.
 */
const MAX_BOUNDARY_LENGTH = 998;

/** Types that are text for the snippet unless a Content-Disposition makes them attachments. */
const TEXT_TYPES = new Set(['text/plain', 'text/html', 'message/delivery-status']);

/**
 * Removes everything from the first "(" to the last ")" of a line, as mailsplit does for the
 * transfer encoding (a quoted "base64" stays quoted, so it is not decoded, as in Python).
 */
function stripEncodingComments(value: string): string {
  const start = value.indexOf('(');
  if (start < 0) return value;
  const end = value.lastIndexOf(')');
  return end > start ? value.slice(0, start) + value.slice(end + 1) : value;
}

function fieldValue(fields: readonly HeaderField[], key: string): string | undefined {
  const field = firstField(fields, key);
  return field === undefined ? undefined : utf8OrLatin1(unfoldedValue(field));
}

function decodedParam(header: HeaderValue, name: string): string | undefined {
  const value = header.params.get(name);
  if (value === undefined || value === '') return undefined;
  return header.decoded.has(name) ? value : decodeWords(value);
}

/**
 * Describes a part from its header fields.
 * - `root`: the message itself (not an embedded one), whose missing type is text/plain;
 * - `headerOnly`: its header block was cut off by a closing delimiter, so its body is empty and an
 *   inline message/rfc822 is not parsed as a message (mailsplit never looked into such a part).
 */
export function describePart(
  fields: readonly HeaderField[],
  options: { root: boolean; headerOnly: boolean },
): MimePart {
  const disposition = parseHeaderValue(fieldValue(fields, 'content-disposition') ?? '');
  const dispositionFilename = disposition.params.get('filename');
  let typeText = fieldValue(fields, 'content-type');
  if (typeText === undefined) {
    const extension = dispositionFilename ? filenameExtension(dispositionFilename) : '';
    if (extension !== '') typeText = contentTypeForFilename(extension);
    else typeText = /^attachment$/i.test(disposition.value) ? OCTET_STREAM : 'text/plain';
  }
  const type = parseHeaderValue(typeText);
  let contentType = type.value.toLowerCase().trim();
  if (contentType === '' && options.root) contentType = 'text/plain';
  const dispositionValue = decodeWords(disposition.value.toLowerCase().trim());
  const filename = dispositionFilename
    ? decodedParam(disposition, 'filename')
    : decodedParam(type, 'name');

  const slash = contentType.indexOf('/');
  const multipart =
    slash > 0 && contentType.slice(0, slash) === 'multipart' && slash < contentType.length - 1;
  // A boundary is ASCII (RFC 2046 s.5.1.1): one with other characters is no boundary at all.
  const boundary = (type.params.get('boundary') ?? '').trimEnd();
  const delimiter =
    multipart &&
    boundary !== '' &&
    boundary.length <= MAX_BOUNDARY_LENGTH &&
    /^\p{ASCII}+$/u.test(boundary)
      ? Buffer.from(`--${boundary}`, 'latin1')
      : null;
  const encoding = stripEncodingComments(fieldValue(fields, 'content-transfer-encoding') ?? '')
    .toLowerCase()
    .trim();
  const embedsMessage =
    !options.headerOnly &&
    contentType === 'message/rfc822' &&
    ['', '7bit', '8bit', 'binary'].includes(encoding) &&
    dispositionValue === 'inline';
  const flowed =
    contentType === 'text/plain' && type.params.get('format')?.toLowerCase().trim() === 'flowed';

  let role: PartRole = 'none';
  if (!multipart && !embedsMessage) {
    const inline = dispositionValue === '' || dispositionValue === 'inline';
    if (!TEXT_TYPES.has(contentType) || !inline) role = 'attachment';
    else role = contentType === 'text/html' ? 'html' : 'plain';
  }
  return {
    contentType,
    charset: type.params.get('charset') || undefined,
    transferEncoding:
      encoding === 'base64' || encoding === 'quoted-printable' ? encoding : 'identity',
    filename,
    delimiter,
    multipart,
    embedsMessage,
    flowed,
    delSp: flowed && type.params.get('delsp')?.toLowerCase().trim() === 'yes',
    role,
  };
}

/**
 * The content type recorded for an attachment: as declared, except that application/octet-stream
 * with a file name is typed from the name, as mailparser typed it.
 */
export function attachmentContentType(part: MimePart): string {
  if (part.contentType === OCTET_STREAM && part.filename) {
    return contentTypeForFilename(part.filename);
  }
  return part.contentType === '' ? OCTET_STREAM : part.contentType;
}
