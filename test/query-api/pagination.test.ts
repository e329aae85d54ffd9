/**
 * Listings over a real adapter with real cursors: the local archive's SQLite index and Maildir store,
 * the stack `popvault serve` runs. The memory double returns one page and ignores cursors and
 * filters, so it could not show a duplicate, a gap or a cursor accepted where it should not be.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRawStore } from '../../functions/adapters/local/local-raw-store.js';
import { SqliteMessageIndex } from '../../functions/adapters/local/sqlite-message-index.js';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { base64Lines, errorOf, fixture, mimeMessage, seed, sha256 } from './query-api-kit.js';

interface Page {
  items: Array<{ id: string; subject: string | null; date: string | null }>;
  nextCursor: string | null;
}

/** A filter that matches rarely needs more rows than this per call, so pages come back short. */
const SCANNED_ROWS_PER_CALL = 3;

const directory = mkdtempSync(join(tmpdir(), 'popvault-query-api-'));
const database = new Database(':memory:');
const index = new SqliteMessageIndex({ database, scannedRowsPerCall: SCANNED_ROWS_PER_CALL });
const store = new LocalRawStore({ directory });
const app = createQueryApp({ index, store });
const work: MessageRecord[] = [];
const other: MessageRecord[] = [];

/** Newest first as the index orders: by date (archive time when it did not parse), then by key. */
function newestFirst(records: MessageRecord[]): MessageRecord[] {
  const key = (r: MessageRecord) => `${r.date ?? r.archivedAt}#${r.messageKey}`;
  return [...records].sort((a, b) => (key(a) < key(b) ? 1 : key(a) > key(b) ? -1 : 0));
}

