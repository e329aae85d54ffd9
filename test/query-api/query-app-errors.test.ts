/** Bearer authentication for local serving, and how failures are answered. */
import { beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { errorOf, RecordingLogger } from './query-api-kit.js';
import { app, appWith, idOf, seedQueryAppArchive } from './query-app-fixture.js';

beforeAll(seedQueryAppArchive);

describe('bearer token (local serving)', () => {
  const token = 'x5Vq0n2-Lk8_ZpT3wR9yB7cD1eF4gH6j';
  const secured = appWith({ auth: { bearerToken: token } });

  it.each([
    ['no header', {}, 'UNAUTHORIZED'],
    ['another scheme', { Authorization: `Basic ${token}` }, 'UNAUTHORIZED'],
    ['an empty token', { Authorization: 'Bearer ' }, 'UNAUTHORIZED'],
    ['a wrong token', { Authorization: `Bearer ${token.slice(0, -1)}k` }, 'INVALID_TOKEN'],
    ['a prefix of the token', { Authorization: `Bearer ${token.slice(0, 10)}` }, 'INVALID_TOKEN'],
    ['the token and more', { Authorization: `Bearer ${token}x` }, 'INVALID_TOKEN'],
  ])('refuses %s with 401', async (_why, headers, code) => {
    for (const path of ['/mailboxes', '/openapi.json', `/messages/${idOf('lunch')}/raw`, '/nope']) {
      const res = await secured.request(path, { headers });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="popvault"/);
      expect((await errorOf(res)).code).toBe(code);
    }
  });

  it('serves with the right token, whatever the case of the scheme', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await secured.request('/mailboxes', {
        headers: { Authorization: `${scheme} ${token}` },
      });
      expect(res.status).toBe(200);
    }
  });

  it('refuses to start with a token that is short or not a bearer token', () => {
    expect(() => appWith({ auth: { bearerToken: 'short' } })).toThrow(/at least 16/);
    expect(() => appWith({ auth: { bearerToken: 'has spaces in it, sixteen+' } })).toThrow();
  });
});

describe('errors', () => {
  it('answers unknown routes with 404 and other methods with 405, in JSON', async () => {
    const missing = await app.request('/nope');
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe('ROUTE_NOT_FOUND');
    const post = await app.request('/mailboxes', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await errorOf(post)).code).toBe('METHOD_NOT_ALLOWED');
  });

  it('hides an unexpected failure behind a request id and logs its details', async () => {
    class BrokenIndex extends MemoryMessageIndex {
      override async listMailboxes(): Promise<never> {
        throw new Error('connect ECONNREFUSED 10.0.0.7:8000 for user secret-user');
      }
    }
    const logger = new RecordingLogger();
    const res = await createQueryApp({
      index: new BrokenIndex(),
      store: new MemoryRawStore(),
      logger,
    }).request('/mailboxes');
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toMatch(/ECONNREFUSED|secret-user|at |\.ts/);
    const error = (JSON.parse(text) as { error: { code: string; requestId: string } }).error;
    expect(error.code).toBe('INTERNAL');
    expect(error.requestId).toBe(res.headers.get('x-request-id'));
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]?.attributes).toMatchObject({
      requestId: error.requestId,
      message: expect.stringMatching(/ECONNREFUSED/),
      stack: expect.any(String),
    });
  });

  it('answers a throttled store with 503 and Retry-After', async () => {
    class BusyIndex extends MemoryMessageIndex {
      override async listMailboxes(): Promise<never> {
        throw new ArchiveError('STORE_UNAVAILABLE', 'dynamodb Query failed: ThrottlingException');
      }
    }
    const res = await createQueryApp({
      index: new BusyIndex(),
      store: new MemoryRawStore(),
      logger: new RecordingLogger(),
    }).request('/mailboxes');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect((await errorOf(res)).code).toBe('SERVICE_UNAVAILABLE');
  });
});
