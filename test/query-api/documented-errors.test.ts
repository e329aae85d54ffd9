/**
 * Every error answer the OpenAPI document promises, produced by a real request: for each route and
 * each documented status of 400 or more, the table below holds a request that gets exactly that
 * status, with a body that matches the documented schema and the documented headers. A route that
 * documents a status no request here produces fails the coverage test, and so does a table entry
 * for a status the route does not document.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import type { MessageIndex, MessageRecord } from '../../functions/core/archive/ports.js';
import {
  createQueryApp,
  type QueryApp,
  type QueryAppDeps,
} from '../../functions/query-api/create-query-app.js';
import { forbidden } from '../../functions/query-api/errors.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { SearchableMemoryIndex } from '../support/memory-search.js';
import { documentReader, type OpenApiDocument, servedDocument } from './openapi-kit.js';
import { fixture, RecordingLogger, seed } from './query-api-kit.js';

const index = new SearchableMemoryIndex();
const store = new MemoryRawStore();
const logger = new RecordingLogger();

function appWith(overrides: Partial<QueryAppDeps> = {}): QueryApp {
  return createQueryApp({ index, store, search: index, logger, ...overrides });
}

/** An index whose every call fails with `error`. */
function failingIndex(error: () => Error): MessageIndex {
  return new Proxy(new MemoryMessageIndex(), {
    get: (target, name, receiver) => {
      const value: unknown = Reflect.get(target, name, receiver);
      return typeof value === 'function'
        ? async () => {
            throw error();
          }
        : value;
    },
  });
}

const app = appWith();
const secured = appWith({ auth: { bearerToken: 'a'.repeat(32) } });
const refused = appWith({
  access: () => {
    throw forbidden('the token has no "popvault_mailboxes" claim');
  },
});
const broken = appWith({ index: failingIndex(() => new Error('connect ECONNREFUSED')) });
const busy = appWith({
  index: failingIndex(() => new ArchiveError('STORE_UNAVAILABLE', 'ThrottlingException')),
});
/** A failure before any route runs: the one kind a route that reads no archive can meet. */
const brokenAccess = appWith({
  access: () => {
    throw new Error('the grant could not be read');
  },
});
const small = appWith({ maxBodyOctets: 10 });

let invoice: MessageRecord;
const id = () => encodeMessageRef(invoice);
/** A well-formed id that names no message. */
const missingId = () => encodeMessageRef({ mailboxId: 'work', messageKey: 'none' });

/** A request that gets one status on one path, described for the test name. */
type Entry = { why: string; send: () => Response | Promise<Response> };

/** One concrete URL per documented path, with its {templates} filled in. */
function concrete(path: string): string {
  return path.replace('{mailboxId}', 'work').replace('{id}', id()).replace('{n}', '1');
}

/** What every route can answer, whatever it serves. */
function common(path: string, readsArchive: boolean): Record<number, Entry> {
  const get = (target: QueryApp) => () => target.request(concrete(path));
  const entries: Record<number, Entry> = {
    401: { why: 'no bearer token', send: get(secured) },
    403: { why: 'a JWT without the mailboxes claim', send: get(refused) },
    405: { why: 'POST', send: () => app.request(concrete(path), { method: 'POST' }) },
    500: readsArchive
      ? { why: 'the index fails', send: get(broken) }
      : { why: 'the grant fails to load', send: get(brokenAccess) },
  };
  if (readsArchive) entries[503] = { why: 'the index is throttled', send: get(busy) };
  return entries;
}

const send =
  (url: string, target: QueryApp = app) =>
  () =>
    target.request(url);

