/**
 * Random paths, query strings and message ids against the query API: every answer is a 2xx or a
 * JSON 4xx with a code and a message, never a 500 and never a crash. Seeded.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { fixture, RecordingLogger, seed } from '../query-api/query-api-kit.js';
import { MemoryRawStore } from '../support/memory-archive.js';
import { SearchableMemoryIndex } from '../support/memory-search.js';
import { queryOfPieces } from '../support/search-query-pieces.js';

const SEED = 8025;

let app: ReturnType<typeof createQueryApp>;
let goodId: string;

beforeAll(async () => {
  const archive = { index: new SearchableMemoryIndex(), store: new MemoryRawStore() };
  await seed(archive, {
    mailboxId: 'work',
    messageKey: 'u1',
    raw: fixture('multipart-alternative-attachments.eml'),
  });
  goodId = encodeMessageRef({ mailboxId: 'work', messageKey: 'u1' });
  app = createQueryApp({ ...archive, search: archive.index, logger: new RecordingLogger() });
});

const text = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.constantFrom(
    'work',
    'u1',
    '..',
    '%2e%2e',
    '%00',
    '%ZZ',
    '-1',
    '0',
    '1e9',
    'true',
    '*',
    ' ',
    '',
    'ÿ',
  ),
  fc.base64String({ maxLength: 60 }),
);
const segment = text.map((t) => encodeURIComponent(t));
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom(
        'limit',
        'cursor',
        'since',
        'until',
        'from',
        'subject',
        'hasAttachments',
        'messageId',
        'x',
      ),
      text,
    ),
    { maxLength: 4 },
  )
  .map((pairs) =>
    pairs.length === 0
      ? ''
      : `?${pairs.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`,
  );
const path = fc.oneof(
  fc.tuple(segment, query).map(([id, q]) => `/mailboxes/${id}/messages${q}`),
  fc.tuple(segment, query).map(([id, q]) => `/mailboxes/${id}/runs${q}`),
  segment.map((id) => `/messages/${id}`),
  segment.map((id) => `/messages/${id}/raw`),
  fc.tuple(segment, text).map(([id, n]) => `/messages/${id}/attachments/${encodeURIComponent(n)}`),
  fc.tuple(segment, segment).map(([m, id]) => `/mailboxes/${m}/messages/${id}`),
  query.map((q) => `/messages${q}`),
  fc.constantFrom('/mailboxes', '/openapi.json', '/', '/nothing/here'),
  fc.constant(null).map(() => `/messages/${goodId}/attachments/0`),
  fc
    .tuple(fc.nat(), fc.nat())
    .map(
      ([a, b]) =>
        `/messages/${goodId.slice(0, a % goodId.length)}${goodId.slice(b % goodId.length)}`,
    ),
);

describe('whatever a caller asks, the API answers 2xx or a JSON 4xx', () => {
  it('never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        path,
        fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE'),
        async (p, method) => {
          const res = await app.request(p, { method });
          expect(res.status, `${method} ${p}`).toBeLessThan(500);
          if (res.status >= 400 && method !== 'HEAD') {
            const body = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
            expect(typeof body.error?.code, `${method} ${p}`).toBe('string');
            expect(typeof body.error?.message, `${method} ${p}`).toBe('string');
          } else {
            await res.arrayBuffer();
          }
        },
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  it('never a 500 from /search, whatever the query', async () => {
    const q = fc.oneof(text, queryOfPieces);
    const params = fc.tuple(
      q,
      fc.option(fc.oneof(text, fc.constant('work')), { nil: undefined }),
      fc.option(text, { nil: undefined }),
    );
    await fc.assert(
      fc.asyncProperty(params, async ([query, mailbox, limit]) => {
        const search = new URLSearchParams({ q: query });
        if (mailbox !== undefined) search.set('mailbox', mailbox);
        if (limit !== undefined) search.set('limit', limit);
        const res = await app.request(`/search?${search}`);
        expect(res.status, search.toString()).toBeLessThan(500);
        if (res.status >= 400) {
          const body = (await res.json()) as { error?: { code?: unknown } };
          expect(typeof body.error?.code, search.toString()).toBe('string');
        } else {
          await res.arrayBuffer();
        }
      }),
      { seed: SEED, numRuns: 400 },
    );
  });
});