async function walk(path: string, query: Record<string, string>): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams(query);
    if (cursor !== null) params.set('cursor', cursor);
    const res = await app.request(`${path}?${params}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const page = (await res.json()) as Page;
    pages.push(page);
    cursor = page.nextCursor;
    // A listing that never ends would be a bug too; 100 pages is far more than any walk here needs.
  } while (cursor !== null && pages.length < 100);
  expect(cursor).toBeNull();
  return pages;
}

const ids = (pages: Page[]) => pages.flatMap((p) => p.items.map((m) => m.id));
const idsOf = (records: MessageRecord[]) => newestFirst(records).map((r) => encodeMessageRef(r));

beforeAll(async () => {
  const archive = { index, store };
  for (let n = 1; n <= 20; n++) {
    const day = String(n).padStart(2, '0');
    const raw = mimeMessage({
      subject: `${n % 3 === 0 ? 'Monthly REPORT' : 'Note'} ${n}`,
      date: new Date(`2024-05-${day}T12:00:00Z`).toUTCString(),
      from: n % 2 === 0 ? 'Alice <Alice@Example.com>' : 'bob@example.com',
      ...(n % 4 === 0
        ? {
            parts: [
              {
                headers:
                  'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="data.bin"\r\nContent-Transfer-Encoding: base64',
                body: base64Lines(Buffer.from(`attachment of message ${n}`)),
              },
            ],
          }
        : {}),
    });
    work.push(await seed(archive, { mailboxId: 'work', messageKey: `uidl-${day}`, raw }));
  }
  // Three messages of the same second: only the key orders them, and no page boundary may lose one.
  for (const key of ['tie-a', 'tie-b', 'tie-c']) {
    const raw = mimeMessage({ subject: `Tie ${key}`, date: 'Fri, 10 May 2024 12:00:00 +0000' });
    work.push(await seed(archive, { mailboxId: 'work', messageKey: key, raw }));
  }
  // Dates that do not parse: ordered by archive time.
  for (const [key, archivedAt] of [
    ['undated-new', '2024-05-25T00:00:00.000Z'],
    ['undated-old', '2024-04-01T00:00:00.000Z'],
  ] as const) {
    const raw = mimeMessage({ subject: `Undated ${key}`, date: 'someday' });
    work.push(await seed(archive, { mailboxId: 'work', messageKey: key, raw, archivedAt }));
  }
  for (const n of [1, 2, 3]) {
    const raw = mimeMessage({ subject: `Other ${n}`, date: `Mon, 0${n} Apr 2024 10:00:00 +0000` });
    other.push(await seed(archive, { mailboxId: 'other', messageKey: `o-${n}`, raw }));
  }
  expect(work.filter((r) => r.date === null)).toHaveLength(2);
});

afterAll(() => {
  index.close();
  database.close();
  rmSync(directory, { recursive: true, force: true });
});

describe('pagination over the SQLite index', () => {
  it.each([1, 4, 7, 25, 200])(
    'pages of %i hold every message once, newest first, full until the last',
    async (limit) => {
      const pages = await walk('/mailboxes/work/messages', { limit: String(limit) });
      expect(ids(pages)).toEqual(idsOf(work));
      expect(pages).toHaveLength(Math.max(1, Math.ceil(work.length / limit)));
      for (const page of pages.slice(0, -1)) expect(page.items).toHaveLength(limit);
    },
  );

  it('follows short filtered pages to exactly the matching messages', async () => {
    const pages = await walk('/mailboxes/work/messages', {
      subject: 'report',
      hasAttachments: 'true',
      limit: '2',
    });
    const expected = work.filter(
      (r) => /report/i.test(r.subject ?? '') && r.attachments.length > 0,
    );
    expect(expected.length).toBeGreaterThan(0);
    expect(ids(pages)).toEqual(idsOf(expected));
    // The index read at most SCANNED_ROWS_PER_CALL rows per call: some pages came back short (even
    // empty) and still had a cursor, and following it lost nothing.
    expect(pages.some((p) => p.items.length < 2 && p.nextCursor !== null)).toBe(true);
  });

  it('lists by sender with inclusive date-only bounds', async () => {
    const pages = await walk('/mailboxes/work/messages', {
      from: 'ALICE@example.com',
      since: '2024-05-04',
      until: '2024-05-12',
      limit: '2',
    });
    const expected = work.filter(
      (r) =>
        r.from[0]?.address === 'alice@example.com' &&
        r.date !== null &&
        r.date >= '2024-05-04' &&
        r.date <= '2024-05-12T23:59:59.999Z',
    );
    // 4, 6, 8, 10 and 12 May, the bounds included.
    expect(expected.map((r) => r.messageKey).sort()).toEqual(
      ['uidl-04', 'uidl-06', 'uidl-08', 'uidl-10', 'uidl-12'].sort(),
    );
    expect(ids(pages)).toEqual(idsOf(expected));
  });

  it('keeps mailboxes apart', async () => {
    expect(ids(await walk('/mailboxes/other/messages', { limit: '2' }))).toEqual(idsOf(other));
  });

  describe('refuses a cursor that is not this listing’s with 400 INVALID_CURSOR', () => {
    let cursor: string;
    beforeAll(async () => {
      const res = await app.request('/mailboxes/work/messages?limit=2');
      cursor = ((await res.json()) as Page).nextCursor as string;
      expect(cursor).toEqual(expect.any(String));
    });

    const flip = (text: string, at: number) =>
      text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);

    it.each([
      ['from another mailbox', () => '/mailboxes/other/messages?limit=2&cursor=CURSOR'],
      [
        'from the date listing, used by sender',
        () => '/mailboxes/work/messages?from=bob@example.com&cursor=CURSOR',
      ],
      [
        'outside the dates asked for',
        () => '/mailboxes/work/messages?until=2024-05-01T00:00:00Z&cursor=CURSOR',
      ],
      ['tampered in the middle', () => `/mailboxes/work/messages?cursor=${flip(cursor, 10)}`],
      ['cut short', () => `/mailboxes/work/messages?cursor=${cursor.slice(0, -5)}`],
      ['not base64url', () => '/mailboxes/work/messages?cursor=%24%24%24'],
      [
        'well-formed JSON of another shape',
        () =>
          `/mailboxes/work/messages?cursor=${Buffer.from('{"v":1,"listing":"date"}').toString('base64url')}`,
      ],
    ])('%s', async (_why, path) => {
      const res = await app.request(path().replace('CURSOR', cursor));
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('INVALID_CURSOR');
      expect(error.message).toMatch(/cursor/);
    });
  });
});

describe('downloads from the Maildir store', () => {
  it('streams raw files and decodes attachments from them', async () => {
    const record = work.find((r) => r.attachments.length > 0) as MessageRecord;
    const raw = await app.request(`/messages/${encodeMessageRef(record)}/raw`);
    expect(sha256(Buffer.from(await raw.arrayBuffer()))).toBe(record.sha256);
    const attachment = await app.request(`/messages/${encodeMessageRef(record)}/attachments/0`);
    expect(sha256(Buffer.from(await attachment.arrayBuffer()))).toBe(record.attachments[0]?.sha256);
  });

  it('decodes a fixture read from a file, not from memory', async () => {
    const record = await seed(
      { index, store },
      { mailboxId: 'files', messageKey: 'nested', raw: fixture('nested-rfc822.eml') },
    );
    for (const [n, expected] of record.attachments.entries()) {
      const res = await app.request(`/messages/${encodeMessageRef(record)}/attachments/${n}`);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(expected.sha256);
    }
  });
});
