import { describe, expect, it } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { Pop3AuthError, Pop3ServerError } from '../../functions/core/pop3/errors.js';
import { MAX_STATUS_LINE_OCTETS } from '../../functions/core/pop3/limits.js';
import { stuffBody } from '../support/dot-stuffing.js';
import {
  collect,
  connect,
  expectPop3Error,
  message,
  scripted,
  scriptedOptions,
} from '../support/pop3-test-kit.js';

/** Yields to the event loop until `seen()` reaches `count`: a server waiting on its own input. */
async function untilReceived(count: number, seen: () => number): Promise<void> {
  while (seen() < count) await new Promise((resolve) => setImmediate(resolve));
}

describe('framing faults', () => {
  it('a terminator split at every byte offset across server writes still ends each message exactly', async () => {
    const body = Buffer.from('Subject: dots\r\n\r\n.\r\n..x\r\nlast line\r\n');
    const wire = stuffBody(body);
    const count = wire.length - 1;
    const server = await scripted({
      messages: Array.from({ length: count }, (_, i) => ({ uid: `u${i + 1}`, body })),
      handlers: {
        // RETR n cuts its reply after n octets of the body, in two flushed writes.
        async RETR(ctx) {
          const cut = Number(ctx.args);
          await ctx.session.write(Buffer.concat([Buffer.from('+OK\r\n'), wire.subarray(0, cut)]));
          await ctx.session.write(wire.subarray(cut));
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    for (let n = 1; n <= count; n += 1) {
      expect((await collect(await client.retr(n))).equals(body)).toBe(true);
    }
    await client.quit();
  });

  it('a server that never greets fails with a greeting TIMEOUT and leaves no socket behind', async () => {
    const server = await scripted({ greeting: null });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { greetingTimeoutMs: 200 })),
      'TIMEOUT',
    );
    expect(err).toMatchObject({ phase: 'greeting' });
    const session = await server.nextSession();
    await session.closed;
  });

  it('a server that goes silent mid-RETR fails the body with TIMEOUT; nothing is deleted', async () => {
    const server = await scripted({
      messages: [
        message('a', 'Subject: a\r\n\r\nbody\r\n'),
        message('b', 'Subject: b\r\n\r\nbody\r\n'),
      ],
      handlers: {
        async RETR(ctx) {
          await ctx.session.write('+OK\r\nSubject: a\r\n\r\nhalf a mess');
        },
      },
    });
    const client = await connect(scriptedOptions(server, { idleTimeoutMs: 200 }));
    const dele = client.dele(2);
    await dele;
    const body = await client.retr(1);
    const next = client.noop();
    const bodyErr = await expectPop3Error(collect(body), 'TIMEOUT');
    expect(bodyErr).toMatchObject({ phase: 'reply' });
    await expectPop3Error(next, 'TIMEOUT');
    await expectPop3Error(client.quit(), 'TIMEOUT');
    const session = await server.nextSession();
    await session.closed;
    expect(session.commands).not.toContain('QUIT');
    expect(server.expunged).toEqual([]);
  });

  it('a server that closes mid-RETR fails the body with UNEXPECTED_EOF and every queued command too', async () => {
    const server = await scripted({
      messages: [message('a', 'Subject: a\r\n\r\nbody\r\n'), message('b', 'x\r\n')],
      handlers: {
        async RETR(ctx) {
          await ctx.session.write('+OK\r\nSubject: a\r\n\r\nhalf');
          ctx.session.destroy();
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    const many = client.retrieveMany([1, 2]);
    const first = await many.next();
    const body = first.value?.body;
    if (!body) throw new Error('expected a body for message 1');
    await expectPop3Error(collect(body), 'UNEXPECTED_EOF');
    await expectPop3Error(many.next(), 'UNEXPECTED_EOF');
    await expectPop3Error(client.stat(), 'UNEXPECTED_EOF');
  });

  it('an oversize status line is a PROTOCOL_VIOLATION, with or without a line end', async () => {
    for (const tail of ['', '\r\n']) {
      const server = await scripted({
        handlers: {
          async STAT(ctx) {
            await ctx.session.write(`+OK ${'9'.repeat(MAX_STATUS_LINE_OCTETS)}${tail}`);
          },
        },
      });
      const client = await connect(scriptedOptions(server));
      const err = await expectPop3Error(client.stat(), 'PROTOCOL_VIOLATION');
      expect(err.message).toContain('512');
    }
  });

  it('a status line of exactly 512 octets is accepted (the RFC limit includes CRLF)', async () => {
    const server = await scripted({
      handlers: {
        async NOOP(ctx) {
          await ctx.session.write(`+OK ${'x'.repeat(MAX_STATUS_LINE_OCTETS - 6)}\r\n`);
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    await client.noop();
  });

  it('garbage where a status line belongs is a PROTOCOL_VIOLATION that names what arrived', async () => {
    const server = await scripted({
      handlers: {
        async STAT(ctx) {
          await ctx.session.write('HTTP/1.1 400 Bad Request\r\n');
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    const err = await expectPop3Error(client.stat(), 'PROTOCOL_VIOLATION');
    expect(err.message).toContain('HTTP/1.1 400');
    await expectPop3Error(client.noop(), 'PROTOCOL_VIOLATION');
  });
});

describe('response codes', () => {
  const cases = [
    ['-ERR [IN-USE] Mailbox is locked by another session', 'IN_USE', true],
    ['-ERR [LOGIN-DELAY] Wait 300 seconds', 'LOGIN_DELAY', true],
    ['-ERR [SYS/TEMP] Storage backend unavailable', 'SYS_TEMP', true],
    ['-ERR [SYS/PERM] Mailbox is corrupt', 'SYS_PERM', false],
    ['-ERR [AUTH] Authentication failed.', 'AUTH_FAILED', false],
    ['-ERR invalid password', 'AUTH_FAILED', false],
    ['-ERR [UNKNOWN-CODE/SUB] nothing we know', 'AUTH_FAILED', false],
  ] as const;
  for (const [reply, code, temporary] of cases) {
    it(`PASS answered "${reply}" fails with ${code}, keeping the server's text`, async () => {
      const server = await scripted({
        handlers: {
          async PASS(ctx) {
            await ctx.session.writeLine(reply);
          },
        },
      });
      const err = await expectPop3Error(
        Pop3Client.connect(
          scriptedOptions(server, {
            credentials: { user: 'alice', password: 'wonderland', method: 'user' },
          }),
        ),
        code,
      );
      expect(err).toBeInstanceOf(Pop3ServerError);
      expect(err.temporary).toBe(temporary);
      expect((err as Pop3ServerError).serverText).toBe(reply.slice(5));
      expect(err instanceof Pop3AuthError).toBe(code === 'AUTH_FAILED');
    });
  }

  it('a -ERR to one RETR rejects only that command; the session goes on', async () => {
    const server = await scripted({
      messages: [message('a', 'A\r\n'), message('b', 'B\r\n'), message('c', 'C\r\n')],
      handlers: {
        async RETR(ctx) {
          if (ctx.args === '2') ctx.err('[SYS/TEMP] cannot read message 2 now');
          else await ctx.fallback();
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    const seen: string[] = [];
    for await (const item of client.retrieveMany([1, 2, 3])) {
      seen.push(item.body ? (await collect(item.body)).toString() : `error:${item.error.code}`);
    }
    expect(seen).toEqual(['A\r\n', 'error:SYS_TEMP', 'C\r\n']);
    await client.quit();
  });

  it('QUIT answered -ERR (some deletions failed) is reported, not swallowed', async () => {
    const server = await scripted({
      messages: [message('a', 'A\r\n')],
      handlers: {
        async QUIT(ctx) {
          await ctx.session.writeLine('-ERR [SYS/TEMP] some deleted messages not removed');
          ctx.session.end();
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    await client.dele(1);
    const err = await expectPop3Error(client.quit(), 'SYS_TEMP');
    expect((err as Pop3ServerError).command).toBe('QUIT');
  });
});

describe('pipelining', () => {
  it('keeps replies in order when the server answers slowly, with at most `window` commands in flight', async () => {
    const bodies = Array.from(
      { length: 30 },
      (_, i) => `Subject: ${i + 1}\r\n\r\n${'x'.repeat(i * 37)}\r\n`,
    );
    let maxInFlight = 0;
    let answered = 0;
    const window = 8;
    const server = await scripted({
      messages: bodies.map((b, i) => message(`u${i + 1}`, b)),
      handlers: {
        async RETR(ctx) {
          const session = ctx.session;
          const retrs = (): number => session.commands.filter((c) => c.startsWith('RETR')).length;
          // Hold the first reply until the client has filled its window: proof it did not wait.
          if (answered === 0) {
            await untilReceived(window, retrs);
          }
          maxInFlight = Math.max(maxInFlight, retrs() - answered);
          answered += 1;
          await ctx.fallback();
        },
      },
    });
    const client = await connect(scriptedOptions(server, { pipelineWindow: window }));
    expect(client.pipelining).toBe(true);
    const got: string[] = [];
    for await (const item of client.retrieveMany(bodies.map((_, i) => i + 1))) {
      if (!item.body) throw item.error;
      got.push((await collect(item.body)).toString());
    }
    expect(got).toEqual(bodies);
    expect(maxInFlight).toBe(window);
    await client.quit();
  });

  it('sends strictly one command at a time when the server does not advertise PIPELINING', async () => {
    let overlapped = 0;
    const server = await scripted({
      capabilities: ['UIDL', 'USER', 'TOP'],
      messages: Array.from({ length: 10 }, (_, i) => message(`u${i}`, `m${i}\r\n`)),
      handlers: {
        async RETR(ctx) {
          // Yield to the event loop so any command written early would be read before we answer.
          await new Promise((r) => setImmediate(r));
          if (ctx.session.commands[ctx.session.commands.length - 1] !== ctx.line) overlapped += 1;
          await ctx.fallback();
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    expect(client.pipelining).toBe(false);
    const got: string[] = [];
    for await (const item of client.retrieveMany(Array.from({ length: 10 }, (_, i) => i + 1))) {
      if (item.body) got.push((await collect(item.body)).toString());
    }
    expect(got).toHaveLength(10);
    expect(overlapped).toBe(0);
  });

  it('is off when asked, even if advertised', async () => {
    const server = await scripted();
    const client = await connect(scriptedOptions(server, { pipelining: false }));
    expect(client.capabilities.has('pipelining')).toBe(true);
    expect(client.pipelining).toBe(false);
  });

  it('picks up PIPELINING announced only after login (Gmail style)', async () => {
    const server = await scripted({
      capabilities: ['USER', 'UIDL'],
      capabilitiesAfterLogin: ['USER', 'UIDL', 'TOP', 'PIPELINING'],
    });
    const client = await connect(scriptedOptions(server));
    expect(client.pipelining).toBe(true);
    expect(client.capabilities.has('TOP')).toBe(true);
  });

  it('never pipelines QUIT behind a DELE: QUIT is written only after every reply is in', async () => {
    const server = await scripted({
      messages: [message('a', 'A\r\n'), message('b', 'B\r\n')],
      handlers: {
        async DELE(ctx) {
          await new Promise((r) => setImmediate(r));
          expect(ctx.session.commands).not.toContain('QUIT');
          await ctx.fallback();
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    const deletes = [client.dele(1), client.dele(2)];
    const quit = client.quit();
    await Promise.all([...deletes, quit]);
    expect(server.expunged).toEqual(['a', 'b']);
  });

  it('a body destroyed half-read is drained, so the next reply still lines up', async () => {
    const big = `Subject: big\r\n\r\n${'y'.repeat(2_000_000)}\r\n`;
    const server = await scripted({
      messages: [message('big', big), message('small', 'small\r\n')],
    });
    const client = await connect(scriptedOptions(server));
    const body = await client.retr(1);
    const first = await new Promise<Buffer>((resolve) => body.once('data', resolve));
    expect(first.length).toBeGreaterThan(0);
    body.destroy();
    expect((await collect(await client.retr(2))).toString()).toBe('small\r\n');
  });
});

describe('STLS', () => {
  it('refuses to go on in cleartext when STLS is not offered: no credentials are sent', async () => {
    const server = await scripted();
    await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { tls: 'starttls' })),
      'STLS_UNAVAILABLE',
    );
    const session = await server.nextSession();
    await session.closed;
    expect(
      session.commands.some(
        (c) => c.startsWith('USER') || c.startsWith('PASS') || c.startsWith('AUTH'),
      ),
    ).toBe(false);
  });

  it('refuses to go on in cleartext when the server answers STLS with -ERR', async () => {
    const server = await scripted({
      capabilities: ['USER', 'STLS'],
      handlers: {
        STLS(ctx) {
          ctx.err('TLS not available right now');
        },
      },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { tls: 'starttls' })),
      'STLS_UNAVAILABLE',
    );
    expect(err.message).toContain('TLS not available right now');
    const session = await server.nextSession();
    await session.closed;
    expect(session.commands).not.toContain('PASS wonderland');
  });

  it('rejects replies injected between "+OK" to STLS and the handshake (STARTTLS response injection)', async () => {
    const server = await scripted({
      capabilities: ['USER', 'STLS'],
      handlers: {
        async STLS(ctx) {
          await ctx.session.write('+OK Begin TLS\r\n+OK injected: you are logged in\r\n');
        },
      },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { tls: 'starttls' })),
      'PROTOCOL_VIOLATION',
    );
    expect(err.message).toContain('injection');
  });
});

describe('authentication', () => {
  const longToken = `eyJ0eXAiOiJKV1Qi.${'A'.repeat(1500)}.sig`;

  it('SASL PLAIN asked of a server without it (GNU Mailutils) is CAPABILITY_MISSING before AUTH is sent, not a credentials failure', async () => {
    const server = await scripted({ capabilities: ['TOP', 'UIDL', 'USER'] });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice', password: 'wonderland', method: 'plain' },
        }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toContain('use method "user"');
    const session = await server.nextSession();
    expect(session.commands.some((c) => c.startsWith('AUTH'))).toBe(false);
  });

  it('XOAUTH2 with a Microsoft-sized token goes two-step: "AUTH XOAUTH2", "+ ", then the response', async () => {
    const server = await scripted({ tokens: { 'alice@example.com': longToken } });
    const client = await connect(
      scriptedOptions(server, {
        credentials: { user: 'alice@example.com', accessToken: longToken },
      }),
    );
    expect(client.authMethod).toBe('xoauth2');
    const session = await server.nextSession();
    const authAt = session.commands.indexOf('AUTH XOAUTH2');
    expect(authAt).toBeGreaterThanOrEqual(0);
    const response = Buffer.from(session.commands[authAt + 1] ?? '', 'base64').toString();
    expect(response).toBe(`user=alice@example.com\u0001auth=Bearer ${longToken}\u0001\u0001`);
  });

  it('XOAUTH2 with a short token goes one-step (initial response on the AUTH line)', async () => {
    const server = await scripted({ tokens: { bob: 'short-token' } });
    await connect(
      scriptedOptions(server, { credentials: { user: 'bob', accessToken: 'short-token' } }),
    );
    const session = await server.nextSession();
    const auth = session.commands.find((c) => c.startsWith('AUTH XOAUTH2 '));
    expect(auth).toBeDefined();
  });

  it('a rejected token fails with AUTH_FAILED carrying the server error JSON, never the token', async () => {
    const traced: string[] = [];
    const server = await scripted({ tokens: { 'alice@example.com': 'the-right-token' } });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice@example.com', accessToken: longToken },
          trace: (dir, line) => traced.push(`${dir} ${line}`),
        }),
      ),
      'AUTH_FAILED',
    );
    expect(err.message).toContain('"status":"401"');
    const everything = [err.message, JSON.stringify(err), String(err.stack), ...traced].join('\n');
    expect(everything).not.toContain(longToken.slice(20, 60));
    expect(everything).not.toContain(
      Buffer.from(`auth=Bearer ${longToken}`).toString('base64').slice(0, 40),
    );
  });

  it('SASL PLAIN is chosen automatically when offered, and the password never reaches a trace or error', async () => {
    const traced: string[] = [];
    const server = await scripted({ users: { alice: 'correct horse battery' } });
    const client = await connect(
      scriptedOptions(server, {
        credentials: { user: 'alice', password: 'correct horse battery' },
        trace: (dir, line) => traced.push(`${dir} ${line}`),
      }),
    );
    expect(client.authMethod).toBe('plain');
    const bad = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice', password: 'wrong horse battery', method: 'user' },
          trace: (dir, line) => traced.push(`${dir} ${line}`),
        }),
      ),
      'AUTH_FAILED',
    );
    const everything = [bad.message, JSON.stringify(bad), ...traced].join('\n');
    expect(everything).not.toContain('horse battery');
    expect(everything).not.toContain(
      Buffer.from('\0alice\0correct horse battery').toString('base64'),
    );
    expect(traced).toContain('send PASS ***');
  });

  it('APOP sends the MD5 of the greeting timestamp and the secret', async () => {
    const server = await scripted();
    const client = await connect(
      scriptedOptions(server, {
        credentials: { user: 'alice', password: 'wonderland', method: 'apop' },
      }),
    );
    expect(client.authMethod).toBe('apop');
  });

  it('falls back to USER/PASS when the server has no CAPA at all', async () => {
    const server = await scripted({
      handlers: {
        CAPA(ctx) {
          ctx.err('unknown command');
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    expect(client.capabilities.supported).toBe(false);
    expect(client.authMethod).toBe('user');
  });

  it('refuses a user name with a line break before anything is sent (command injection)', async () => {
    const server = await scripted();
    await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: 'alice\r\nDELE 1', password: 'x' } }),
      ),
      'INVALID_ARGUMENT',
    );
    expect(server.sessions).toHaveLength(0);
  });

  it('refuses a command over 255 octets instead of sending it', async () => {
    const server = await scripted();
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'u'.repeat(300), password: 'x', method: 'user' },
        }),
      ),
      'INVALID_ARGUMENT',
    );
    expect(err.message).toContain('255');
  });
});

describe('listings from odd servers', () => {
  it('accepts UIDLs with "/", "..", "%", 8-bit bytes, long ids and padded separators', async () => {
    const uids = ['../../etc/passwd', 'a%2Fb', 'x'.repeat(120), 'caf\u00e9-8bit', '1/2/3'];
    const server = await scripted({
      messages: uids.map((uid, i) => message(uid, `m${i}\r\n`)),
      handlers: {
        async UIDL(ctx) {
          const lines = uids.map((uid, i) => `${i + 1}   ${uid}`).join('\r\n');
          await ctx.session.write(
            Buffer.concat([Buffer.from('+OK\r\n'), Buffer.from(`${lines}\r\n.\r\n`, 'latin1')]),
          );
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    expect((await client.uidl()).map((u) => u.uid)).toEqual(uids);
  });

  it('rejects a UIDL holding a control character as a PROTOCOL_VIOLATION', async () => {
    const server = await scripted({
      handlers: {
        async UIDL(ctx) {
          await ctx.session.write('+OK\r\n1 abc\u0007def\r\n.\r\n');
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    await expectPop3Error(client.uidl(), 'PROTOCOL_VIOLATION');
  });

  it('parses STAT, LIST and UIDL against the mailbox, including an empty one', async () => {
    const server = await scripted({
      messages: [message('one', 'abc\r\n'), message('two', 'defgh\r\n')],
    });
    const client = await connect(scriptedOptions(server));
    expect(await client.stat()).toEqual({ count: 2, octets: 12 });
    expect(await client.list()).toEqual([
      { msg: 1, octets: 5 },
      { msg: 2, octets: 7 },
    ]);
    expect(await client.uidlOne(2)).toEqual({ msg: 2, uid: 'two' });
    expect(await client.listOne(1)).toEqual({ msg: 1, octets: 5 });
    await client.dele(1);
    await client.dele(2);
    expect(await client.uidl()).toEqual([]);
    expect(await client.list()).toEqual([]);
  });

  it('TOP returns the headers and the requested number of body lines', async () => {
    const server = await scripted({
      messages: [message('a', 'Subject: t\r\n\r\nl1\r\nl2\r\nl3\r\n')],
    });
    const client = await connect(scriptedOptions(server));
    expect((await collect(await client.top(1, 1))).toString()).toBe('Subject: t\r\n\r\nl1\r\n');
  });
});

describe('deadline and teardown', () => {
  it('a session deadline mid-transfer drops the connection without QUIT: nothing marked is deleted', async () => {
    let release: () => void = () => {};
    const stalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = await scripted({
      messages: [message('a', 'A\r\n'), message('b', 'B\r\n')],
      handlers: {
        async RETR(ctx) {
          await stalled;
          await ctx.fallback();
        },
      },
    });
    const client = await connect(
      scriptedOptions(server, { deadline: Date.now() + 400, idleTimeoutMs: 60_000 }),
    );
    await client.dele(1);
    const err = await expectPop3Error(client.retr(2), 'TIMEOUT');
    expect(err).toMatchObject({ phase: 'deadline' });
    release();
    await expectPop3Error(client.quit(), 'TIMEOUT');
    const session = await server.nextSession();
    await session.closed;
    expect(session.commands).not.toContain('QUIT');
    expect(server.expunged).toEqual([]);
  });

  it('close() without QUIT deletes nothing and rejects later commands with SESSION_CLOSED', async () => {
    const server = await scripted({ messages: [message('a', 'A\r\n')] });
    const client = await connect(scriptedOptions(server));
    await client.dele(1);
    client.close();
    await expectPop3Error(client.stat(), 'SESSION_CLOSED');
    const session = await server.nextSession();
    await session.closed;
    expect(server.expunged).toEqual([]);
  });

  it('a dropped connection leaves no sockets or timers open', async () => {
    const ours = (): number =>
      process
        .getActiveResourcesInfo()
        .filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap' || r === 'Timeout').length;
    const before = ours();
    const server = await scripted({
      messages: [message('a', 'A\r\n')],
      handlers: {
        RETR(ctx) {
          ctx.session.destroy();
        },
      },
    });
    // A far deadline arms a timer that must be cleared on failure, not left to fire in ten minutes.
    const client = await Pop3Client.connect(
      scriptedOptions(server, { deadline: Date.now() + 600_000 }),
    );
    await expectPop3Error(client.retr(1), 'UNEXPECTED_EOF');
    await server.close();
    // libuv closes handles in the close phase of a later loop turn; a leak never goes away.
    for (let turn = 0; turn < 20 && ours() > before; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(ours()).toBeLessThanOrEqual(before);
  });
});
