/**
 * Limits on what an untrusted message can make the parser keep or do. The goal: ANY message, however
 * hostile, yields metadata whose JSON stays well under DynamoDB's 400 KB item limit (one real message
 * seen has a 138 KB To: header), and parsing it costs bounded memory even while several messages are
 * in flight. The raw bytes are archived whole regardless: these bound the index record, never the
 * archive.
 *
 * Lengths are in UTF-16 code units (JavaScript string length). Every string is stripped of control
 * characters and lone surrogates before it is bounded, so one unit costs at most 3 bytes of JSON
 * (a BMP character outside ASCII); see WORST_CASE_METADATA_JSON_OCTETS.
 */

/**
 * Addresses kept per list (from, to, cc). Past a few dozen recipients a message is a mass mailing and
 * the rest add nothing to search or display; a per-list bound stops a huge To: from crowding out Cc.
 */
export const MAX_ADDRESSES_PER_LIST = 32;

/** Addresses kept over from, to and cc together: the per-list bound alone would allow 3 x 32. */
export const MAX_ADDRESSES_TOTAL = 64;

/**
 * One address. RFC 5321 s.4.5.3.1.3 limits a path to 256 octets including the angle brackets, so no
 * deliverable address is longer; a longer one is cut and `addressesTruncated` set.
 */
export const MAX_ADDRESS_LENGTH = 254;

/** One display name. Real ones are under 64; 100 keeps "Name (via List)" forms whole. */
export const MAX_NAME_LENGTH = 100;

/**
 * The decoded subject. RFC 5322 s.2.1.1 limits a line to 998 characters; a subject longer than one
 * line is not meant to be read, and 998 units cost at most ~3 KB of JSON.
 */
export const MAX_SUBJECT_LENGTH = 998;

/**
 * The Message-ID. Real ones are 40-120 characters (Gmail ~70, Outlook ~100). At 255 units, at most
 * 765 UTF-8 bytes, it stays under DynamoDB's 1024-byte sort-key limit and 2048-byte partition-key
 * limit, so it can key an index either way.
 */
export const MAX_MESSAGE_ID_LENGTH = 255;

/**
 * The raw Date header. A valid date-time with a zone comment is under 50 characters; 128 keeps common
 * junk whole while bounding what the date parser has to look at.
 */
export const MAX_DATE_HEADER_LENGTH = 128;

/** The start of the text, whitespace collapsed: enough for a list view, small enough for every row. */
export const SNIPPET_LENGTH = 256;

/**
 * Attachments listed. Real mail has fewer than 20; each entry can cost ~1.2 KB of JSON, so 50 keeps the
 * worst case near 60 KB. Every attachment is still consumed (and the raw message archived).
 */
export const MAX_ATTACHMENTS_LISTED = 50;

/** One attachment file name: NAME_MAX on common file systems, so the name can be used as given. */
export const MAX_FILENAME_LENGTH = 255;

/**
 * A file name extension kept when a long name is cut, so "report<900 chars>.pdf" still ends in ".pdf".
 * Longer "extensions" are just more name.
 */
export const MAX_FILENAME_EXTENSION_LENGTH = 16;

/** One content type: RFC 6838 s.4.2 limits type and subtype names to 127 characters each. */
export const MAX_CONTENT_TYPE_LENGTH = 255;

/** The parse error reason: short, and it may quote a library's message. */
export const MAX_PARSE_ERROR_LENGTH = 200;

/**
 * The header block of any one MIME part. The largest real one seen is 138 KB; a larger block is
 * hostile and fails the parse with a recorded reason. It is the one thing the scanner holds whole, so
 * it bounds the parser's memory per message, and the address parser's work, which runs over whole
 * header fields.
 */
export const MAX_HEADER_BLOCK_OCTETS = 1024 * 1024;

/**
 * MIME parts in one message, the message itself and every multipart included. Nothing is kept per
 * part, but each costs a header parse and a decoder: a message of nothing but empty parts (7 octets
 * each) could otherwise make 64 MiB cost millions of them. Real bulk mail stays far below (a
 * 5,000-attachment message parses whole here).
 */
export const MAX_MIME_PARTS = 10_000;

