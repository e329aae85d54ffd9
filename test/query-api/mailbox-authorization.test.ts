/**
 * Per-mailbox authorization: a caller granted mailbox A gets nothing of mailbox B, by any route. Run
 * through the Lambda handler with the events API Gateway delivers (JWT claims as its authorizer passes
 * them on), so the claim reading is tested with the app, not beside it.
 */
import type { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import type { ApiAuthorization } from '../../functions/query-api/api-env.js';
import {
  type ApiHandlerResult,
  createApiHandler,
} from '../../functions/query-api/create-api-handler.js';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { claimEntries, jwtAccess } from '../../functions/query-api/jwt-access.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import {
  base64Lines,
  httpApiEvent,
  mimeMessage,
  RecordingLogger,
  run,
  seed,
} from './query-api-kit.js';

/** Counts reads of each object, so "nothing of B" includes "B's mail was never opened". */
class ReadCountingStore extends MemoryRawStore {
  readonly reads: string[] = [];
  override async get(key: string): Promise<Readable> {
    this.reads.push(key);
    return super.get(key);
  }
}

const SHARED_MESSAGE_ID = '<shared-1@example.com>';
const B_ONLY_MESSAGE_ID = '<b-only-1@example.com>';

const index = new MemoryMessageIndex();
const store = new ReadCountingStore();
const rawLinks: string[] = [];
let inA: MessageRecord;
let inB: MessageRecord;
let sharedInA: MessageRecord;

function messageWithAttachment(subject: string, messageId: string): Buffer {
  return mimeMessage({
    subject,
    messageId,
    date: 'Mon, 20 May 2024 08:00:00 +0000',
    parts: [
      {
        headers:
          'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="secret.bin"\r\nContent-Transfer-Encoding: base64',
        body: base64Lines(Buffer.from(`attachment of ${subject}`)),
      },
    ],
  });
}

beforeAll(async () => {
  inA = await seed(
    { index, store },
    { mailboxId: 'alice', messageKey: 'a1', raw: messageWithAttachment('A', '<a-1@example.com>') },
  );
  sharedInA = await seed(
    { index, store },
    {
      mailboxId: 'alice',
      messageKey: 'a2',
      raw: mimeMessage({ subject: 'list copy A', messageId: SHARED_MESSAGE_ID }),
    },
  );
  inB = await seed(
    { index, store },
    { mailboxId: 'bob', messageKey: 'b1', raw: messageWithAttachment('B', B_ONLY_MESSAGE_ID) },
  );
  await seed(
    { index, store },
    {
      mailboxId: 'bob',
      messageKey: 'b2',
      raw: mimeMessage({ subject: 'list copy B', messageId: SHARED_MESSAGE_ID }),
    },
  );
  await index.putRun(run('alice', 'ra'));
  await index.putRun(run('bob', 'rb'));
});

function handlerFor(authorization: ApiAuthorization) {
  return createApiHandler({
    index,
    store,
    logger: new RecordingLogger(),
    authorization,
    rawLink: async (rawKey) => {
      rawLinks.push(rawKey);
      return `https://popvault-mail.s3.eu-west-1.amazonaws.com/${rawKey}`;
    },
  });
}

const JWT: ApiAuthorization = {
  kind: 'jwt',
  mailboxesClaim: 'popvault_mailboxes',
  requiredScopes: [],
};

type Get = (path: string, query?: string) => Promise<ApiHandlerResult>;

function jwtCaller(claims: Record<string, unknown>, authorization = JWT): Get {
  const handler = handlerFor(authorization);
  return (path, query = '') =>
    handler(httpApiEvent('GET', path, query, { authorization: 'Bearer eyJ...' }, claims));
}

function iamCaller(): Get {
  const handler = handlerFor({ kind: 'iam' });
  return (path, query = '') => handler(httpApiEvent('GET', path, query));
}

const body = (result: ApiHandlerResult) => JSON.parse(result.body) as Record<string, unknown>;

