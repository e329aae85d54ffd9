/**
 * The OpenAPI document against the app it describes, and against a real OpenAPI 3.1 validator. The
 * document is generated from the route declarations; these tests hold what the app does to it.
 */
import { validate } from '@readme/openapi-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { forbidden } from '../../functions/query-api/errors.js';
import { onlyMailboxes } from '../../functions/query-api/mailbox-access.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { LIST_ITEM_MAX_FROM } from '../../functions/query-api/schemas/message-schemas.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import {
  documentReader,
  type OpenApiDocument,
  type ParameterObject,
  type SchemaObject,
  servedDocument,
} from './openapi-kit.js';
import { fixture, RecordingLogger, run, seed } from './query-api-kit.js';

let doc: OpenApiDocument;
let reader: ReturnType<typeof documentReader>;
const resolve = <T>(value: T | { $ref: string }): T => reader.resolve(value);
const check = (schema: SchemaObject, value: unknown) => reader.check(schema, value);
const documentedResponse = (path: string, status: number) =>
  reader.documentedResponse(path, status);

/** Every $ref anywhere in the document. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refs(item, out);
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value);
      else refs(value, out);
    }
  }
  return out;
}

function parametersOf(path: string): ParameterObject[] {
  return (doc.paths[path]?.get.parameters ?? []).map((p) => resolve<ParameterObject>(p));
}

// ---------------------------------------------------------------------------------------------

const index = new MemoryMessageIndex();
const store = new MemoryRawStore();
const logger = new RecordingLogger();
const app = createQueryApp({ index, store, logger });
const linked = createQueryApp({
  index,
  store,
  rawLink: async (key) => `https://s3.example/${key}`,
});
let invoice: MessageRecord;

/** One concrete request per documented path, with its {templates} filled in. */
function concrete(path: string): string {
  return path
    .replace('{mailboxId}', 'work')
    .replace('{id}', encodeMessageRef(invoice))
    .replace('{n}', '1');
}

beforeAll(async () => {
  doc = await servedDocument(app);
  reader = documentReader(doc);
  invoice = await seed(
    { index, store },
    { mailboxId: 'work', messageKey: 'inv', raw: fixture('multipart-alternative-attachments.eml') },
  );
  await seed(
    { index, store },
    { mailboxId: 'work', messageKey: 'lunch', raw: fixture('plain-text.eml') },
  );
  await seed(
    { index, store },
    { mailboxId: 'home', messageKey: 'x', raw: fixture('unparseable-date.eml') },
  );
  await index.putRun(run('work', 'r1'));
  await index.putRun(
    run('work', 'r2', {
      outcome: 'partial',
      errorCode: 'STORE_FAILED',
      errorMessage: 'one message failed',
      failures: [{ messageKey: 'k', errorCode: 'STORE_FAILED', message: 'boom' }],
    }),
  );
});

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 and every $ref in it resolves', () => {
    expect(doc.openapi).toBe('3.1.0');
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(10);
    for (const ref of all) expect(() => resolve({ $ref: ref }), ref).not.toThrow();
  });

  it('passes an OpenAPI 3.1 validator', async () => {
    // The validator dereferences what it is given: it gets a copy, as the JSON a client reads.
    const copy: Parameters<typeof validate>[0] = JSON.parse(JSON.stringify(doc));
    const result = await validate(copy);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.specification).toBe('OpenAPI');
  });

  it('is the same document on every request', async () => {
    expect(await servedDocument(app)).toEqual(doc);
  });

  it('documents exactly the routes the app serves', () => {
    const methods = new Set(app.routes.map((r) => r.method));
    // GET routes, plus the 405 handlers and the middleware that every path has (method ALL).
    expect([...methods].sort()).toEqual(['ALL', 'GET']);
    // Each route's validators are registered as handlers of their own: one path per route.
    const served = [
      ...new Set(
        app.routes
          .filter((r) => r.method === 'GET')
          .map((r) => r.path.replace(/:([A-Za-z]+)/g, '{$1}')),
      ),
    ].sort();
    expect(served).toEqual(Object.keys(doc.paths).sort());
    for (const item of Object.values(doc.paths)) expect(Object.keys(item)).toEqual(['get']);
  });

  it('states the bounds the app applies', () => {
    const item = resolve<SchemaObject>({ $ref: '#/components/schemas/MessageListItem' });
    expect(item.properties?.from?.maxItems).toBe(LIST_ITEM_MAX_FROM);
  });

  it('declares every path template parameter, and only those, as required path parameters', () => {
    for (const path of Object.keys(doc.paths)) {
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      const declared = parametersOf(path).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort(), path).toEqual(inTemplate);
      for (const p of declared) expect(p.required, `${path} ${p.name}`).toBe(true);
    }
  });

  it("lists each route's query parameters exactly as the route accepts them", async () => {
    for (const path of Object.keys(doc.paths)) {
      const res = await app.request(`${concrete(path)}?zzz=1`);
      expect(res.status, path).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code, path).toBe('UNKNOWN_PARAMETER');
      const accepted = /this route accepts: (.*)$/.exec(error.message)?.[1] ?? '';
      const documented = parametersOf(path)
        .filter((p) => p.in === 'query')
        .map((p) => p.name);
      expect(accepted === 'none' ? [] : accepted.split(', '), path).toEqual(documented);
    }
  });
});

