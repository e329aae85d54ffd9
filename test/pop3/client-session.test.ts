/**
 * A client session from greeting to failure against the scripted server: the greeting it accepts,
 * the capabilities it keeps, the deadline, what an error says was expected when the connection
 * ended, and that the first failure stays the session's failure.
 */
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { Pop3ServerError, Pop3TimeoutError } from '../../functions/core/pop3/errors.js';
import {
  connect,
  expectPop3Error,
  message,
  scripted,
  scriptedOptions,
} from '../support/pop3-test-kit.js';

describe('greeting', () => {
  it('a -ERR greeting fails the connect as COMMAND_FAILED naming the greeting', async () => {
    const server = await scripted({ greeting: '-ERR go away' });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server)),
      'COMMAND_FAILED',
    );
    expect(err).toBeInstanceOf(Pop3ServerError);
    expect(err).toMatchObject({ command: 'greeting', serverText: 'go away' });
    expect(err.message).toBe('POP3 greeting failed: go away (COMMAND_FAILED)');
  });

  it("keeps the greeting's text, without its +OK", async () => {
    const server = await scripted({ greeting: '+OK hello <1.2@test>' });
    const client = await connect(scriptedOptions(server));
    expect(client.greeting).toBe('hello <1.2@test>');
  });

  it('a SASL continuation ("+ ") where the greeting belongs is a PROTOCOL_VIOLATION', async () => {
    const server = await scripted({ greeting: '+ hello' });
    await expectPop3Error(Pop3Client.connect(scriptedOptions(server)), 'PROTOCOL_VIOLATION');
  });
});

describe('capabilities after login', () => {
  it('a CAPA refused after login keeps the capabilities read before it', async () => {
    const server = await scripted({
      handlers: {
        CAPA: (ctx) => (ctx.session.authenticated ? ctx.err('not now') : ctx.fallback()),
      },
    });
    const client = await connect(scriptedOptions(server));
    expect(client.capabilities.has('UIDL')).toBe(true);
    expect(client.pipelining).toBe(true);
  });

  it('a connection dropped at the CAPA after login fails the connect, naming the CAPA', async () => {
    const server = await scripted({
      handlers: {
        CAPA: (ctx) => (ctx.session.authenticated ? ctx.session.end() : ctx.fallback()),
      },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server)),
      'UNEXPECTED_EOF',
    );
    expect(err.message).toBe(
      'the server closed the connection while a CAPA status line was expected',
    );
  });
});

describe('deadline', () => {
  it('a deadline already past fails the connect as a deadline TIMEOUT and leaves no connection open', async () => {
    const server = await scripted();
    const deadline = Date.now() - 60_000;
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { deadline })),
      'TIMEOUT',
    );
    expect(err).toBeInstanceOf(Pop3TimeoutError);
    expect(err).toMatchObject({ phase: 'deadline' });
    expect(err.message).toBe(
      `the session deadline ${new Date(deadline).toISOString()} passed; the connection was dropped without QUIT, so nothing was deleted`,
    );
    for (const session of server.sessions) await session.closed;
  });

  // The connect timeout is far beyond the test's own timeout: were the handshake left to run until it,
  // the test would time out instead of seeing the deadline and the server's end of the connection close.
  const NEVER_MS = 3_600_000;

  /** Accepts TCP, plays `script` (reply per command line), then stays silent: a handshake never answered. */
  async function handshakeNeverAnswered(script: Record<string, string> = {}) {
    const closed: Promise<unknown>[] = [];
    const silent = net.createServer((socket) => {
      socket.on('error', () => {});
      closed.push(once(socket, 'close'));
      if (Object.keys(script).length > 0) socket.write('+OK ready\r\n');
      socket.on('data', (chunk) => {
        const reply = script[chunk.toString('latin1').trim().toUpperCase()];
        if (reply !== undefined) socket.write(reply);
      });
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    return { port: (silent.address() as net.AddressInfo).port, closed, server: silent };
  }

  const STLS_OFFERED = { CAPA: '+OK\r\nSTLS\r\nUSER\r\n.\r\n', STLS: '+OK begin TLS\r\n' };
  it.each([
    ['the implicit-TLS handshake', 'implicit', {}, 100],
    ['the handshake after STLS', 'starttls', STLS_OFFERED, 300],
  ] as const)(
    'a deadline passing during %s ends it at once: reported as the deadline, the connection closed',
    async (_what, tls, script, deadlineInMs) => {
      const { port, closed, server } = await handshakeNeverAnswered(script);
      try {
        const err = await expectPop3Error(
          Pop3Client.connect({
            host: '127.0.0.1',
            port,
            tls,
            credentials: { user: 'alice', password: 'wonderland' },
            connectTimeoutMs: NEVER_MS,
            deadline: Date.now() + deadlineInMs,
          }),
          'TIMEOUT',
        );
        expect(err).toMatchObject({ phase: 'deadline' });
        expect(closed).toHaveLength(1);
        await Promise.all(closed);
      } finally {
        server.close();
      }
    },
  );
});