const TABLE: Record<string, Record<number, Entry>> = {
  '/openapi.json': {
    ...common('/openapi.json', false),
    400: { why: 'an unknown parameter', send: send('/openapi.json?zzz=1') },
  },
  '/mailboxes': {
    ...common('/mailboxes', true),
    400: { why: 'an unknown parameter', send: send('/mailboxes?zzz=1') },
  },
  '/mailboxes/{mailboxId}/messages': {
    ...common('/mailboxes/{mailboxId}/messages', true),
    400: { why: 'limit=0', send: send('/mailboxes/work/messages?limit=0') },
    404: { why: 'no such mailbox', send: send('/mailboxes/none/messages') },
  },
  '/mailboxes/{mailboxId}/activity': {
    ...common('/mailboxes/{mailboxId}/activity', true),
    400: { why: 'days=367', send: send('/mailboxes/work/activity?days=367') },
    404: { why: 'no such mailbox', send: send('/mailboxes/none/activity') },
  },
  '/mailboxes/{mailboxId}/runs': {
    ...common('/mailboxes/{mailboxId}/runs', true),
    400: { why: 'limit=101', send: send('/mailboxes/work/runs?limit=101') },
    404: { why: 'no such mailbox', send: send('/mailboxes/none/runs') },
  },
  '/messages': {
    ...common('/messages?messageId=a@b', true),
    400: { why: 'no messageId', send: send('/messages') },
  },
  '/search': {
    ...common('/search?q=invoice', true),
    400: { why: 'an unbalanced quote', send: send('/search?q=%22march') },
    404: { why: 'no such mailbox', send: send('/search?q=invoice&mailbox=none') },
    501: {
      why: 'a deployment without a search index',
      send: send('/search?q=invoice', appWith({ search: undefined })),
    },
  },
  '/messages/{id}': {
    ...common('/messages/{id}', true),
    400: { why: 'an id this API did not issue', send: send('/messages/%21') },
    404: { why: 'no such message', send: () => app.request(`/messages/${missingId()}`) },
  },
  '/messages/{id}/html': {
    ...common('/messages/{id}/html', true),
    400: { why: 'images=bogus', send: () => app.request(`/messages/${id()}/html?images=bogus`) },
    404: { why: 'no such message', send: () => app.request(`/messages/${missingId()}/html`) },
  },
  '/mailboxes/{mailboxId}/messages/{id}/html': {
    ...common('/mailboxes/{mailboxId}/messages/{id}/html', true),
    400: { why: 'a mailbox id that cannot be one', send: send('/mailboxes/.x/messages/abc/html') },
    404: {
      why: 'an id of another mailbox',
      send: () => app.request(`/mailboxes/home/messages/${id()}/html`),
    },
  },
  '/messages/{id}/text': {
    ...common('/messages/{id}/text', true),
    400: { why: 'an id this API did not issue', send: send('/messages/%21/text') },
    404: { why: 'no such message', send: () => app.request(`/messages/${missingId()}/text`) },
  },
  '/mailboxes/{mailboxId}/messages/{id}/text': {
    ...common('/mailboxes/{mailboxId}/messages/{id}/text', true),
    400: { why: 'a mailbox id that cannot be one', send: send('/mailboxes/.x/messages/abc/text') },
    404: {
      why: 'an id of another mailbox',
      send: () => app.request(`/mailboxes/home/messages/${id()}/text`),
    },
  },
  '/mailboxes/{mailboxId}/messages/{id}': {
    ...common('/mailboxes/{mailboxId}/messages/{id}', true),
    400: { why: 'a mailbox id that cannot be one', send: send('/mailboxes/.x/messages/abc') },
    404: {
      why: 'an id of another mailbox',
      send: () => app.request(`/mailboxes/home/messages/${id()}`),
    },
  },
};

/** The raw and attachment routes, with and without the mailbox in the path. */
function downloadEntries(path: string): Record<number, Entry> {
  const base = path.replace(/\/(raw|attachments\/\{n\})$/, '');
  return {
    ...common(path, true),
    400: {
      why: 'an id this API did not issue',
      send: () => app.request(concrete(path).replace(id(), '%21')),
    },
    404: path.endsWith('{n}')
      ? {
          why: 'a position past the attachment list',
          send: () => app.request(`${concrete(base)}/attachments/9`),
        }
      : {
          why: 'an id of no message',
          send: () => app.request(concrete(path).replace(id(), missingId())),
        },
    422: { why: 'larger than the body limit', send: () => small.request(concrete(path)) },
  };
}

for (const path of [
  '/messages/{id}/raw',
  '/messages/{id}/attachments/{n}',
  '/mailboxes/{mailboxId}/messages/{id}/raw',
  '/mailboxes/{mailboxId}/messages/{id}/attachments/{n}',
]) {
  TABLE[path] = downloadEntries(path);
}

const tabled = Object.entries(TABLE).flatMap(([path, entries]) =>
  Object.entries(entries).map(([status, entry]) => ({ path, status: Number(status), ...entry })),
);

let doc: OpenApiDocument;
let reader: ReturnType<typeof documentReader>;

beforeAll(async () => {
  doc = await servedDocument(app);
  reader = documentReader(doc);
  invoice = await seed(
    { index, store },
    { mailboxId: 'work', messageKey: 'inv', raw: fixture('multipart-alternative-attachments.eml') },
  );
  await seed(
    { index, store },
    { mailboxId: 'home', messageKey: 'x', raw: fixture('plain-text.eml') },
  );
});

describe('documented error answers', () => {
  it('each one has a request in the table, and the table holds nothing undocumented', () => {
    const documented = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item.get.responses)
        .map(Number)
        .filter((status) => status >= 400)
        .map((status) => `${path} ${status}`),
    );
    expect(documented.length).toBeGreaterThan(50);
    expect(tabled.map((entry) => `${entry.path} ${entry.status}`).sort()).toEqual(
      documented.sort(),
    );
  });

  it.each(tabled)('$path $status ($why)', async ({ path, status, send }) => {
    const res = await send();
    expect(res.status).toBe(status);
    const documented = reader.documentedResponse(path, status);
    for (const header of Object.keys(documented.headers ?? {})) {
      expect(res.headers.get(header), header).not.toBeNull();
    }
    const media = documented.content?.['application/json'];
    expect(media, 'documents a JSON body').toBeDefined();
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(reader.check(media?.schema ?? {}, await res.json())).toEqual([]);
  });
});
