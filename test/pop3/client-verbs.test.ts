/**
 * The client's public verbs against the scripted server: the arguments each refuses before anything
 * is sent, the command each names when the server answers -ERR, the strict listings, how far
 * retrieveMany reads ahead, and what a session refuses once it has ended.
 */
import { describe, expect, it } from 'vitest';
import type { Pop3Client } from '../../functions/core/pop3/client.js';
import { Pop3ServerError } from '../../functions/core/pop3/errors.js';
import {
  collect,
  connect,
  expectPop3Error,
  message,
  scripted,
  scriptedOptions,
} from '../support/pop3-test-kit.js';
import type { Handler } from '../support/scripted-pop3-server.js';

/** Runs `call` so that a synchronous throw and a rejection both come back as a rejection. */
function attempt(call: () => Promise<unknown>): Promise<unknown> {
  return (async () => call())();
}

const mailbox = [
  message('a', 'Subject: a\r\n\r\nfirst\r\n'),
  message('b', 'Subject: b\r\n\r\nsecond\r\n'),
  message('c', 'Subject: c\r\n\r\nthird\r\n'),
];

describe('arguments refused before anything is sent', () => {
  const numbered: Array<[string, (client: Pop3Client, msg: number) => Promise<unknown>]> = [
    ['RETR', (client, msg) => client.retr(msg)],
    ['TOP', (client, msg) => client.top(msg, 0)],
    ['LIST', (client, msg) => client.listOne(msg)],
    ['UIDL', (client, msg) => client.uidlOne(msg)],
    ['DELE', (client, msg) => client.dele(msg)],
  ];

  for (const [verb, call] of numbered) {
    it(`${verb} refuses a message number that is zero, negative or not an integer`, async () => {
      const server = await scripted({ messages: mailbox });
      const client = await connect(scriptedOptions(server));
      for (const bad of [0, -1, 1.5, Number.NaN]) {
        const err = await expectPop3Error(
          attempt(() => call(client, bad)),
          'INVALID_ARGUMENT',
        );
        expect(err.message).toBe(`message number must be a positive integer, got ${bad}`);
      }
      await client.noop();
      const session = await server.nextSession();
      expect(session.commands.filter((line) => line.startsWith(verb))).toEqual([]);
    });
  }

  it('TOP refuses a negative or fractional line count, and sends a count of zero', async () => {
    const server = await scripted({ messages: mailbox });
    const client = await connect(scriptedOptions(server));
    for (const bad of [-1, 1.5]) {
      const err = await expectPop3Error(
        attempt(() => client.top(1, bad)),
        'INVALID_ARGUMENT',
      );
      expect(err.message).toBe(`TOP line count must be >= 0, got ${bad}`);
    }
    expect((await collect(await client.top(1, 0))).toString()).toBe('Subject: a\r\n\r\n');
    const session = await server.nextSession();
    expect(session.commands.filter((line) => line.startsWith('TOP'))).toEqual(['TOP 1 0']);
  });

  it('a user name with a line break is refused, and the error says it was the user name', async () => {
    const server = await scripted();
    const err = await expectPop3Error(
      attempt(() =>
        connect(scriptedOptions(server, { credentials: { user: 'a\r\nDELE 1', password: 'x' } })),
      ),
      'INVALID_ARGUMENT',
    );
    expect(err.message).toMatch(/^the user name contains a line break/);
  });
});

describe('a -ERR names the command it answered', () => {
  const refuse: Handler = (ctx) => ctx.err('not today');
  const verbs = ['STAT', 'LIST', 'UIDL', 'RETR', 'TOP', 'DELE', 'RSET', 'NOOP'];
  const calls: Array<[string, (client: Pop3Client) => Promise<unknown>]> = [
    ['STAT', (client) => client.stat()],
    ['LIST', (client) => client.list()],
    ['LIST', (client) => client.scanListing()],
    ['LIST', (client) => client.listOne(1)],
    ['UIDL', (client) => client.uidl()],
    ['UIDL', (client) => client.uidListing()],
    ['UIDL', (client) => client.uidlOne(1)],
    ['RETR', (client) => client.retr(1)],
    ['TOP', (client) => client.top(1, 3)],
    ['DELE', (client) => client.dele(1)],
    ['RSET', (client) => client.rset()],
    ['NOOP', (client) => client.noop()],
  ];

  it('each verb rejects with COMMAND_FAILED naming itself and keeping the server text', async () => {
    const server = await scripted({
      messages: mailbox,
      handlers: Object.fromEntries(verbs.map((verb) => [verb, refuse])),
    });
    const client = await connect(scriptedOptions(server));
    for (const [verb, call] of calls) {
      const err = await expectPop3Error(call(client), 'COMMAND_FAILED');
      expect(err).toBeInstanceOf(Pop3ServerError);
      expect(err).toMatchObject({ command: verb, serverText: 'not today' });
      expect(err.message).toBe(`POP3 ${verb} failed: not today (COMMAND_FAILED)`);
    }
  });

  it('a bare -ERR is reported as "-ERR", not as an empty text', async () => {
    const server = await scripted({
      handlers: { NOOP: (ctx) => ctx.session.writeLine('-ERR') },
    });
    const client = await connect(scriptedOptions(server));
    const err = await expectPop3Error(client.noop(), 'COMMAND_FAILED');
    expect(err.message).toBe('POP3 NOOP failed: -ERR (COMMAND_FAILED)');
  });

  it('a response code with a sub-code ([SYS/TEMP/DISK], [IN-USE/LOCK]) maps to its family', async () => {
    const replies = ['[SYS/TEMP/DISK] disk full', '[IN-USE/LOCK] locked'];
    const server = await scripted({
      handlers: { NOOP: (ctx) => ctx.err(replies.shift() ?? '') },
    });
    const client = await connect(scriptedOptions(server));
    const temp = await expectPop3Error(client.noop(), 'SYS_TEMP');
    expect(temp).toMatchObject({ responseCode: 'SYS/TEMP/DISK' });
    const inUse = await expectPop3Error(client.noop(), 'IN_USE');
    expect(inUse).toMatchObject({ responseCode: 'IN-USE/LOCK' });
  });
});

