/** The listings: the mailboxes, a mailbox's messages and runs, and Message-ID lookups. */
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidCursorError } from '../../functions/core/archive/errors.js';
import type { MessagePage } from '../../functions/core/archive/ports.js';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { errorOf, fixture, seed } from './query-api-kit.js';
import { app, archive, idOf, records, seedQueryAppArchive } from './query-app-fixture.js';

beforeAll(seedQueryAppArchive);

describe('GET /mailboxes', () => {
  it('lists every mailbox with counts, bytes, last success and last error', async () => {
    const res = await app.request('/mailboxes');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { items: Array<Record<string, unknown>> };
    expect(body.items.map((m) => m.mailboxId)).toEqual(['home', 'work']);
    const work = body.items[1];
    expect(work).toMatchObject({
      mailboxId: 'work',
      messages: 7,
      lastSuccessAt: '2024-06-01T10:00:05.000Z',
      lastRun: { runId: 'run-2', outcome: 'failed', errorCode: 'AUTH_FAILED' },
      lastError: {
        code: 'AUTH_FAILED',
        message: 'the server refused the password',
        runId: 'run-2',
        at: '2024-06-01T11:00:02.000Z',
      },
    });
    const workOctets = Object.values(records)
      .filter((r) => r.mailboxId === 'work')
      .reduce((sum, r) => sum + r.octets, 0);
    expect(work?.octets).toBe(workOctets);
    expect(body.items[0]).toMatchObject({ messages: 1, lastRun: null, lastError: null });
  });
});

