import { describe, expect, it } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import type { Pop3Credentials } from '../../functions/core/pop3/login.js';
import { connect, expectPop3Error, scripted, scriptedOptions } from '../support/pop3-test-kit.js';

/** The default scripted greeting carries this APOP timestamp. */
const NO_TIMESTAMP_GREETING = '+OK scripted POP3 ready';

function sentAnyOf(commands: readonly string[] | undefined, verbs: string[]): boolean {
  return (commands ?? []).some((c) =>
    verbs.some((v) => c.toUpperCase().startsWith(v.toUpperCase())),
  );
}

describe('the login mechanism chosen from what the server offers', () => {
  it('a server listing USER but no SASL PLAIN gets USER/PASS, even when its greeting offers APOP', async () => {
    const server = await scripted({ capabilities: ['UIDL', 'USER'] });
    const client = await connect(scriptedOptions(server));
    expect(client.authMethod).toBe('user');
    expect(server.sessions[0]?.commands).toContain('USER alice');
  });

  it('a server listing neither USER nor SASL PLAIN, with an APOP timestamp, gets APOP', async () => {
    const server = await scripted({ capabilities: ['UIDL', 'TOP'] });
    const client = await connect(scriptedOptions(server));
    expect(client.authMethod).toBe('apop');
    expect(sentAnyOf(server.sessions[0]?.commands, ['APOP alice '])).toBe(true);
    expect(sentAnyOf(server.sessions[0]?.commands, ['USER', 'PASS'])).toBe(false);
  });

  it('a server listing neither USER, SASL PLAIN nor an APOP timestamp is still tried with USER', async () => {
    const server = await scripted({
      capabilities: ['UIDL', 'TOP'],
      greeting: NO_TIMESTAMP_GREETING,
    });
    const err = await expectPop3Error(Pop3Client.connect(scriptedOptions(server)), 'AUTH_FAILED');
    expect(err.message).toContain('USER not supported');
    expect(server.sessions[0]?.commands).toContain('USER alice');
    expect(sentAnyOf(server.sessions[0]?.commands, ['APOP'])).toBe(false);
  });

  it('method "apop" logs in with APOP, never with SASL, even where SASL PLAIN is offered', async () => {
    const server = await scripted();
    const client = await connect(
      scriptedOptions(server, {
        credentials: { user: 'alice', password: 'wonderland', method: 'apop' },
      }),
    );
    expect(client.authMethod).toBe('apop');
    const commands = server.sessions[0]?.commands;
    expect(sentAnyOf(commands, ['APOP alice '])).toBe(true);
    expect(sentAnyOf(commands, ['AUTH', 'USER', 'PASS'])).toBe(false);
  });

  it('method "apop" against a greeting without a timestamp is CAPABILITY_MISSING, naming the fix', async () => {
    const server = await scripted({ greeting: NO_TIMESTAMP_GREETING });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice', password: 'wonderland', method: 'apop' },
        }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toBe(
      'APOP was requested but the server greeting has no <timestamp>; use method "user" or "plain"',
    );
    expect(sentAnyOf(server.sessions[0]?.commands, ['APOP'])).toBe(false);
  });
});

describe('a token the server has no mechanism for', () => {
  it('a server offering SASL without XOAUTH2 is CAPABILITY_MISSING, listing what it offers, before AUTH', async () => {
    const server = await scripted({ capabilities: ['USER', 'SASL PLAIN LOGIN'] });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: 'alice', accessToken: 'tok-123' } }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toBe(
      'the server does not offer SASL XOAUTH2 (it offers: PLAIN LOGIN); use a password instead of a token',
    );
    expect(sentAnyOf(server.sessions[0]?.commands, ['AUTH'])).toBe(false);
  });

  it('a bare SASL capability with no mechanisms is reported as offering none', async () => {
    const server = await scripted({ capabilities: ['USER', 'SASL'] });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: 'alice', accessToken: 'tok-123' } }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toContain('(it offers: none)');
  });

  it('a server that does not list SASL at all is still tried with XOAUTH2', async () => {
    const server = await scripted({ capabilities: ['USER'], tokens: { alice: 'tok-123' } });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: 'alice', accessToken: 'tok-123' } }),
      ),
      'AUTH_FAILED',
    );
    expect(err.message).toContain('Unsupported authentication mechanism');
    expect(sentAnyOf(server.sessions[0]?.commands, ['AUTH XOAUTH2 '])).toBe(true);
  });

  it('a password with method "xoauth2" (an untyped config) is INVALID_ARGUMENT before anything is sent', async () => {
    const server = await scripted();
    const credentials = {
      user: 'alice',
      password: 'wonderland',
      method: 'xoauth2',
    } as unknown as Pop3Credentials;
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { credentials })),
      'INVALID_ARGUMENT',
    );
    expect(err.message).toBe('auth method xoauth2 needs an access token, not a password');
    expect(sentAnyOf(server.sessions[0]?.commands, ['AUTH', 'USER', 'PASS', 'APOP'])).toBe(false);
  });
});

describe('SASL PLAIN asked of a server without it', () => {
  it('names the mechanisms the server does offer', async () => {
    const server = await scripted({ capabilities: ['USER', 'SASL XOAUTH2 LOGIN'] });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice', password: 'wonderland', method: 'plain' },
        }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toBe(
      'the server does not offer SASL PLAIN (it offers: XOAUTH2 LOGIN); use method "user"',
    );
  });

  it('says "no SASL" when the server lists no SASL mechanism', async () => {
    const server = await scripted({ capabilities: ['USER'] });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice', password: 'wonderland', method: 'plain' },
        }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toContain('(it offers: no SASL)');
  });
});

describe('a non-ASCII user name outside SASL', () => {
  const name = 'jörg';

  it('is refused for USER when the server lists UTF8 USER but refused the UTF8 command', async () => {
    const server = await scripted({
      capabilities: ['UIDL', 'USER', 'UTF8 USER'],
      users: { [name]: 'pw' },
      handlers: { UTF8: (ctx) => ctx.err('not now') },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: name, password: 'pw', method: 'user' } }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toContain('for USER (RFC 6856 "UTF8 USER")');
    expect(sentAnyOf(server.sessions[0]?.commands, ['USER'])).toBe(false);
  });

  it('is refused when UTF8 is accepted but its arguments do not include USER', async () => {
    const server = await scripted({
      capabilities: ['UIDL', 'USER', 'UTF8 X-FUTURE'],
      users: { [name]: 'pw' },
      handlers: { UTF8: (ctx) => ctx.ok() },
    });
    await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: name, password: 'pw', method: 'user' } }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(sentAnyOf(server.sessions[0]?.commands, ['USER'])).toBe(false);
  });

  it('is refused for APOP as it is for USER, naming APOP', async () => {
    const server = await scripted({ users: { [name]: 'pw' } });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: name, password: 'pw', method: 'apop' } }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toContain('for APOP (RFC 6856');
    expect(sentAnyOf(server.sessions[0]?.commands, ['APOP'])).toBe(false);
  });
});

describe('credentials that would inject commands', () => {
  it('a password with a line break is INVALID_ARGUMENT naming the password, and PASS is never sent', async () => {
    const server = await scripted();
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, {
          credentials: { user: 'alice', password: 'pw\r\nDELE 1', method: 'user' },
        }),
      ),
      'INVALID_ARGUMENT',
    );
    expect(err.message).toBe(
      'the password contains a line break or NUL, which would inject POP3 commands; remove it',
    );
    expect(sentAnyOf(server.sessions[0]?.commands, ['PASS', 'DELE'])).toBe(false);
  });
});
