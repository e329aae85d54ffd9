import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileMatch,
  createSearchTables,
  deleteDocument,
  indexDocument,
  searchIndex,
} from '../../functions/core/search/fts5-index.js';
import { searchIndexPage } from '../../functions/core/search/search-page.js';
import type { SearchDocument, SqlDriver } from '../../functions/core/search/search-ports.js';
import { parseSearchQuery } from '../../functions/core/search/search-query.js';
import { SearchQueryError } from '../../functions/core/search/search-query-error.js';
import { searchDoc } from '../support/search-documents.js';
import { SQL_DRIVERS } from './sql-drivers.js';

function doc(messageKey: string, fields: Partial<SearchDocument> = {}): SearchDocument {
  return searchDoc(messageKey, {
    mailboxId: 'mb-a',
    sortDate: '2024-05-01T10:00:00.000Z',
    ...fields,
  });
}

function keys(db: SqlDriver, q: string, mailboxIds: readonly string[] = ['mb-a']): string[] {
  return searchIndex(db, { mailboxIds, query: parseSearchQuery(q), limit: 50, offset: 0 }).map(
    (hit) => hit.messageKey,
  );
}

async function seeded(open: () => Promise<SqlDriver>): Promise<SqlDriver> {
  const db = await open();
  createSearchTables(db);
  indexDocument(db, doc('plain', { subject: 'Quarterly report', body: 'The numbers for March.' }));
  indexDocument(db, doc('accents', { body: 'Voici mon résumé pour le café à Zürich.' }));
  indexDocument(
    db,
    doc('cjk-ja', {
      subject: '会議',
      body: '私は東京都に住んでいます。明日の会議は午後三時から始まります。',
    }),
  );
  indexDocument(db, doc('cjk-zh', { body: '请把发票和合同发给我们的财务部门' }));
  indexDocument(
    db,
    doc('attach', {
      from: 'Alice Martin alice@example.com',
      to: 'Bob bob@example.org',
      attachmentNames: 'invoice_2024-03.pdf',
      body: 'please find the invoice attached',
      hasAttachments: true,
      sortDate: '2024-03-15T08:00:00.000Z',
    }),
  );
  indexDocument(db, doc('other-box', { mailboxId: 'mb-b', body: 'the numbers for March' }));
  return db;
}