/** Every route that names B's mailbox or B's message, and what a caller without B must get. */
function routesToB(): Array<[string, string]> {
  const id = encodeMessageRef(inB);
  return [
    ['messages list', '/mailboxes/bob/messages'],
    ['messages list by sender', '/mailboxes/bob/messages?from=sender@example.com'],
    ['runs', '/mailboxes/bob/runs'],
    ['message', `/messages/${id}`],
    ['raw', `/messages/${id}/raw`],
    ['attachment', `/messages/${id}/attachments/0`],
    ['message in mailbox', `/mailboxes/bob/messages/${id}`],
    ['raw in mailbox', `/mailboxes/bob/messages/${id}/raw`],
    ['attachment in mailbox', `/mailboxes/bob/messages/${id}/attachments/0`],
    ['message by its id under A', `/mailboxes/alice/messages/${id}`],
    ['raw by its id under A', `/mailboxes/alice/messages/${id}/raw`],
    ['attachment by its id under A', `/mailboxes/alice/messages/${id}/attachments/0`],
  ];
}

/** The answer for the same route about a mailbox or message that does not exist. */
function missingTwin(path: string): string {
  const ghost = encodeMessageRef({ mailboxId: 'ghost', messageKey: 'none' });
  return path.replace(encodeMessageRef(inB), ghost).replace('/mailboxes/bob/', '/mailboxes/ghost/');
}

async function get(caller: Get, url: string) {
  const [path, query] = url.split('?') as [string, string | undefined];
  return caller(path, query);
}

/** Asserts the caller reads nothing of bob by any route, and that the answers reveal nothing. */
async function expectNothingOfB(caller: Get) {
  const readsBefore = store.reads.length;
  const linksBefore = rawLinks.length;
  for (const [what, url] of routesToB()) {
    const result = await get(caller, url);
    expect(result.statusCode, what).toBe(404);
    // Exactly what a mailbox or message that does not exist gets: existence is not revealed.
    const twin = await get(caller, missingTwin(url));
    expect(twin.statusCode, what).toBe(404);
    expect(result.body.replaceAll('bob', 'ghost'), what).toBe(twin.body);
  }
  const mailboxes = body(await caller('/mailboxes')) as { items: Array<{ mailboxId: string }> };
  expect(mailboxes.items.map((m) => m.mailboxId)).toEqual(['alice']);
  const shared = body(await caller('/messages', `messageId=${SHARED_MESSAGE_ID}`)) as {
    items: Array<{ mailboxId: string }>;
    truncated: boolean;
  };
  expect(shared.items.map((m) => m.mailboxId)).toEqual(['alice']);
  const bOnly = body(await caller('/messages', `messageId=${B_ONLY_MESSAGE_ID}`));
  expect(bOnly).toEqual({ items: [], truncated: false });
  // B's mail was never opened, and no link to it was signed.
  expect(store.reads.slice(readsBefore).filter((key) => key === inB.rawKey)).toEqual([]);
  expect(rawLinks.slice(linksBefore)).not.toContain(inB.rawKey);
}

/** The positive control: the same caller does read A, by every route. */
async function expectAllOfA(caller: Get) {
  const id = encodeMessageRef(inA);
  for (const url of [
    '/mailboxes/alice/messages',
    '/mailboxes/alice/runs',
    `/messages/${id}`,
    `/mailboxes/alice/messages/${id}`,
    `/messages/${id}/attachments/0`,
    `/mailboxes/alice/messages/${id}/attachments/0`,
  ]) {
    expect((await get(caller, url)).statusCode, url).toBe(200);
  }
  for (const url of [`/messages/${id}/raw`, `/mailboxes/alice/messages/${id}/raw`]) {
    const result = await get(caller, url);
    expect(result.statusCode, url).toBe(302);
    expect(result.headers.location).toContain(inA.rawKey);
  }
  const shared = body(await caller('/messages', `messageId=${SHARED_MESSAGE_ID}`)) as {
    items: Array<{ id: string }>;
  };
  expect(shared.items.map((m) => m.id)).toContain(encodeMessageRef(sharedInA));
}

