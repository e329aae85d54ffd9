import { describe, expect, it } from 'vitest';
import { searchDocumentOf } from '../../functions/core/search/search-document.js';
import { makeRecord } from '../archive/archive-contract.js';

describe('searchDocumentOf', () => {
  it('takes subject, addresses, attachment names and sort date from the record, the body from its text', () => {
    const record = makeRecord({
      mailboxId: 'mb',
      messageKey: 'k1',
      subject: 'Réunion',
      from: [{ address: 'alice@example.com', name: 'Alice' }],
      to: [{ address: 'bob@example.org', name: '' }],
      cc: [{ address: '', name: 'Carol' }],
      date: null,
      archivedAt: '2024-06-01T12:00:00.000Z',
    });
    expect(searchDocumentOf(record, { body: 'hello', truncated: false })).toEqual({
      mailboxId: 'mb',
      messageKey: 'k1',
      sortDate: '2024-06-01T12:00:00.000Z',
      subject: 'Réunion',
      from: 'Alice alice@example.com',
      to: 'bob@example.org Carol',
      attachmentNames: 'report.pdf',
      body: 'hello',
      hasAttachments: true,
    });
  });

  it('gives empty fields for a record with no subject, address or attachment', () => {
    const record = makeRecord({
      mailboxId: 'mb',
      subject: null,
      from: [],
      to: [],
      attachments: [],
    });
    expect(searchDocumentOf(record, { body: '', truncated: true })).toMatchObject({
      subject: '',
      from: '',
      to: '',
      attachmentNames: '',
      hasAttachments: false,
      sortDate: '2024-03-05T09:00:00.000Z',
    });
  });
});