describe('real responses match the documented ones', () => {
  const jsonRoutes: Array<[string, string]> = [
    ['/openapi.json', '/openapi.json'],
    ['/mailboxes', '/mailboxes'],
    ['/mailboxes/{mailboxId}/messages', '/mailboxes/work/messages?limit=1'],
    ['/mailboxes/{mailboxId}/messages', '/mailboxes/home/messages'],
    ['/mailboxes/{mailboxId}/runs', '/mailboxes/work/runs'],
    ['/messages', '/messages?messageId=inv-2024-0042@shop.example'],
    ['/messages/{id}', 'DETAIL'],
    ['/mailboxes/{mailboxId}/messages/{id}', 'DETAIL'],
  ];

  it.each(jsonRoutes)('%s: %s', async (path, url) => {
    const res = await app.request(url === 'DETAIL' ? concrete(path) : url);
    expect(res.status).toBe(200);
    const documented = documentedResponse(path, 200);
    const media = documented.content?.['application/json'];
    expect(media, `${path} documents application/json`).toBeDefined();
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body: unknown = await res.json();
    expect(check(media?.schema as SchemaObject, body)).toEqual([]);
  });

  it('a record with every optional part present and absent still matches', async () => {
    // The mailbox listing covers lastRun/lastError null (home) and set (work); pages cover a
    // nextCursor of null; the detail covers attachments. Here: a message without Message-ID or date.
    const res = await app.request('/mailboxes/home/messages');
    const body = (await res.json()) as { items: Array<{ date: unknown }> };
    expect(body.items[0]?.date).toBeNull();
  });

  it.each(['/messages/{id}/raw', '/mailboxes/{mailboxId}/messages/{id}/raw'])(
    '%s: the documented content type and headers, or the documented 302',
    async (path) => {
      const res = await app.request(concrete(path));
      const documented = documentedResponse(path, 200);
      expect(Object.keys(documented.content ?? {})).toContain(res.headers.get('content-type'));
      for (const header of Object.keys(documented.headers ?? {})) {
        expect(res.headers.get(header), header).not.toBeNull();
      }
      await res.arrayBuffer();
      const redirect = await linked.request(concrete(path));
      expect(redirect.status).toBe(302);
      for (const header of Object.keys(documentedResponse(path, 302).headers ?? {})) {
        expect(redirect.headers.get(header), header).not.toBeNull();
      }
    },
  );

  it.each([
    '/messages/{id}/attachments/{n}',
    '/mailboxes/{mailboxId}/messages/{id}/attachments/{n}',
  ])('%s: the documented headers', async (path) => {
    const res = await app.request(concrete(path));
    expect(res.status).toBe(200);
    for (const header of Object.keys(documentedResponse(path, 200).headers ?? {})) {
      expect(res.headers.get(header), header).not.toBeNull();
    }
    await res.arrayBuffer();
  });

  const errorCases: Array<[string, number, string, () => Response | Promise<Response>]> = [
    [
      '/mailboxes/{mailboxId}/messages',
      400,
      'bad limit',
      () => app.request('/mailboxes/work/messages?limit=0'),
    ],
    [
      '/mailboxes/{mailboxId}/messages',
      404,
      'unknown mailbox',
      () => app.request('/mailboxes/none/messages'),
    ],
    [
      '/mailboxes/{mailboxId}/runs',
      404,
      'unknown mailbox',
      () => app.request('/mailboxes/none/runs'),
    ],
    ['/messages', 400, 'no messageId', () => app.request('/messages')],
    ['/messages/{id}', 400, 'bad id', () => app.request('/messages/%21')],
    [
      '/messages/{id}/attachments/{n}',
      404,
      'no such attachment',
      () => app.request(`${concrete('/messages/{id}')}/attachments/9`),
    ],
    [
      '/messages/{id}/raw',
      422,
      'too large',
      () =>
        createQueryApp({ index, store, maxBodyOctets: 10 }).request(concrete('/messages/{id}/raw')),
    ],
    [
      '/mailboxes',
      401,
      'no token',
      () =>
        createQueryApp({ index, store, auth: { bearerToken: 'a'.repeat(32) } }).request(
          '/mailboxes',
        ),
    ],
    [
      '/mailboxes',
      403,
      'JWT without the mailboxes claim',
      () =>
        createQueryApp({
          index,
          store,
          access: () => {
            throw forbidden('the token has no "popvault_mailboxes" claim');
          },
        }).request('/mailboxes'),
    ],
    [
      '/mailboxes/{mailboxId}/messages/{id}',
      404,
      'an id of another mailbox',
      () => app.request(`/mailboxes/home/messages/${encodeMessageRef(invoice)}`),
    ],
    [
      '/mailboxes/{mailboxId}/messages/{id}/raw',
      404,
      'a mailbox the caller may not read',
      () =>
        createQueryApp({ index, store, access: () => onlyMailboxes(['home']) }).request(
          concrete('/mailboxes/{mailboxId}/messages/{id}/raw'),
        ),
    ],
    ['/mailboxes', 405, 'POST', () => app.request('/mailboxes', { method: 'POST' })],
    [
      '/mailboxes',
      500,
      'failure',
      () =>
        createQueryApp({
          index: Object.assign(new MemoryMessageIndex(), {
            listMailboxes: async () => {
              throw new Error('boom');
            },
          }),
          store,
          logger,
        }).request('/mailboxes'),
    ],
  ];

  it.each(errorCases)('%s %i (%s) is the documented error', async (path, status, _why, send) => {
    const res = await send();
    expect(res.status).toBe(status);
    const media = documentedResponse(path, status).content?.['application/json'];
    expect(media).toBeDefined();
    expect(check(media?.schema as SchemaObject, await res.json())).toEqual([]);
  });

  it('the checker itself catches a missing required property, an extra one and a wrong type', () => {
    const schema: SchemaObject = { $ref: '#/components/schemas/Attachment' };
    const good = {
      index: 0,
      filename: null,
      contentType: 'a/b',
      octets: 1,
      sha256: 'a'.repeat(64),
    };
    expect(check(schema, good)).toEqual([]);
    const { sha256: _omitted, ...missing } = good;
    expect(check(schema, missing)).toEqual(['$: required property sha256 is missing']);
    expect(check(schema, { ...good, extra: 1 })).toEqual(['$: property extra is not documented']);
    expect(check(schema, { ...good, octets: '1' })).toEqual([
      '$.octets: is string, documented integer',
    ]);
    expect(check({ type: 'string', examples: [] } as SchemaObject, 'x')).toEqual([
      '$: unsupported keyword examples',
    ]);
  });
});
