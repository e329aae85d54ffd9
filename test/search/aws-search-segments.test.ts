/**
 * The AWS search's crash safety and compaction on the emulators: records and their text written
 * through the journal into S3 and DynamoDB, flushed with failures injected into our own port
 * (S3SearchObjects) at the point under test; no AWS client is mocked.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { S3ArchiveSearch } from '../../functions/adapters/aws/s3-archive-search.js';
import type { S3SearchObjects } from '../../functions/adapters/aws/s3-search-objects.js';
import { flushSearch } from '../../functions/adapters/aws/search-flush.js';
import {
  manifestKey,
  pendingPrefix,
  segmentKey,
  segmentsPrefix,
} from '../../functions/adapters/aws/search-keys.js';
import { readManifest } from '../../functions/adapters/aws/search-manifest.js';
import { SegmentCache } from '../../functions/adapters/aws/search-segment-cache.js';
import { openWasmDatabase } from '../../functions/adapters/aws/sqlite-wasm-driver.js';
import { WASM_SEGMENTS } from '../../functions/adapters/aws/sqlite-wasm-segments.js';
import { parseSearchQuery } from '../../functions/core/search/search-query.js';
import { makeRecord } from '../archive/archive-contract.js';
import {
  documentsInSegments,
  find,
  objectsWith,
  reader,
  type SearchLab,
  searchLab,
  subjects,
} from './aws-search-kit.js';

const aws = inject('aws');
let lab: SearchLab;

beforeAll(async () => {
  lab = await searchLab(aws);
});

function flush(mailboxId: string, objects: S3SearchObjects = lab.objects, maxSegments?: number) {
  return flushSearch(mailboxId, {
    objects,
    format: WASM_SEGMENTS,
    now: Date.now,
    ...(maxSegments === undefined ? {} : { maxSegments }),
  });
}

/** Writes a record and its text through the journal, as the pull run does. */
async function archive(mailboxId: string, key: string, subject: string, body: string) {
  await lab.journal.putMessage(makeRecord({ mailboxId, messageKey: key, uidl: key, subject }), {
    body,
    truncated: false,
  });
}

async function liveSegmentKeys(mailboxId: string): Promise<string[]> {
  const manifest = await readManifest(lab.objects, mailboxId);
  return manifest.segments.map((s) => segmentKey(mailboxId, s.id));
}

