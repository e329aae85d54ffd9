import type { AddressSummary, MessageRecord } from '../archive/ports.js';
import { sortDateOf } from '../archive/sort-date.js';
import type { MessageText, SearchDocument } from './search-ports.js';

function addressText(addresses: readonly AddressSummary[]): string {
  return addresses
    .map((entry) => [entry.name, entry.address].filter((part) => part !== '').join(' '))
    .filter((part) => part !== '')
    .join(' ');
}

/**
 * One message as the index holds it. Subject, addresses and attachment names come from the record
 * (already decoded from RFC 2047 and bounded by the parser); the body from its text. Attachments
 * count as the listing counts them (any attachment part, named or not).
 */
export function searchDocumentOf(record: MessageRecord, text: MessageText): SearchDocument {
  return {
    mailboxId: record.mailboxId,
    messageKey: record.messageKey,
    sortDate: sortDateOf(record),
    subject: record.subject ?? '',
    from: addressText(record.from),
    to: addressText([...record.to, ...record.cc]),
    attachmentNames: record.attachments
      .map((attachment) => attachment.filename ?? '')
      .filter((name) => name !== '')
      .join(' '),
    body: text.body,
    hasAttachments: record.attachments.length > 0,
  };
}
