import { describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { withRecords } from '../../functions/core/search/search-page.js';
import { makeRecord } from '../archive/archive-contract.js';

describe('withRecords', () => {
  it('keeps rank order across mailboxes, one lookup per mailbox, and leaves out hits without a record', async () => {
    const a1 = makeRecord({ mailboxId: 'a', messageKey: 'a1' });
    const b1 = makeRecord({ mailboxId: 'b', messageKey: 'b1' });
    const a2 = makeRecord({ mailboxId: 'a', messageKey: 'a2' });
    const records = new Map<string, MessageRecord>(
      [a1, b1, a2].map((record) => [`${record.mailboxId}/${record.messageKey}`, record]),
    );
    const lookups: string[] = [];
    const hit = (mailboxId: string, messageKey: string, rank: number) => ({
      mailboxId,
      messageKey,
      sortDate: '2024-01-01T00:00:00.000Z',
      rank,
      snippet: `s-${messageKey}`,
    });
    const page = await withRecords(
      {
        hits: [hit('a', 'a1', 9), hit('b', 'b1', 8), hit('a', 'gone', 7), hit('a', 'a2', 6)],
        cursor: 'next',
      },
      async (mailboxId, keys) => {
        lookups.push(`${mailboxId}:${keys.join(',')}`);
        const found = new Map<string, MessageRecord>();
        for (const key of keys) {
          const record = records.get(`${mailboxId}/${key}`);
          if (record !== undefined) found.set(key, record);
        }
        return found;
      },
    );
    expect(lookups).toEqual(['a:a1,gone,a2', 'b:b1']);
    expect(page.items.map((item) => [item.record.messageKey, item.rank, item.snippet])).toEqual([
      ['a1', 9, 's-a1'],
      ['b1', 8, 's-b1'],
      ['a2', 6, 's-a2'],
    ]);
    expect(page.cursor).toBe('next');
  });
});
