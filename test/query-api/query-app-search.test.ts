/** GET /search: ranked hits with marked excerpts, named query errors, and only readable mailboxes. */
import { beforeAll, describe, expect, it } from 'vitest';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { onlyMailboxes } from '../../functions/query-api/mailbox-access.js';
import { excerptParts } from '../../functions/query-api/presenters.js';
import { MemoryRawStore } from '../support/memory-archive.js';
import { SearchableMemoryIndex } from '../support/memory-search.js';
import { errorOf, fixture, mimeMessage, RecordingLogger, seed } from './query-api-kit.js';

const index = new SearchableMemoryIndex();
const store = new MemoryRawStore();
const logger = new RecordingLogger();
const app = createQueryApp({ index, store, search: index, logger });
const callerOfA = createQueryApp({
  index,
  store,
  search: index,
  logger,
  access: () => onlyMailboxes(['a']),
});

interface Hit {
  id: string;
  mailboxId: string;
  subject: string | null;
  score: number;
  excerpt: Array<{ text: string; match: boolean }>;
}
interface Page {
  items: Hit[];
  nextCursor: string | null;
}

async function search(target: typeof app, query: string): Promise<Page> {
  const res = await target.request(`/search?${query}`);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as Page;
}

beforeAll(async () => {
  await seed(
    { index, store },
    { mailboxId: 'a', messageKey: 'inv', raw: fixture('multipart-alternative-attachments.eml') },
  );
  await seed(
    { index, store },
    { mailboxId: 'a', messageKey: 'enc', raw: fixture('encoded-words.eml') },
  );
  for (let i = 0; i < 3; i++) {
    await seed(
      { index, store },
      {
        mailboxId: 'a',
        messageKey: `report-${i}`,
        raw: mimeMessage({
          subject: `Quarterly report ${i}`,
          date: `Mon, 0${i + 1} Jul 2024 08:00:00 +0000`,
        }),
      },
    );
  }
  await seed(
    { index, store },
    {
      mailboxId: 'b',
      messageKey: 'secret',
      raw: mimeMessage({ subject: 'Quarterly secret plans' }),
    },
  );
});

describe('GET /search', () => {
  it('answers ranked hits with list fields, a score and a marked excerpt', async () => {
    const page = await search(app, 'q=invoice');
    expect(page.items.map((hit) => hit.subject)).toEqual(['Your invoice 2024-0042']);
    const [hit] = page.items;
    expect(hit?.mailboxId).toBe('a');
    expect(hit?.score).toBeGreaterThan(0);
    expect(
      hit?.excerpt.filter((part) => part.match).map((part) => part.text.toLowerCase()),
    ).toContain('invoice');
    const detail = await app.request(`/messages/${hit?.id}`);
    expect(detail.status).toBe(200);
  });

  it('finds encoded subjects, attachment names and accented words typed without accents', async () => {
    expect((await search(app, 'q=subject:munchen')).items.map((hit) => hit.subject)).toHaveLength(
      1,
    );
    expect((await search(app, 'q=attachment:invoice.pdf')).items).toHaveLength(1);
    expect(
      (await search(app, `q=${encodeURIComponent('from:"francois muller"')}`)).items,
    ).toHaveLength(1);
  });

  it('pages with nextCursor until it is null', async () => {
    const first = await search(app, 'q=quarterly&mailbox=a&limit=2');
    expect(first.items).toHaveLength(2);
    expect(first.nextCursor).not.toBeNull();
    const second = await search(app, `q=quarterly&mailbox=a&limit=2&cursor=${first.nextCursor}`);
    expect(second.items).toHaveLength(1);
    expect(second.nextCursor).toBeNull();
    const subjects = [...first.items, ...second.items].map((hit) => hit.subject);
    expect(subjects).toEqual(['Quarterly report 2', 'Quarterly report 1', 'Quarterly report 0']);
  });

  it('answers a bad query with 400 INVALID_QUERY naming the problem', async () => {
    const cases: Array<[string, RegExp]> = [
      ['"march report', /unbalanced quote/],
      ['label:work', /label: is not a search field: the known ones are from: to: subject:/],
      ['x'.repeat(1001), /at most 1000/],
      ['-draft', /nothing to look for/],
      ['x before:2024-02-30', /before:YYYY-MM-DD/],
      ['', /empty/],
    ];
    for (const [q, message] of cases) {
      const res = await app.request(`/search?q=${encodeURIComponent(q)}`);
      expect(res.status, q).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('INVALID_QUERY');
      expect(error.message).toMatch(message);
    }
    const missing = await app.request('/search');
    expect(missing.status).toBe(400);
    expect((await errorOf(missing)).code).toBe('MISSING_PARAMETER');
  });

  it('a cursor of another query is refused', async () => {
    const first = await search(app, 'q=quarterly&mailbox=a&limit=1');
    const res = await app.request(`/search?q=report&mailbox=a&limit=1&cursor=${first.nextCursor}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('INVALID_CURSOR');
  });

  it('without a search index, answers 501 SEARCH_UNAVAILABLE', async () => {
    const res = await createQueryApp({ index, store, logger }).request('/search?q=invoice');
    expect(res.status).toBe(501);
    expect((await errorOf(res)).code).toBe('SEARCH_UNAVAILABLE');
  });
});

describe('GET /search: a caller of mailbox a', () => {
  it('finds its own mail and none of b, whatever the query', async () => {
    expect((await search(app, 'q=quarterly')).items.map((hit) => hit.mailboxId)).toContain('b');
    const page = await search(callerOfA, 'q=quarterly');
    expect(page.items.map((hit) => hit.mailboxId)).toEqual(['a', 'a', 'a']);
    expect((await search(callerOfA, 'q=secret')).items).toEqual([]);
    expect(index.requests.at(-1)?.mailboxIds).toEqual(['a']);
  });

  it('is refused mailbox=b exactly as for a mailbox that does not exist', async () => {
    const b = await callerOfA.request('/search?q=secret&mailbox=b');
    const none = await callerOfA.request('/search?q=secret&mailbox=none');
    expect(b.status).toBe(404);
    expect(none.status).toBe(404);
    expect((await errorOf(b)).code).toBe('MAILBOX_NOT_FOUND');
    expect((await errorOf(none)).code).toBe('MAILBOX_NOT_FOUND');
  });
});

describe('excerptParts', () => {
  it('turns the snippet marks into parts', () => {
    expect(excerptParts('a \u0002b\u0003 c\u0002d\u0003')).toEqual([
      { text: 'a ', match: false },
      { text: 'b', match: true },
      { text: ' c', match: false },
      { text: 'd', match: true },
    ]);
  });
});