describe('what a failure says was expected', () => {
  it('the end of the connection before a listing starts, or in its middle, names the listing', async () => {
    const replies = ['+OK\r\n', '+OK\r\n1 100\r\n'];
    const server = await scripted({
      handlers: {
        async LIST(ctx) {
          await ctx.session.write(replies.shift() ?? '');
          ctx.session.end();
        },
      },
    });
    for (let i = 0; i < 2; i += 1) {
      const client = await connect(scriptedOptions(server));
      const err = await expectPop3Error(client.list(), 'UNEXPECTED_EOF');
      expect(err.message).toBe(
        'the server closed the connection while a LIST listing was expected',
      );
    }
  });

  it('a reply that stalls mid-body is a TIMEOUT naming the body and the idle time', async () => {
    const server = await scripted({
      messages: [message('a', 'Subject: a\r\n\r\nbody\r\n')],
      handlers: { RETR: (ctx) => ctx.session.write('+OK\r\nSubject: a\r\n') },
    });
    const client = await connect(scriptedOptions(server, { idleTimeoutMs: 200 }));
    const body = await client.retr(1);
    const chunks: Buffer[] = [];
    body.on('data', (chunk: Buffer) => chunks.push(chunk));
    const [err] = (await once(body, 'error')) as [Error];
    expect(err).toMatchObject({ code: 'TIMEOUT', phase: 'reply' });
    expect(err.message).toBe(
      'the POP3 server sent nothing for 200 ms while a RETR body was expected',
    );
  });
});

describe('after a failure', () => {
  it('no QUIT is written behind a command that failed the session, not even to the trace', async () => {
    const trace: Array<[string, string]> = [];
    const server = await scripted({
      messages: [message('a', 'A\r\n')],
      handlers: { DELE: (ctx) => ctx.session.destroy() },
    });
    const client = await connect(
      scriptedOptions(server, { trace: (direction, line) => trace.push([direction, line]) }),
    );
    expect(client.pipelining).toBe(true);
    const dele = client.dele(1);
    const quit = client.quit();
    await expectPop3Error(dele, 'UNEXPECTED_EOF');
    await expectPop3Error(quit, 'UNEXPECTED_EOF');
    expect(trace).toContainEqual(['send', 'DELE 1']);
    expect(trace).not.toContainEqual(['send', 'QUIT']);
    expect(server.expunged).toEqual([]);
  });

  it('the first failure stays the reason: close() afterwards does not turn it into SESSION_CLOSED', async () => {
    const server = await scripted({ handlers: { NOOP: (ctx) => ctx.session.destroy() } });
    const client = await connect(scriptedOptions(server));
    const first = await expectPop3Error(client.noop(), 'UNEXPECTED_EOF');
    client.close();
    expect(await expectPop3Error(client.stat(), 'UNEXPECTED_EOF')).toBe(first);
  });

  it('the trace shows the lines received as well as those sent', async () => {
    const trace: Array<[string, string]> = [];
    const server = await scripted();
    const client = await connect(
      scriptedOptions(server, { trace: (direction, line) => trace.push([direction, line]) }),
    );
    await client.noop();
    expect(trace[0]?.[0]).toBe('receive');
    expect(trace[0]?.[1]).toMatch(/^\+OK scripted POP3 ready/);
    expect(trace.slice(-2)).toEqual([
      ['send', 'NOOP'],
      ['receive', '+OK'],
    ]);
  });
});
