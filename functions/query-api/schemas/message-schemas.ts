/**
 * What the message routes answer: a message in a listing, in full, and the pages and lookups that
 * hold them. Only the fields declared here are published (presenters.ts fills them from a record),
 * so a field added to the index record later is not exposed by default.
 */
import { z } from '@hono/zod-openapi';
import { MAX_ATTACHMENTS_LISTED } from '../../core/message/message-limits.js';

/**
 * Senders shown per list item. The detail has them all; a hostile From: with 32 long addresses would
 * otherwise make each item ~35 KB and a 200-item page too large for Lambda's response payload.
 */
export const LIST_ITEM_MAX_FROM = 3;

const isoDateTime = z.iso.datetime();
const octets = z.number().int().min(0);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

const messageId = z.string().openapi({
  description:
    'Opaque id of the message in this API (use it in /messages/{id} URLs); not the Message-ID header.',
});

export const Address = z
  .strictObject({
    address: z
      .string()
      .openapi({ description: 'Lower-cased; empty when the header had only a name.' }),
    name: z.string(),
  })
  .openapi('Address');

export const MessageListItem = z
  .strictObject({
    id: messageId,
    mailboxId: z.string(),
    messageKey: z.string().openapi({ description: 'UIDL, or a digest where the server had none' }),
    messageId: z.string().nullable().openapi({ description: 'The Message-ID header as sent' }),
    subject: z.string().nullable(),
    from: z
      .array(Address)
      .max(LIST_ITEM_MAX_FROM)
      .openapi({ description: 'The first senders; the message detail lists them all.' }),
    date: isoDateTime
      .nullable()
      .openapi({ description: 'The Date header; null when it did not parse' }),
    archivedAt: isoDateTime,
    snippet: z.string(),
    octets,
    attachmentCount: z.number().int().min(0),
    attachmentsTruncated: z.boolean(),
    deletedFromServerAt: isoDateTime.nullable(),
  })
  .openapi('MessageListItem');

export const MessagePage = z
  .strictObject({
    items: z.array(MessageListItem),
    nextCursor: z.string().nullable().openapi({
      description: 'Pass as `cursor` for the next page; null on the last page.',
    }),
  })
  .openapi('MessagePage');

export const MessageIdMatches = z
  .strictObject({
    items: z.array(MessageListItem),
    truncated: z.boolean().openapi({ description: 'More messages carry this Message-ID' }),
  })
  .openapi('MessageIdMatches');

export const Attachment = z
  .strictObject({
    index: z.number().int().min(0).openapi({ description: 'The {n} of its download URL' }),
    filename: z.string().nullable().openapi({ description: 'Sanitised; null when it had none' }),
    contentType: z.string(),
    octets,
    sha256,
  })
  .openapi('Attachment');

export const MessageDetail = z
  .strictObject({
    id: messageId,
    mailboxId: z.string(),
    messageKey: z.string(),
    uidl: z.string().nullable(),
    messageId: z.string().nullable(),
    subject: z.string().nullable(),
    from: z.array(Address),
    to: z.array(Address),
    cc: z.array(Address),
    addressesTruncated: z.boolean(),
    date: isoDateTime.nullable(),
    dateHeader: z.string().nullable().openapi({ description: 'The Date header as sent' }),
    snippet: z.string(),
    octets,
    sha256,
    archivedAt: isoDateTime,
    runId: z.string(),
    deletedFromServerAt: isoDateTime.nullable(),
    parseError: z.string().nullable(),
    parserVersion: z.number().int().min(0).openapi({
      description:
        'The version of the message parser that wrote this record (its attachment numbering and the fields it filled); 0 for a record written before versions were recorded.',
    }),
    attachments: z.array(Attachment).max(MAX_ATTACHMENTS_LISTED),
    attachmentsTruncated: z.boolean(),
  })
  .openapi('MessageDetail');
