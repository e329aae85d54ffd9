import { describe, expect, it } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { Pop3ServerError } from '../../functions/core/pop3/errors.js';
import type { Pop3Credentials } from '../../functions/core/pop3/login.js';
import { connect, expectPop3Error, scripted, scriptedOptions } from '../support/pop3-test-kit.js';
import type { Handler, ScriptedServer } from '../support/scripted-pop3-server.js';

const sendTrace = (traced: string[]) => (direction: 'send' | 'receive', line: string) => {
  if (direction === 'send') traced.push(line);
};

async function refusedLogin(
  server: ScriptedServer,
  credentials: Pop3Credentials,
): Promise<Pop3ServerError> {
  const err = await expectPop3Error(
    Pop3Client.connect(scriptedOptions(server, { credentials })),
    'AUTH_FAILED',
  );
  if (!(err instanceof Pop3ServerError)) throw new Error(`not a server error: ${err.message}`);
  return err;
}

describe('a login command answered by a plain -ERR is a credentials failure naming that command', () => {
  it('USER', async () => {
    const server = await scripted({ handlers: { USER: (ctx) => ctx.err('no such mailbox') } });
    const err = await refusedLogin(server, { user: 'alice', password: 'x', method: 'user' });
    expect(err.command).toBe('USER');
    expect(err.serverText).toBe('no such mailbox');
  });

  it('PASS', async () => {
    const server = await scripted({ handlers: { PASS: (ctx) => ctx.err('wrong') } });
    const err = await refusedLogin(server, { user: 'alice', password: 'x', method: 'user' });
    expect(err.command).toBe('PASS');
  });

  it('APOP', async () => {
    const server = await scripted({ handlers: { APOP: (ctx) => ctx.err('wrong') } });
    const err = await refusedLogin(server, { user: 'alice', password: 'x', method: 'apop' });
    expect(err.command).toBe('APOP');
  });

  it('AUTH', async () => {
    const server = await scripted({ handlers: { AUTH: (ctx) => ctx.err('wrong') } });
    const err = await refusedLogin(server, { user: 'alice', password: 'x', method: 'plain' });
    expect(err.command).toBe('AUTH');
  });
});

describe('what the trace shows of a login', () => {
  it('APOP shows the user but not the digest', async () => {
    const traced: string[] = [];
    const server = await scripted();
    await connect(
      scriptedOptions(server, {
        credentials: { user: 'alice', password: 'wonderland', method: 'apop' },
        trace: sendTrace(traced),
      }),
    );
    expect(traced).toContain('APOP alice ***');
  });

  it('a one-step AUTH shows the mechanism, with its response masked', async () => {
    const traced: string[] = [];
    const server = await scripted();
    await connect(scriptedOptions(server, { trace: sendTrace(traced) }));
    expect(traced).toContain('AUTH PLAIN ***');
  });

  it('a two-step AUTH shows the bare command, then a placeholder for the response', async () => {
    const traced: string[] = [];
    const password = 'p'.repeat(300);
    const server = await scripted({ users: { alice: password } });
    await connect(
      scriptedOptions(server, {
        credentials: { user: 'alice', password },
        trace: sendTrace(traced),
      }),
    );
    const auth = traced.indexOf('AUTH PLAIN');
    expect(auth).toBeGreaterThanOrEqual(0);
    expect(traced[auth + 1]).toBe('*** (SASL response)');
  });

  it('the empty line answering an error challenge is sent as such and traced by name', async () => {
    const traced: string[] = [];
    const server = await scripted({ tokens: { alice: 'right' } });
    await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice', accessToken: 'wrong-token' },
          trace: sendTrace(traced),
        }),
      ),
      'AUTH_FAILED',
    );
    expect(traced).toContain('(empty SASL response)');
    const commands = server.sessions[0]?.commands ?? [];
    const auth = commands.findIndex((c) => c.startsWith('AUTH XOAUTH2 '));
    expect(commands[auth + 1]).toBe('');
  });
});