describe('a JWT caller of mailbox A', () => {
  const claimForms: Array<[string, unknown]> = [
    ['a JSON array', ['alice']],
    ['a space-separated string', 'alice'],
    ['an array as API Gateway renders it', '[alice]'],
    ['an array as JSON text', '["alice"]'],
  ];

  it.each(claimForms)(
    'reads nothing of mailbox B by any route (claim as %s)',
    async (_form, claim) => {
      await expectNothingOfB(jwtCaller({ sub: 'u1', popvault_mailboxes: claim }));
    },
  );

  it.each(claimForms)(
    'still reads mailbox A by every route (claim as %s)',
    async (_form, claim) => {
      await expectAllOfA(jwtCaller({ sub: 'u1', popvault_mailboxes: claim }));
    },
  );

  it('a claim named in the config is the one read; the default claim name then grants nothing', async () => {
    const authorization = { ...JWT, mailboxesClaim: 'https://popvault.example/mailboxes' };
    await expectNothingOfB(
      jwtCaller(
        { 'https://popvault.example/mailboxes': 'alice', popvault_mailboxes: '*' },
        authorization,
      ),
    );
  });

  it('"*" grants every mailbox, and a list of two grants both', async () => {
    for (const claim of ['*', 'alice bob', '[alice bob]']) {
      const caller = jwtCaller({ popvault_mailboxes: claim });
      const mailboxes = body(await caller('/mailboxes')) as { items: Array<{ mailboxId: string }> };
      expect(
        mailboxes.items.map((m) => m.mailboxId),
        String(claim),
      ).toEqual(['alice', 'bob']);
      expect((await caller(`/messages/${encodeMessageRef(inB)}`)).statusCode).toBe(200);
    }
  });
});

describe('a JWT the app cannot read grants nothing', () => {
  it.each([
    ['without the mailboxes claim', { sub: 'u1' }, /no "popvault_mailboxes" claim/],
    [
      'with an entry that is not a mailbox id',
      { popvault_mailboxes: 'alice ../bob' },
      /not a list of mailbox ids/,
    ],
    [
      'with a claim that is an object',
      { popvault_mailboxes: '{"alice":true}' },
      /not a list of mailbox ids/,
    ],
  ])('a token %s is refused (403) on every route', async (_why, claims, message) => {
    const caller = jwtCaller(claims);
    for (const url of [
      '/mailboxes',
      '/mailboxes/alice/messages',
      ...routesToB().map(([, u]) => u),
    ]) {
      const result = await get(caller, url);
      expect(result.statusCode, url).toBe(403);
      expect(body(result), url).toMatchObject({
        error: { code: 'FORBIDDEN', message: expect.stringMatching(message) },
      });
      expect(result.headers['www-authenticate']).toContain('insufficient_scope');
    }
  });

  it('an event without verified claims (a route deployed without the authorizer) is refused', async () => {
    const handler = handlerFor(JWT);
    const result = await handler(httpApiEvent('GET', '/mailboxes'));
    expect(result.statusCode).toBe(403);
    expect(body(result)).toMatchObject({ error: { code: 'FORBIDDEN' } });
  });
});

describe('a JWT without the required scopes', () => {
  const scoped: ApiAuthorization = { ...JWT, requiredScopes: ['popvault.read', 'mail'] };

  it('is refused (403) naming the missing scope, even with a mailbox grant', async () => {
    for (const claims of [
      { popvault_mailboxes: '*' },
      { popvault_mailboxes: '*', scope: 'openid popvault.read' },
      { popvault_mailboxes: '*', scp: '[mail]' },
    ]) {
      const result = await jwtCaller(claims, scoped)('/mailboxes');
      expect(result.statusCode, JSON.stringify(claims)).toBe(403);
      expect(body(result)).toMatchObject({
        error: { code: 'FORBIDDEN', message: expect.stringMatching(/lacks the required scope/) },
      });
    }
  });

  it('with every required scope, in scope or scp, it reads its mailboxes', async () => {
    for (const claims of [
      { popvault_mailboxes: 'alice', scope: 'openid popvault.read mail' },
      { popvault_mailboxes: 'alice', scp: '[popvault.read mail]' },
      { popvault_mailboxes: 'alice', scope: 'mail', scp: ['popvault.read'] },
    ]) {
      const caller = jwtCaller(claims, scoped);
      expect((await caller('/mailboxes')).statusCode, JSON.stringify(claims)).toBe(200);
    }
    await expectNothingOfB(
      jwtCaller({ popvault_mailboxes: 'alice', scope: 'popvault.read mail' }, scoped),
    );
  });
});