describe('GET /mailboxes/{id}/messages', () => {
  it('lists newest first, with ids that open each message', async () => {
    const res = await app.request('/mailboxes/work/messages');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as {
      items: Array<{ id: string; subject: string; date: string | null }>;
      nextCursor: string | null;
    };
    expect(body.items).toHaveLength(7);
    expect(body.nextCursor).toBeNull();
    const dates = body.items.map((m) => m.date ?? '');
    expect(dates).toEqual([...dates].sort().reverse());
    expect(body.items[0]?.subject).toBe('Big');
    for (const item of body.items) {
      const detail = await app.request(`/messages/${item.id}`);
      expect(detail.status).toBe(200);
      expect(((await detail.json()) as { subject: string }).subject).toBe(item.subject);
    }
  });

  it('passes filters to the index in its terms: UTC bounds, a lower-cased sender, the default limit', async () => {
    archive.index.listQueries.length = 0;
    const res = await app.request(
      '/mailboxes/work/messages?since=2024-05-14&until=2024-05-15&subject=Invoice&hasAttachments=true',
    );
    expect(res.status).toBe(200);
    expect(archive.index.listQueries).toEqual([
      {
        kind: 'date',
        since: '2024-05-14T00:00:00.000Z',
        until: '2024-05-15T23:59:59.999Z',
        subject: 'Invoice',
        hasAttachments: true,
        limit: 50,
        cursor: null,
      },
    ]);

    archive.index.listQueries.length = 0;
    // "+02:00" sent unencoded arrives as " 02:00", and is read as the "+" it was.
    const bySender = await app.request(
      '/mailboxes/work/messages?from=Alice@Example.ORG&since=2024-05-14T09:00:00+02:00&limit=200',
    );
    expect(bySender.status).toBe(200);
    // (The memory double's listBySender reads through its own listMessages: only the first is ours.)
    expect(archive.index.listQueries.slice(0, 1)).toEqual([
      {
        kind: 'sender',
        address: 'alice@example.org',
        since: '2024-05-14T07:00:00.000Z',
        limit: 200,
        cursor: null,
      },
    ]);
    const items = ((await bySender.json()) as { items: Array<{ subject: string }> }).items;
    expect(items.map((m) => m.subject)).toEqual(['Lunch on Thursday?']);
  });

  it.each([
    ['since=yesterday', 'INVALID_PARAMETER', /since "yesterday" is invalid/],
    ['since=2024-02-30', 'INVALID_PARAMETER', /no such day/],
    ['until=2023-02-29', 'INVALID_PARAMETER', /no such day/],
    ['since=2024-05-15T10:00:00', 'INVALID_PARAMETER', /with a zone/],
    ['since=2024-05-15T10:00:00 0200', 'INVALID_PARAMETER', /with a zone/],
    ['since=2024-05-15 10:00:00Z', 'INVALID_PARAMETER', /with a zone/],
    ['since=2024-05-15T24:00:00Z', 'INVALID_PARAMETER', /no such time/],
    ['since=2024-05-16&until=2024-05-15', 'INVALID_PARAMETER', /since is later than until/],
    ['limit=0', 'INVALID_PARAMETER', /limit "0" is invalid: an integer from 1 to 200/],
    ['limit=201', 'INVALID_PARAMETER', /limit "201"/],
    ['limit=abc', 'INVALID_PARAMETER', /limit "abc"/],
    ['limit=1.5', 'INVALID_PARAMETER', /limit "1.5"/],
    ['limit=-1', 'INVALID_PARAMETER', /limit "-1"/],
    ['limit=5&limit=6', 'INVALID_PARAMETER', /limit is given more than once/],
    ['hasAttachments=yes', 'INVALID_PARAMETER', /hasAttachments "yes" is invalid: true or false/],
    ['subject=', 'INVALID_PARAMETER', /subject "" is invalid/],
    ['subject=%07bell', 'INVALID_PARAMETER', /subject/],
    ['from=a%20b@example.com', 'INVALID_PARAMETER', /from "a b@example.com" is invalid/],
    ['from=', 'INVALID_PARAMETER', /from "" is invalid/],
    ['cursor=', 'INVALID_CURSOR', /invalid cursor/],
    [`cursor=${'A'.repeat(8193)}`, 'INVALID_CURSOR', /invalid cursor/],
    ['sinse=2024-01-01', 'UNKNOWN_PARAMETER', /unknown query parameter "sinse"/],
  ])('?%s is refused with %s', async (query, code, message) => {
    const res = await app.request(`/mailboxes/work/messages?${query}`);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses a cursor the index rejects (tampered, or from another listing) with 400', async () => {
    class RejectingIndex extends MemoryMessageIndex {
      override async listMessages(): Promise<MessagePage> {
        throw new InvalidCursorError('invalid cursor: issued for another mailbox');
      }
    }
    const index = new RejectingIndex();
    await seed(
      { index, store: new MemoryRawStore() },
      {
        mailboxId: 'work',
        messageKey: 'k',
        raw: fixture('plain-text.eml'),
      },
    );
    const res = await createQueryApp({ index, store: new MemoryRawStore() }).request(
      '/mailboxes/work/messages?cursor=eyJ2IjoxfQ',
    );
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toEqual({
      code: 'INVALID_CURSOR',
      message: 'invalid cursor: issued for another mailbox',
    });
  });

  it('answers 404 for a mailbox that does not exist and 400 for an id that cannot be one', async () => {
    const missing = await app.request('/mailboxes/nobody/messages');
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe('MAILBOX_NOT_FOUND');
    for (const bad of ['.hidden', '%2E%2E%2Fwork', 'a%20b', 'x'.repeat(65)]) {
      const res = await app.request(`/mailboxes/${bad}/messages`);
      expect(res.status, bad).toBe(400);
      expect((await errorOf(res)).code).toBe('INVALID_PARAMETER');
    }
  });
});

