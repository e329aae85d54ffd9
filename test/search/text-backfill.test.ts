import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { SqliteMessageIndex } from '../../functions/adapters/local/sqlite-message-index.js';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { parseSearchQuery } from '../../functions/core/search/search-query.js';
import { backfillTexts } from '../../functions/core/search/text-backfill.js';
import { mimeMessage, seed } from '../query-api/query-api-kit.js';
import { MemoryRawStore } from '../support/memory-archive.js';
import { withFaults } from '../support/pull-test-kit.js';

async function archiveWithoutText(count: number) {
  const index = new SqliteMessageIndex({ database: new Database(':memory:') });
  const store = new MemoryRawStore();
  const withoutText = withFaults(index, {
    putMessage: (record: MessageRecord) => index.putMessage(record),
  });
  const records: MessageRecord[] = [];
  for (let i = 0; i < count; i++) {
    records.push(
      await seed(
        { index: withoutText, store },
        {
          mailboxId: 'mb',
          messageKey: `k${String(i).padStart(4, '0')}`,
          raw: mimeMessage({ subject: `Note ${i}` }),
        },
      ),
    );
  }
  return { index, store, records };
}

async function hits(index: SqliteMessageIndex, q: string): Promise<number> {
  const page = await index.search({
    mailboxIds: ['mb'],
    query: parseSearchQuery(q),
    limit: 100,
    cursor: null,
  });
  return page.items.length;
}

describe('backfillTexts', () => {
  it('a run killed midway continues where it stopped; every record is indexed once', async () => {
    const { index, store } = await archiveWithoutText(230);
    // The process dies after its 150th record: nothing after it runs.
    const killed = backfillTexts({
      rawStore: store,
      index,
      onProgress: (progress) => {
        if (progress.indexed === 150) throw new Error('killed');
      },
    });
    await expect(killed).rejects.toThrow('killed');
    expect((await index.textlessRecords(null, 1000)).length).toBe(80);
    await expect(backfillTexts({ rawStore: store, index })).resolves.toEqual({
      indexed: 80,
      failed: 0,
    });
    await expect(backfillTexts({ rawStore: store, index })).resolves.toEqual({
      indexed: 0,
      failed: 0,
    });
    expect(await hits(index, 'body')).toBe(100);
    expect(await hits(index, '"note 229"')).toBe(1);
  });

  it('a record whose raw message is gone is reported and skipped, the rest indexed', async () => {
    const { index, store, records } = await archiveWithoutText(3);
    store.objects.delete(records[1]?.rawKey ?? '');
    const failures: string[] = [];
    await expect(
      backfillTexts({
        rawStore: store,
        index,
        onFailure: (record) => failures.push(record.messageKey),
      }),
    ).resolves.toEqual({ indexed: 2, failed: 1 });
    expect(failures).toEqual(['k0001']);
  });
});