/**
 * Multiparts open inside one another. Every line that starts with "--" is compared with the boundary
 * of each open multipart, so the depth multiplies the cost of such lines. Real mail nests a few
 * levels (a forward of a forward of a signed message is under 10); deeper nesting is hostile and fails
 * the parse with a recorded reason.
 */
export const MAX_MULTIPART_DEPTH = 64;

/**
 * Input octets parsed at all. Past this the rest of the message is not parsed (metadata then has
 * `attachmentsTruncated`, and an attachment cut off there is not listed). Memory does not grow with
 * it; this bounds time, mostly SHA-256 over the decoded attachments. 64 MiB parses whole any message
 * that Gmail (50 MB) or Microsoft 365 by default (36 MB) accepts.
 */
export const MAX_PARSED_OCTETS = 64 * 1024 * 1024;

/**
 * HTML held for the snippet, in UTF-16 code units (up to 512 KB of memory). Text bodies are not held:
 * plain text goes into the snippet as it is decoded, and decoding stops once the snippet is full. HTML
 * is the exception, because its text can only be found once the markup around it has been seen, and
 * it is used only when the plain text yields no snippet. Newsletters put tens of KB of CSS before
 * their first word; 256 Ki units reach it in all of them seen.
 */
export const MAX_HTML_SNIPPET_SOURCE = 256 * 1024;

/**
 * Text kept per message for the search index (text/plain parts, or HTML reduced to text), in UTF-16
 * code units after whitespace is collapsed. Mail people write, long quoted threads included, is a
 * few to some tens of KB of text; a body past 128 Ki characters is a log, a report or a pasted
 * document whose searchable words its first 128 Ki characters already hold. It bounds the memory
 * each message in flight holds for it (256 KB) and the size of its row in the index (at most 384 KB
 * of UTF-8), and is never part of the record: MAX_METADATA_JSON_OCTETS does not count it.
 * `textTruncated` records that a message reached it.
 */
export const MAX_INDEXED_TEXT_LENGTH = 128 * 1024;

/**
 * HTML held to reduce to text for the index, when a message has no plain text (UTF-16 code units, up
 * to 1 MB of memory per message in flight). HTML is held whole because its text is found only once
 * the markup around it has been seen; newsletters are 20-200 KB of it, mostly markup, so 512 Ki
 * units reach the end of nearly all of them. The snippet reads only the first
 * MAX_HTML_SNIPPET_SOURCE of the same string.
 */
export const MAX_INDEXED_HTML_SOURCE = 512 * 1024;

/** JSON octets of one worst-case string: every unit a 3-byte character, plus its quotes. */
function stringOctets(length: number): number {
  return 3 * length + 2;
}

/**
 * The largest JSON any message can yield, from the bounds above: each field at its bound, in 3-byte
 * characters. Numbers are counted at 16 digits (2^53).
 */
export const WORST_CASE_METADATA_JSON_OCTETS =
  // {"address":"","name":""}, plus a comma
  MAX_ADDRESSES_TOTAL *
    (stringOctets(MAX_ADDRESS_LENGTH) +
      stringOctets(MAX_NAME_LENGTH) +
      '{"address":,"name":},'.length) +
  // {"filename":"","contentType":"","octets":N,"sha256":"<64 hex>"}, plus a comma
  MAX_ATTACHMENTS_LISTED *
    (stringOctets(MAX_FILENAME_LENGTH) +
      // content types are reduced to ASCII token characters: one octet each
      (MAX_CONTENT_TYPE_LENGTH + 2) +
      16 +
      66 +
      '{"filename":,"contentType":,"octets":,"sha256":},'.length) +
  stringOctets(MAX_MESSAGE_ID_LENGTH) +
  stringOctets(MAX_SUBJECT_LENGTH) +
  stringOctets(MAX_DATE_HEADER_LENGTH) +
  stringOctets(24) + // ISO 8601 date
  stringOctets(SNIPPET_LENGTH) +
  stringOctets(MAX_PARSE_ERROR_LENGTH) +
  // "parserVersion":N,
  '"parserVersion":,'.length +
  // "textTruncated":false,
  '"textTruncated":false,'.length +
  16 +
  // keys, brackets, booleans
  256;

/**
 * The bound every parsed message's metadata JSON must stay under: 40% of DynamoDB's 400 KB item
 * limit, leaving the rest for the record's own fields and any attribute added later.
 */
export const MAX_METADATA_JSON_OCTETS = 160 * 1024;