describe('strict listings', () => {
  const malformed: Handler = (ctx) => ctx.session.write(`+OK\r\n1 100\r\nbogus\r\n2 zz\r\n.\r\n`);

  it('a malformed LIST or UIDL line is a PROTOCOL_VIOLATION quoting the first and counting all', async () => {
    const server = await scripted({ handlers: { LIST: malformed, UIDL: malformed } });
    const client = await connect(scriptedOptions(server));
    const list = await expectPop3Error(client.list(), 'PROTOCOL_VIOLATION');
    expect(list.message).toBe('the server sent a malformed LIST line: "bogus" (2 in all)');
    const uidl = await expectPop3Error(client.uidl(), 'PROTOCOL_VIOLATION');
    expect(uidl.message).toBe('the server sent a malformed UIDL line: "bogus" (1 in all)');
  });

  it('a listing over the entry cap is a PROTOCOL_VIOLATION giving its size and the cap', async () => {
    const server = await scripted({ messages: mailbox });
    const client = await connect(scriptedOptions(server, { maxListingEntries: 2 }));
    const list = await expectPop3Error(client.list(), 'PROTOCOL_VIOLATION');
    expect(list.message).toBe('the LIST listing has 3 entries, over the cap of 2');
    const uidl = await expectPop3Error(client.uidl(), 'PROTOCOL_VIOLATION');
    expect(uidl.message).toBe('the UIDL listing has 3 entries, over the cap of 2');
    // As it came, the listing keeps what fits and counts the rest.
    expect(await client.scanListing()).toMatchObject({ dropped: 1 });
  });

  it('a listing exactly at the cap is whole', async () => {
    const server = await scripted({ messages: mailbox });
    const client = await connect(scriptedOptions(server, { maxListingEntries: 3 }));
    expect((await client.list()).map((entry) => entry.msg)).toEqual([1, 2, 3]);
  });
});

describe('ordering', () => {
  it('RSET waits for every earlier reply: it is never pipelined behind a DELE', async () => {
    const seenAtDele: boolean[] = [];
    const server = await scripted({
      messages: mailbox,
      handlers: {
        async DELE(ctx) {
          await new Promise((resolve) => setImmediate(resolve));
          seenAtDele.push(ctx.session.commands.includes('RSET'));
          await ctx.fallback();
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    expect(client.pipelining).toBe(true);
    await Promise.all([client.dele(1), client.dele(2), client.rset()]);
    expect(seenAtDele).toEqual([false, false]);
  });

  it('retrieveMany without pipelining keeps one RETR ahead: a caller that stops after one leaves one more read', async () => {
    const server = await scripted({ messages: mailbox });
    const client = await connect(scriptedOptions(server, { pipelining: false }));
    for await (const result of client.retrieveMany([1, 2, 3])) {
      expect(result.msg).toBe(1);
      expect((await collect(result.body as NonNullable<typeof result.body>)).toString()).toContain(
        'first',
      );
      break;
    }
    await client.quit();
    const session = await server.nextSession();
    expect(session.commands.filter((line) => line.startsWith('RETR'))).toEqual([
      'RETR 1',
      'RETR 2',
    ]);
  });
});

describe('an ended session', () => {
  it('after QUIT, a command is refused as SESSION_CLOSED saying QUIT was sent', async () => {
    const server = await scripted();
    const client = await connect(scriptedOptions(server));
    await client.quit();
    const err = await expectPop3Error(client.noop(), 'SESSION_CLOSED');
    expect(err.message).toBe('the POP3 session has ended (QUIT sent)');
  });

  it('after close(), a command is refused as SESSION_CLOSED saying nothing was deleted', async () => {
    const server = await scripted();
    const client = await connect(scriptedOptions(server));
    client.close();
    const err = await expectPop3Error(client.noop(), 'SESSION_CLOSED');
    expect(err.message).toBe('the POP3 session was closed without QUIT; nothing was deleted');
  });
});