describe('an IAM caller granted one mailbox path', () => {
  it('cannot read another mailbox through its own path with the other mailbox message id', async () => {
    // The IAM policy grants ".../GET/mailboxes/alice/*": only the app can see that the id inside
    // the path names a message of bob.
    const caller = iamCaller();
    const id = encodeMessageRef(inB);
    for (const suffix of ['', '/raw', '/attachments/0']) {
      const result = await caller(`/mailboxes/alice/messages/${id}${suffix}`);
      expect(result.statusCode, suffix).toBe(404);
      expect(body(result)).toEqual({
        error: { code: 'MESSAGE_NOT_FOUND', message: 'no message has this id' },
      });
    }
    expect(rawLinks).not.toContain(inB.rawKey);
  });

  it('reads its own mailbox through the mailbox-scoped routes', async () => {
    await expectAllOfA(iamCaller());
  });
});

describe('the local API (popvault serve)', () => {
  it("serves the archive's owner every mailbox, by the old and the mailbox-scoped routes", async () => {
    const token = 'a'.repeat(43);
    const app = createQueryApp({ index, store, auth: { bearerToken: token } });
    const headers = { authorization: `Bearer ${token}` };
    const mailboxes = (await (await app.request('/mailboxes', { headers })).json()) as {
      items: Array<{ mailboxId: string }>;
    };
    expect(mailboxes.items.map((m) => m.mailboxId)).toEqual(['alice', 'bob']);
    const id = encodeMessageRef(inB);
    for (const path of [
      `/messages/${id}`,
      `/mailboxes/bob/messages/${id}`,
      `/mailboxes/bob/messages/${id}/raw`,
    ]) {
      const res = await app.request(path, { headers });
      expect(res.status, path).toBe(200);
      await res.arrayBuffer();
    }
  });
});

describe('reading the mailboxes claim', () => {
  it('reads each documented form, and nothing else', () => {
    expect(claimEntries(['a', 'b'])).toEqual(['a', 'b']);
    expect(claimEntries('a b')).toEqual(['a', 'b']);
    expect(claimEntries('  a  b ')).toEqual(['a', 'b']);
    expect(claimEntries('[a b]')).toEqual(['a', 'b']);
    expect(claimEntries('["a","b"]')).toEqual(['a', 'b']);
    expect(claimEntries('a,b')).toEqual(['a', 'b']);
    expect(claimEntries('')).toEqual([]);
    expect(claimEntries(['a', 1])).toBeNull();
    expect(claimEntries(7)).toBeNull();
    expect(claimEntries('[a b')).toBeNull();
  });

  it('scopes are split on spaces only: a scope may hold a comma', () => {
    const config = { ...JWT, requiredScopes: ['mail,read'] };
    expect(jwtAccess({ popvault_mailboxes: '*', scope: 'mail,read' }, config)).toEqual({
      kind: 'all',
    });
    expect(() => jwtAccess({ popvault_mailboxes: '*', scope: 'mail read' }, config)).toThrow(
      /lacks the required scope mail,read/,
    );
  });

  it('an empty claim is a grant of no mailbox, not of all', () => {
    expect(jwtAccess({ popvault_mailboxes: '' }, JWT)).toEqual({
      kind: 'only',
      mailboxes: new Set(),
    });
    expect(jwtAccess({ popvault_mailboxes: [] }, JWT)).toEqual({
      kind: 'only',
      mailboxes: new Set(),
    });
  });
});