describe.each(SQL_DRIVERS)('the FTS5 index on $name', ({ open }) => {
  it('finds words of the body and subject, ignoring case', async () => {
    const db = await seeded(open);
    expect(keys(db, 'NUMBERS march')).toEqual(['plain']);
    expect(keys(db, 'quarterly')).toEqual(['plain']);
    expect(keys(db, '"numbers for march"')).toEqual(['plain']);
    expect(keys(db, '"march numbers"')).toEqual([]);
  });

  it('finds accented words typed without accents, and the other way round', async () => {
    const db = await seeded(open);
    expect(keys(db, 'resume cafe zurich')).toEqual(['accents']);
    expect(keys(db, 'Résumé')).toEqual(['accents']);
  });

  it('finds a Chinese or Japanese word inside a sentence', async () => {
    const db = await seeded(open);
    expect(keys(db, '東京')).toEqual(['cjk-ja']);
    expect(keys(db, '住んで')).toEqual(['cjk-ja']);
    expect(keys(db, '财务')).toEqual(['cjk-zh']);
    expect(keys(db, '"发票和合同"')).toEqual(['cjk-zh']);
    expect(keys(db, 'subject:会議')).toEqual(['cjk-ja']);
    expect(keys(db, '大阪')).toEqual([]);
  });

  it('searches one field with a prefix, and finds attachment names and addresses', async () => {
    const db = await seeded(open);
    expect(keys(db, 'attachment:invoice')).toEqual(['attach']);
    expect(keys(db, 'attachment:invoice_2024-03.pdf')).toEqual(['attach']);
    expect(keys(db, 'from:alice@example.com')).toEqual(['attach']);
    expect(keys(db, 'from:bob')).toEqual([]);
    expect(keys(db, 'to:bob')).toEqual(['attach']);
    expect(keys(db, 'subject:numbers')).toEqual([]);
    expect(keys(db, 'quart*')).toEqual(['plain']);
  });

  it('applies negations and filters', async () => {
    const db = await seeded(open);
    expect(keys(db, 'march -quarterly')).toEqual([]);
    expect(keys(db, 'invoice has:attachment')).toEqual(['attach']);
    expect(keys(db, 'invoice -has:attachment')).toEqual([]);
    expect(keys(db, 'invoice before:2024-03-15')).toEqual([]);
    expect(keys(db, 'invoice before:2024-03-16 after:2024-03-15')).toEqual(['attach']);
  });

  it('searches only the mailboxes asked for', async () => {
    const db = await seeded(open);
    expect(keys(db, 'march', ['mb-b'])).toEqual(['other-box']);
    expect(keys(db, 'march', ['mb-a', 'mb-b']).sort()).toEqual(['other-box', 'plain']);
    expect(keys(db, 'march', [])).toEqual([]);
  });

  it('marks matches in the snippet, with CJK text as written', async () => {
    const db = await seeded(open);
    const [hit] = searchIndex(db, {
      mailboxIds: ['mb-a'],
      query: parseSearchQuery('東京'),
      limit: 5,
      offset: 0,
    });
    expect(hit?.snippet).toContain('私は\u0002東京\u0003都に住んでいます');
    const [plain] = searchIndex(db, {
      mailboxIds: ['mb-a'],
      query: parseSearchQuery('march'),
      limit: 5,
      offset: 0,
    });
    expect(plain?.snippet).toBe('The numbers for \u0002March\u0003.');
  });

  it('ranks a subject match above a body match, ties newest first', async () => {
    const db = await open();
    createSearchTables(db);
    indexDocument(db, doc('body-old', { body: 'budget', sortDate: '2024-01-01T00:00:00.000Z' }));
    indexDocument(db, doc('subject', { subject: 'budget', sortDate: '2023-01-01T00:00:00.000Z' }));
    indexDocument(db, doc('body-new', { body: 'budget', sortDate: '2024-02-01T00:00:00.000Z' }));
    expect(keys(db, 'budget')).toEqual(['subject', 'body-new', 'body-old']);
  });

  it('indexes a key once: indexing it again replaces its text; delete removes it', async () => {
    const db = await open();
    createSearchTables(db);
    indexDocument(db, doc('k', { body: 'first version' }));
    indexDocument(db, doc('k', { body: 'second version' }));
    expect(keys(db, 'version')).toEqual(['k']);
    expect(keys(db, 'first')).toEqual([]);
    expect(db.all('SELECT COUNT(*) AS n FROM search_text', [])).toEqual([{ n: 1 }]);
    deleteDocument(db, 'mb-a', 'k');
    deleteDocument(db, 'mb-a', 'unknown');
    expect(keys(db, 'version')).toEqual([]);
    expect(db.all('SELECT COUNT(*) AS n FROM search_docs', [])).toEqual([{ n: 0 }]);
  });

  it('pages with a cursor bound to its query', async () => {
    const db = await open();
    createSearchTables(db);
    for (let i = 0; i < 5; i++) {
      indexDocument(
        db,
        doc(`m${i}`, { body: 'same', sortDate: `2024-01-0${i + 1}T00:00:00.000Z` }),
      );
    }
    const request = { mailboxIds: ['mb-a'], query: parseSearchQuery('same'), limit: 2 };
    const first = searchIndexPage(db, { ...request, cursor: null });
    const second = searchIndexPage(db, { ...request, cursor: first.cursor });
    const third = searchIndexPage(db, { ...request, cursor: second.cursor });
    expect(
      [first, second, third].flatMap((page) => page.hits.map((hit) => hit.messageKey)),
    ).toEqual(['m4', 'm3', 'm2', 'm1', 'm0']);
    expect(third.cursor).toBeNull();
    const other = { ...request, query: parseSearchQuery('other'), cursor: first.cursor };
    expect(() => searchIndexPage(db, other)).toThrow(/invalid cursor/);
    expect(() =>
      searchIndexPage(db, { ...request, mailboxIds: ['mb-b'], cursor: first.cursor }),
    ).toThrow(/invalid cursor/);
    expect(() => searchIndexPage(db, { ...request, limit: 0, cursor: null })).toThrow(/limit/);
  });

  it('no query text can inject FTS5 syntax: every parsed query runs', async () => {
    const db = await seeded(open);
    const pieces = fc.constantFrom(
      '"',
      '-',
      ':',
      '*',
      '(',
      ')',
      'NOT',
      'OR',
      'NEAR',
      '^',
      '+',
      '{',
      '}',
      ' ',
      'body:',
      'x',
      '東',
      'é',
      "'",
      ';',
    );
    await fc.assert(
      fc.property(fc.array(pieces, { minLength: 1, maxLength: 20 }), (parts) => {
        let query: ReturnType<typeof parseSearchQuery>;
        try {
          query = parseSearchQuery(parts.join(''));
        } catch (error) {
          if (error instanceof SearchQueryError) return;
          throw error;
        }
        expect(compileMatch(query)).toMatch(/^\(/);
        searchIndex(db, { mailboxIds: ['mb-a'], query, limit: 5, offset: 0 });
      }),
      { seed: 1516, numRuns: 500 },
    );
  });
});