describe('the initial response rides on the AUTH line only if the line fits in 255 octets', () => {
  // "AUTH XOAUTH2 " + base64 of "user=alice^Aauth=Bearer <token>^A^A" (25 octets + the token).
  it('a line of exactly 255 octets with CRLF goes in one step', async () => {
    const token = 't'.repeat(155); // 180 octets, 240 base64 characters: 253 + CRLF
    const server = await scripted({ tokens: { alice: token } });
    await connect(scriptedOptions(server, { credentials: { user: 'alice', accessToken: token } }));
    const commands = server.sessions[0]?.commands ?? [];
    const auth = commands.find((c) => c.startsWith('AUTH'));
    expect(auth?.length).toBe(253);
  });

  it('a line of 259 octets with CRLF goes in two steps', async () => {
    const token = 't'.repeat(156); // 181 octets, 244 base64 characters: 257 + CRLF
    const server = await scripted({ tokens: { alice: token } });
    await connect(scriptedOptions(server, { credentials: { user: 'alice', accessToken: token } }));
    const commands = server.sessions[0]?.commands ?? [];
    expect(commands).toContain('AUTH XOAUTH2');
    expect(commands.find((c) => c.startsWith('AUTH'))).toBe('AUTH XOAUTH2');
  });
});

/** AUTH answered by `rounds` continuations (each answered by the client), then +OK. */
function continuations(rounds: number, challenge = ''): Handler {
  return async (ctx) => {
    for (let i = 0; i < rounds; i++) {
      await ctx.session.writeLine(`+ ${challenge}`);
      if ((await ctx.readLine()) === null) return;
    }
    ctx.ok('Logged in.');
  };
}

describe('a SASL exchange the server drags out', () => {
  it('four continuations are followed to the end', async () => {
    const server = await scripted({ handlers: { AUTH: continuations(4) } });
    const client = await connect(scriptedOptions(server));
    expect(client.authMethod).toBe('plain');
  });

  it('a fifth continuation is a PROTOCOL_VIOLATION naming the mechanism and the limit', async () => {
    const server = await scripted({ handlers: { AUTH: continuations(50) } });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server)),
      'PROTOCOL_VIOLATION',
    );
    expect(err.message).toBe('the server kept the PLAIN exchange going past 4 rounds');
    await server.sessions[0]?.closed;
    const commands = server.sessions[0]?.commands ?? [];
    const auth = commands.findIndex((c) => c.startsWith('AUTH'));
    expect(commands.slice(auth + 1)).toEqual(['', '', '', '']);
  });

  it('a connection closed after a continuation fails naming the AUTH reply it was waiting for', async () => {
    const server = await scripted({
      handlers: {
        async AUTH(ctx) {
          await ctx.session.writeLine('+ ');
          await ctx.readLine();
          ctx.session.end();
        },
      },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server)),
      'UNEXPECTED_EOF',
    );
    expect(err.message).toContain('while a AUTH reply status line was expected');
  });
});

describe('the server text kept from a failed SASL exchange', () => {
  it('a two-step exchange refused after the response keeps only the final reply', async () => {
    const password = 'p'.repeat(300);
    const server = await scripted({ users: { alice: 'something else' } });
    const err = await refusedLogin(server, { user: 'alice', password });
    expect(err.serverText).toBe('[AUTH] Authentication failed.');
  });

  it('an error challenge is kept decoded, its control and non-ASCII characters shown as "?"', async () => {
    const challenge = Buffer.from('bad\ttoken\u0001é').toString('base64');
    const server = await scripted({
      handlers: {
        async AUTH(ctx) {
          await ctx.session.writeLine(`+ ${challenge}`);
          if ((await ctx.readLine()) === null) return;
          ctx.err('[AUTH] denied');
        },
      },
    });
    const err = await refusedLogin(server, { user: 'alice', password: 'wonderland' });
    expect(err.serverText).toBe('[AUTH] denied (bad?token??)');
  });
});