describe('GET /messages?messageId=', () => {
  it('finds every copy, with or without the angle brackets', async () => {
    for (const query of ['%3Cinv-2024-0042%40shop.example%3E', 'inv-2024-0042@shop.example']) {
      const res = await app.request(`/messages?messageId=${query}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        items: Array<{ mailboxId: string; id: string }>;
        truncated: boolean;
      };
      expect(body.items.map((m) => m.mailboxId).sort()).toEqual(['home', 'work']);
      expect(body.items.map((m) => m.id).sort()).toEqual([idOf('copy'), idOf('invoice')].sort());
      expect(body.truncated).toBe(false);
    }
  });

  it('answers an empty list for an id nobody sent', async () => {
    const res = await app.request('/messages?messageId=nobody@example.com');
    expect(await res.json()).toEqual({ items: [], truncated: false });
  });

  it.each([
    ['', 'MISSING_PARAMETER'],
    ['?messageId=', 'INVALID_PARAMETER'],
    ['?messageId=%3C%3E', 'INVALID_PARAMETER'],
    ['?messageId=a%20b@example.com', 'INVALID_PARAMETER'],
    ['?messageId=%3Ca@x', 'INVALID_PARAMETER'],
    ['?messageId=%3C%3Ca@x%3E%3E', 'INVALID_PARAMETER'],
    [`?messageId=${'x'.repeat(300)}`, 'INVALID_PARAMETER'],
    ['?id=x', 'UNKNOWN_PARAMETER'],
  ])('refuses %j with %s', async (query, code) => {
    const res = await app.request(`/messages${query}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe(code);
  });
});

describe('GET /mailboxes/{id}/runs', () => {
  it('lists recent runs, most recent first, bounded by limit', async () => {
    const res = await app.request('/mailboxes/work/runs');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Array<{ runId: string; counts: object }> };
    expect(body.items.map((r) => r.runId)).toEqual(['run-2', 'run-1']);
    expect(body.items[1]?.counts).toMatchObject({ listed: 3, stored: 3 });
    const one = (await (await app.request('/mailboxes/work/runs?limit=1')).json()) as {
      items: unknown[];
    };
    expect(one.items).toHaveLength(1);
  });

  it.each(['limit=0', 'limit=101', 'limit=x', 'cursor=abc'])('refuses ?%s', async (query) => {
    const res = await app.request(`/mailboxes/work/runs?${query}`);
    expect(res.status).toBe(400);
  });

  it('answers 404 for an unknown mailbox', async () => {
    const res = await app.request('/mailboxes/nobody/runs');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('MAILBOX_NOT_FOUND');
  });
});

describe('GET /mailboxes/{id}/activity', () => {
  const NOW = Date.parse('2024-06-03T15:00:00.000Z');

  async function activityApp() {
    const archive = { index: new MemoryMessageIndex(), store: new MemoryRawStore() };
    const at = (messageKey: string, archivedAt: string) =>
      seed(archive, { mailboxId: 'chart', messageKey, raw: fixture('plain-text.eml'), archivedAt });
    await at('a', '2024-06-01T00:00:00.000Z');
    await at('b', '2024-06-01T23:59:59.999Z');
    await at('c', '2024-06-03T01:00:00.000Z');
    await at('old', '2024-05-01T00:00:00.000Z');
    return createQueryApp({ ...archive, now: () => NOW });
  }

  it('answers every day up to today (UTC), oldest first, with 0 for days without mail', async () => {
    const res = await (await activityApp()).request('/mailboxes/chart/activity?days=4');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      days: [
        { day: '2024-05-31', messages: 0 },
        { day: '2024-06-01', messages: 2 },
        { day: '2024-06-02', messages: 0 },
        { day: '2024-06-03', messages: 1 },
      ],
    });
  });

  it('defaults to 30 days, and a mail older than the span is not counted', async () => {
    const body = (await (
      await (await activityApp()).request('/mailboxes/chart/activity')
    ).json()) as {
      days: { day: string; messages: number }[];
    };
    expect(body.days).toHaveLength(30);
    expect(body.days[0]?.day).toBe('2024-05-05');
    expect(body.days.at(-1)?.day).toBe('2024-06-03');
    expect(body.days.reduce((sum, d) => sum + d.messages, 0)).toBe(3);
  });

  it('refuses days outside 1-366 with a 400 naming the parameter', async () => {
    const app = await activityApp();
    for (const days of ['0', '367', 'x', '1.5']) {
      const res = await app.request(`/mailboxes/chart/activity?days=${days}`);
      expect(res.status).toBe(400);
      expect(JSON.stringify(await res.json())).toContain('days');
    }
  });
});
