/**
 * Both parsers' answers for one message, in the shape of the index record, so that the differential
 * suite compares like with like. The oracle is mailparser 3.14.2 (a devDependency only: nothing under
 * functions/ imports it, so no Lambda bundle carries it).
 *
 * The projection applies to mailparser's answer only what the index does to any parser's answer and
 * is not a reading of the mail: address lists flattened, lower-cased, deduplicated and cleaned of
 * control characters; the subject cleaned the same way. Anything that is a reading of the mail is
 * compared as mailparser gave it, and every difference must be a row of the allowed-differences table.
 */
import { type AddressObject, type EmailAddress, simpleParser } from 'mailparser';
import type {
  AddressSummary,
  AttachmentSummary,
  MessageMetadata,
} from '../../functions/core/archive/ports.js';
import { cleanText } from '../../functions/core/message/bounded-text.js';
import {
  MAX_NAME_LENGTH,
  MAX_SUBJECT_LENGTH,
} from '../../functions/core/message/message-limits.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';

export const COMPARED_FIELDS = [
  'from',
  'to',
  'cc',
  'subject',
  'date',
  'messageId',
  'attachments',
] as const;
export type ComparedField = (typeof COMPARED_FIELDS)[number];

export interface ComparedRecord {
  from: AddressSummary[];
  to: AddressSummary[];
  cc: AddressSummary[];
  subject: string | null;
  /**
   * ISO 8601, or null when there is none. mailparser puts the parse time in for a Date header it
   * cannot read: the oracle's date is then PARSE_TIME.
   */
  date: string | null;
  messageId: string | null;
  attachments: AttachmentSummary[];
}

/**
 * The scanner's answer, the message written whole (that the answer does not depend on how the input
 * is chunked is mime-scanner.test.ts's to show).
 */
export async function scannerMetadata(raw: Buffer): Promise<MessageMetadata> {
  const parser = createMessageParser();
  parser.sink.end(raw);
  return parser.metadata;
}

/** The compared fields of the scanner's answer. */
export function scannerRecord(metadata: MessageMetadata): ComparedRecord {
  return {
    from: metadata.from,
    to: metadata.to,
    cc: metadata.cc,
    subject: metadata.subject,
    date: metadata.date,
    messageId: metadata.messageId,
    attachments: metadata.attachments,
  };
}

function flatten(
  value: AddressObject | AddressObject[] | undefined,
  first: boolean,
): EmailAddress[] {
  if (value === undefined) return [];
  const objects = Array.isArray(value) ? value : [value];
  const out: EmailAddress[] = [];
  for (const object of first ? objects.slice(0, 1) : objects) {
    for (const entry of object.value) {
      if (entry.group !== undefined) out.push(...entry.group.filter((m) => m.group === undefined));
      else out.push(entry);
    }
  }
  return out;
}

/** The index's list rules (addresses.ts collectAddresses), applied to mailparser's entries. */
function indexList(entries: readonly EmailAddress[]): AddressSummary[] {
  const out: AddressSummary[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const address = cleanText(entry.address ?? '', Number.MAX_SAFE_INTEGER).toLowerCase();
    const name = cleanText(entry.name ?? '', MAX_NAME_LENGTH);
    if (address === '' && name === '') continue;
    const identity = address === '' ? `name:${name.toLowerCase()}` : `address:${address}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    out.push({ address, name });
  }
  return out;
}

export const PARSE_TIME = 'the parse time';

/** How far from the parse time mailparser's date must be to be a date it read, not one it made up. */
const MADE_UP_DATE_WINDOW_MS = 10 * 60_000;

export async function oracleRecord(raw: Buffer): Promise<ComparedRecord> {
  const started = Date.now();
  const mail = await simpleParser(raw, {
    checksumAlgo: 'sha256',
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipTextLinks: true,
    skipImageLinks: true,
  });
  const date = mail.date;
  const madeUp =
    date !== undefined &&
    (Number.isNaN(date.getTime()) ||
      (date.getTime() >= started - MADE_UP_DATE_WINDOW_MS &&
        date.getTime() <= Date.now() + MADE_UP_DATE_WINDOW_MS));
  const subject = mail.subject === undefined ? '' : cleanText(mail.subject, MAX_SUBJECT_LENGTH);
  return {
    from: indexList(flatten(mail.from, true)),
    to: indexList(flatten(mail.to, false)),
    cc: indexList(flatten(mail.cc, false)),
    subject: subject === '' ? null : subject,
    date: date === undefined ? null : madeUp ? PARSE_TIME : date.toISOString(),
    messageId: typeof mail.messageId === 'string' && mail.messageId !== '' ? mail.messageId : null,
    attachments: mail.attachments.map((attachment) => ({
      filename: attachment.filename ?? null,
      contentType: attachment.contentType,
      octets: attachment.size,
      sha256: attachment.checksum,
    })),
  };
}