describe('AWS search segments on the emulators', () => {
  it('a flush that dies between the manifest and the pending deletes indexes them again, and no hit shows twice', async () => {
    await archive('crash', 'k1', 'first', 'gannet one');
    await archive('crash', 'k2', 'second', 'gannet two');
    const dying = objectsWith(lab, {
      delete: async () => {
        throw new Error('killed before the pending documents were deleted');
      },
    });
    await expect(flush('crash', dying)).rejects.toThrow(/killed/);
    expect(await lab.objects.list(pendingPrefix('crash'))).toHaveLength(2);
    const report = await flush('crash');
    expect(report).toMatchObject({ indexed: 2, segmentsWritten: 1, liveSegments: 2 });
    const counts = await documentsInSegments(lab, await liveSegmentKeys('crash'));
    expect(counts).toEqual(
      new Map([
        ['k1', 2],
        ['k2', 2],
      ]),
    );
    const hits = await find(reader(lab), ['crash'], 'gannet', 1);
    expect(subjects(hits)).toEqual(['first', 'second']);
  });

  it('a flush that dies after uploading its segment leaves it unnamed, and the next flush deletes it', async () => {
    await archive('orphan', 'k1', 'only', 'heron');
    const dying = objectsWith(lab, {
      putJson: async () => {
        throw new Error('killed before the manifest was written');
      },
    });
    await expect(flush('orphan', dying)).rejects.toThrow(/manifest/);
    expect(await lab.objects.list(segmentsPrefix('orphan'))).toHaveLength(1);
    expect(await find(reader(lab), ['orphan'], 'heron')).toEqual([]);
    const report = await flush('orphan');
    expect(report).toMatchObject({ indexed: 1, segmentsDeleted: 1, liveSegments: 1 });
    expect((await lab.objects.list(segmentsPrefix('orphan'))).map((o) => o.key)).toEqual(
      await liveSegmentKeys('orphan'),
    );
    expect(subjects(await find(reader(lab), ['orphan'], 'heron'))).toEqual(['only']);
  });

  it('compaction keeps every message once, the newer text of one indexed twice, and deletes what it merged', async () => {
    for (let batch = 0; batch < 6; batch++) {
      for (let i = 0; i < 3; i++) {
        await archive(
          'compact',
          `b${batch}-${i}`,
          `batch ${batch} item ${i}`,
          `ibis number${batch}x${i}`,
        );
      }
      // The same message again in a later batch, with new text (a reindex).
      if (batch === 4) await archive('compact', 'b0-0', 'batch 0 item 0', 'ibis rewritten');
      await flush('compact', lab.objects, 2);
    }
    const live = await liveSegmentKeys('compact');
    expect(live).toHaveLength(2);
    expect((await lab.objects.list(segmentsPrefix('compact'))).map((o) => o.key).sort()).toEqual(
      [...live].sort(),
    );
    // Each message once in the results, whichever segments hold a copy.
    expect(await find(reader(lab), ['compact'], 'ibis')).toHaveLength(18);

    // Merged down to one segment (the next flush, with one more message), every message is in it
    // once, with its newer text.
    await archive('compact', 'last', 'last one', 'ibis');
    await flush('compact', lab.objects, 1);
    const [only] = await liveSegmentKeys('compact');
    const counts = await documentsInSegments(lab, [only as string]);
    expect(counts.size).toBe(19);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(await lab.objects.list(segmentsPrefix('compact'))).toHaveLength(1);
    const search = reader(lab);
    expect(await find(search, ['compact'], 'ibis')).toHaveLength(19);
    expect(await find(search, ['compact'], 'number0x0')).toEqual([]);
    expect(subjects(await find(search, ['compact'], 'rewritten'))).toEqual(['batch 0 item 0']);
  });

  it('a reader holding a manifest whose segment was merged away reads the manifest again', async () => {
    await archive('gone', 'k1', 'one', 'osprey');
    await flush('gone');
    const stale = await lab.objects.getJson(manifestKey('gone'));
    await archive('gone', 'k2', 'two', 'osprey');
    await flush('gone', lab.objects, 1);
    expect(await liveSegmentKeys('gone')).toHaveLength(1);
    // The first manifest read returns the one from before the merge, as a slow reader would see it.
    let reads = 0;
    const slow = objectsWith(lab, {
      getJson: async (key: string) =>
        key === manifestKey('gone') && reads++ === 0 ? stale : lab.objects.getJson(key),
    });
    const page = await searchWith(slow, 'gone', 'osprey');
    expect(page.map((h) => h.record.subject).sort()).toEqual(['one', 'two']);
    expect(reads).toBe(2);
  });

  it('pages through the merged ranking by cursor, each hit once, and refuses a cursor of another query', async () => {
    for (let i = 0; i < 7; i++)
      await archive('pages', `p${i}`, `page ${i}`, `kestrel ${'x '.repeat(i)}`);
    await flush('pages');
    await archive('pages', 'p7', 'page 7', 'kestrel');
    await flush('pages');
    const hits = await find(reader(lab), ['pages'], 'kestrel', 3);
    expect(subjects(hits)).toEqual(Array.from({ length: 8 }, (_, i) => `page ${i}`));
    const search = reader(lab);
    const first = await search.search({
      mailboxIds: ['pages'],
      query: parseSearchQuery('kestrel'),
      limit: 3,
      cursor: null,
    });
    expect(first.cursor).not.toBeNull();
    await expect(
      search.search({
        mailboxIds: ['pages', 'other'],
        query: parseSearchQuery('kestrel'),
        limit: 3,
        cursor: first.cursor,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_CURSOR' });
  });
});

/** A search that reads S3 through `objects` (a reader that sees the bucket as it was). */
async function searchWith(objects: S3SearchObjects, mailboxId: string, q: string) {
  const segments = new SegmentCache({
    directory: mkdtempSync(join(tmpdir(), 'popvault-gone-')),
    fetch: (key) => objects.get(key),
    open: openWasmDatabase,
  });
  const search = new S3ArchiveSearch({ objects, records: lab.index, segments });
  const page = await search.search({
    mailboxIds: [mailboxId],
    query: parseSearchQuery(q),
    limit: 10,
    cursor: null,
  });
  return page.items;
}
