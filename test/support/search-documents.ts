/** A search document for tests: empty fields unless the test says otherwise. */
import type { SearchDocument } from '../../functions/core/search/search-ports.js';

export function searchDoc(
  messageKey: string,
  fields: Partial<SearchDocument> = {},
): SearchDocument {
  return {
    mailboxId: 'm',
    messageKey,
    sortDate: '2026-12-05T00:00:00.000Z',
    subject: '',
    from: '',
    to: '',
    attachmentNames: '',
    body: '',
    hasAttachments: false,
    ...fields,
  };
}
