/**
 * The local archive's search, end to end: mail pulled through the real POP3 client and parser into
 * the real local archive (files + SQLite), then found by what people remember of it.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRawStore } from '../../functions/adapters/local/local-raw-store.js';
import { SqliteMessageIndex } from '../../functions/adapters/local/sqlite-message-index.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { parseSearchQuery } from '../../functions/core/search/search-query.js';
import { makeRecord } from '../archive/archive-contract.js';
import { message, scripted } from '../support/pop3-test-kit.js';
import { pullDeps, scriptedPull, TestClock } from '../support/pull-test-kit.js';

const root = mkdtempSync(join(tmpdir(), 'popvault-local-search-'));

function fixture(name: string): string {
  return readFileSync(new URL(`../fixtures/mail/${name}`, import.meta.url), 'latin1');
}

const HTML_ONLY = [
  'From: News <news@example.org>',
  'To: reader@example.net',
  'Subject: Weekly digest',
  'Date: Mon, 03 Jun 2024 08:00:00 +0000',
  'MIME-Version: 1.0',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<html><head><style>.hidden{display:none}</style></head><body><h1>Gardening</h1>',
  '<p>This week: <b>tomatoes</b> and the Zürich flower show.</p>',
  // Written with entities, as many HTML mailers do for anything beyond ASCII.
  '<p>Then a cr&egrave;me br&ucirc;l&eacute;e &amp; caf&eacute; at the Stra&szlig;enfest.</p></body></html>',
  '',
].join('\r\n');

const CJK = [
  'From: =?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@example.jp>',
  'To: team@example.jp',
  'Subject: =?UTF-8?B?5Lya6K2w44Gu5LqI5a6a?=',
  'Date: Tue, 04 Jun 2024 09:00:00 +0900',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  '明日の会議は午後三時から始まります。請求書を確認してください。',
  '',
].join('\r\n');

const CHINESE = [
  'From: finance@example.cn',
  'To: team@example.cn',
  'Subject: =?UTF-8?Q?=E5=8F=91=E7=A5=A8?=',
  'Date: Wed, 05 Jun 2024 10:00:00 +0800',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: 8bit',
  '',
  '请把发票和合同发给我们的财务部门',
  '',
].join('\r\n');

let index: SqliteMessageIndex;

async function keysFor(q: string, mailboxIds = ['mbx-1']): Promise<string[]> {
  const page = await index.search({
    mailboxIds,
    query: parseSearchQuery(q),
    limit: 20,
    cursor: null,
  });
  return page.items.map((hit) => hit.record.messageKey).sort();
}

beforeAll(async () => {
  const server = await scripted({
    messages: [
      message('alt', fixture('multipart-alternative-attachments.eml')),
      message('encoded', fixture('encoded-words.eml')),
      message('html', HTML_ONLY),
      message('cjk', CJK),
      message('zh', CHINESE),
      message('plain', fixture('plain-text.eml')),
    ],
  });
  index = new SqliteMessageIndex({ path: join(root, 'index.sqlite') });
  const clock = new TestClock();
  const run = await runPull(
    scriptedPull(server, clock.ms),
    pullDeps(
      {
        rawStore: new LocalRawStore({ directory: join(root, 'raw') }),
        index,
        createParser: createMessageParser,
      },
      clock,
    ),
  );
  expect(run.counts.stored).toBe(6);
});

afterAll(() => index.close());

describe('local search over mail pulled through the real client and parser', () => {
  it('finds words of a plain text body and of a quoted-printable alternative', async () => {
    expect(await keysFor('lunch thursday')).toEqual(['plain']);
    expect(await keysFor('"your invoice is attached"')).toEqual(['alt']);
  });

  it('finds words of an HTML-only body, and not its markup or style', async () => {
    expect(await keysFor('tomatoes gardening')).toEqual(['html']);
    expect(await keysFor('hidden')).toEqual([]);
  });

  it('finds words an HTML body spells with named entities (&eacute;, &szlig;)', async () => {
    expect(await keysFor('"crème brûlée"')).toEqual(['html']);
    expect(await keysFor('strassenfest')).toEqual(['html']);
    expect(await keysFor('eacute')).toEqual([]);
  });

  it('finds RFC 2047 encoded subjects and senders', async () => {
    expect(await keysFor('subject:münchen')).toEqual(['encoded']);
    expect(await keysFor('from:françois')).toEqual(['encoded']);
    expect(await keysFor('subject:会議')).toEqual(['cjk']);
  });

  it('finds attachment names', async () => {
    expect(await keysFor('attachment:invoice.pdf')).toEqual(['alt']);
    expect(await keysFor('attachment:invoice has:attachment')).toEqual(['alt']);
  });

  it('finds accented words typed without their accents', async () => {
    expect(await keysFor('grusse munchen')).toEqual(['encoded']);
    expect(await keysFor('zurich')).toEqual(['html']);
    expect(await keysFor('from:francois')).toEqual(['encoded']);
  });

  it('finds Chinese and Japanese words inside sentences', async () => {
    expect(await keysFor('会議')).toEqual(['cjk']);
    expect(await keysFor('請求書')).toEqual(['cjk']);
    expect(await keysFor('财务')).toEqual(['zh']);
    expect(await keysFor('"发票和合同"')).toEqual(['zh']);
  });

  it('answers ranked hits with their records and marked snippets', async () => {
    const page = await index.search({
      mailboxIds: ['mbx-1'],
      query: parseSearchQuery('tomatoes'),
      limit: 5,
      cursor: null,
    });
    expect(page.items).toHaveLength(1);
    expect(page.items[0]?.record.subject).toBe('Weekly digest');
    expect(page.items[0]?.snippet).toContain('\u0002tomatoes\u0003');
    expect(page.cursor).toBeNull();
  });

  it('searches only the mailboxes it is given', async () => {
    expect(await keysFor('tomatoes', ['another'])).toEqual([]);
    expect(await keysFor('tomatoes', [])).toEqual([]);
  });
});

describe('local search: records without text', () => {
  it('a record put without text is not indexed until its text is backfilled, once', async () => {
    const local = new SqliteMessageIndex({ database: new Database(':memory:') });
    const old = makeRecord({ mailboxId: 'mb', messageKey: 'old', subject: 'Budget review' });
    const fresh = makeRecord({ mailboxId: 'mb', messageKey: 'new', subject: 'Budget plan' });
    await local.putMessage(old);
    await local.putMessage(fresh, { body: 'numbers', truncated: false });
    const search = async (q: string) =>
      (
        await local.search({
          mailboxIds: ['mb'],
          query: parseSearchQuery(q),
          limit: 5,
          cursor: null,
        })
      ).items.map((hit) => hit.record.messageKey);
    expect(await search('budget')).toEqual(['new']);
    expect((await local.textlessRecords(null, 10)).map((r) => r.messageKey)).toEqual(['old']);
    await local.backfillText(old, { body: 'spreadsheet attached', truncated: true });
    expect(await search('spreadsheet')).toEqual(['old']);
    expect(await local.textlessRecords(null, 10)).toEqual([]);
    expect((await local.getMessage('mb', 'old'))?.textTruncated).toBe(true);
  });

  it('a record already there keeps its text when put again', async () => {
    const local = new SqliteMessageIndex({ database: new Database(':memory:') });
    const record = makeRecord({ mailboxId: 'mb', messageKey: 'k' });
    await local.putMessage(record, { body: 'original words', truncated: false });
    const again = await local.putMessage(record, { body: 'other words', truncated: false });
    expect(again.created).toBe(false);
    const found = await local.search({
      mailboxIds: ['mb'],
      query: parseSearchQuery('original'),
      limit: 5,
      cursor: null,
    });
    expect(found.items).toHaveLength(1);
  });

  it('an index from before search migrates: its records read back as not cut, and have no text yet', async () => {
    const path = join(root, 'before-search.sqlite');
    const before = new SqliteMessageIndex({ path });
    const record = makeRecord({ mailboxId: 'old', textTruncated: false });
    await before.putMessage(record);
    before.close();
    const db = new Database(path);
    db.exec('DROP TABLE mailbox_days; DROP TABLE search_text; DROP TABLE search_docs');
    db.exec('ALTER TABLE messages DROP COLUMN text_truncated');
    db.pragma('user_version = 3');
    db.close();
    const after = new SqliteMessageIndex({ path });
    expect(await after.getMessage('old', record.messageKey)).toStrictEqual(record);
    expect((await after.textlessRecords(null, 5)).map((r) => r.messageKey)).toEqual([
      record.messageKey,
    ]);
    after.close();
  });
});
