import { describe, expect, it } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { generateTestCertificates } from '../support/certs.js';
import {
  collect,
  connect,
  expectPop3Error,
  message,
  scripted,
  scriptedOptions,
} from '../support/pop3-test-kit.js';
import type { Handler } from '../support/scripted-pop3-server.js';

const WITH_UTF8 = ['TOP', 'UIDL', 'USER', 'PIPELINING', 'SASL PLAIN', 'UTF8 USER'];
const ORIGINAL = 'From: Jörg <j@example.de>\r\nSubject: Grüße\r\n\r\nHallo\r\n';
const NOTICE = 'From: Mail Delivery Subsystem\r\nSubject: Cannot display Unicode content\r\n\r\n';

/** Courier POP3's behaviour: UTF8 accepted only before login; 8-bit mail replaced unless it was. */
const courierLike: Record<string, Handler> = {
  UTF8(ctx) {
    if (ctx.session.authenticated) return ctx.err('UTF8 is valid only before login');
    ctx.ok('UTF8 enabled');
  },
  async RETR(ctx) {
    if (ctx.session.commands.includes('UTF8')) return ctx.fallback();
    await ctx.session.write(`+OK\r\n${NOTICE}.\r\n`);
  },
};

describe('RFC 6856 UTF8 mode', () => {
  it('a server that substitutes 8-bit mail for clients without UTF8 serves the original: UTF8 goes first, before login', async () => {
    const server = await scripted({
      capabilities: WITH_UTF8,
      messages: [message('u1', ORIGINAL)],
      handlers: courierLike,
    });
    const client = await connect(scriptedOptions(server));
    expect(client.utf8Mode).toBe('active');
    expect((await collect(await client.retr(1))).toString('utf8')).toBe(ORIGINAL);
    await client.quit();
    const commands = server.sessions[0]?.commands ?? [];
    expect(commands.indexOf('UTF8')).toBeGreaterThan(commands.indexOf('CAPA'));
    expect(commands.indexOf('UTF8')).toBeLessThan(commands.findIndex((c) => c.startsWith('AUTH')));
  });

  it('a -ERR to UTF8 is recorded as refused and the login carries on', async () => {
    const server = await scripted({
      capabilities: WITH_UTF8,
      handlers: { UTF8: (ctx) => ctx.err('not today') },
    });
    const client = await connect(scriptedOptions(server));
    expect(client.utf8Mode).toBe('refused');
    expect(await client.stat()).toEqual({ count: 0, octets: 0 });
    await client.quit();
  });

  it('UTF8 is never sent to a server that does not list it', async () => {
    const server = await scripted({
      handlers: {
        UTF8: (ctx) => {
          ctx.session.destroy();
        },
      },
    });
    const client = await connect(scriptedOptions(server));
    expect(client.utf8Mode).toBe('not-offered');
    await client.quit();
    expect(server.sessions[0]?.commands).not.toContain('UTF8');
  });

  it('UTF8 is decided from the CAPA after STLS, not from the cleartext one an attacker could edit', async () => {
    const certs = generateTestCertificates();
    const server = await scripted({
      capabilities: [...WITH_UTF8, 'STLS'],
      stls: certs.server,
      handlers: {
        // Before TLS the listing lacks UTF8; only the protected one offers it.
        CAPA: async (ctx) => {
          if (ctx.session.secure) return ctx.fallback();
          await ctx.session.write('+OK\r\nSTLS\r\nUSER\r\n.\r\n');
        },
        UTF8: (ctx) => ctx.ok(),
      },
    });
    const client = await connect(
      scriptedOptions(server, {
        tls: 'starttls',
        insecure: false,
        host: '127.0.0.1',
        ca: certs.ca.cert,
      }),
    );
    expect(client.utf8Mode).toBe('active');
    await client.quit();
  });

  it('a non-ASCII user name goes out with USER only where the server announced UTF8 USER and accepted UTF8', async () => {
    const name = 'jörg';
    const server = await scripted({
      capabilities: ['UIDL', 'USER', 'UTF8 USER'],
      users: { [name]: 'pw' },
      handlers: { UTF8: (ctx) => ctx.ok() },
    });
    const client = await connect(
      scriptedOptions(server, { credentials: { user: name, password: 'pw', method: 'user' } }),
    );
    expect(client.utf8Mode).toBe('active');
    await client.quit();
    expect(server.sessions[0]?.commands).toContain(`USER ${name}`);
  });

  it('a non-ASCII user name is refused before USER is sent when the server lists UTF8 without USER', async () => {
    const server = await scripted({
      capabilities: ['UIDL', 'USER', 'UTF8'],
      users: { jörg: 'pw' },
      handlers: { UTF8: (ctx) => ctx.ok() },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(
        scriptedOptions(server, { credentials: { user: 'jörg', password: 'pw', method: 'user' } }),
      ),
      'CAPABILITY_MISSING',
    );
    expect(err.message).toContain('UTF8 USER');
    expect(server.sessions[0]?.commands.some((c) => c.startsWith('USER'))).toBe(false);
  });

  it('a non-ASCII user name may still log in over SASL PLAIN, whose identities are UTF-8', async () => {
    const server = await scripted({
      capabilities: ['UIDL', 'USER', 'SASL PLAIN'],
      users: { jörg: 'pw' },
    });
    const client = await connect(
      scriptedOptions(server, { credentials: { user: 'jörg', password: 'pw' } }),
    );
    expect(client.authMethod).toBe('plain');
    expect(client.utf8Mode).toBe('not-offered');
    await client.quit();
  });
});

describe('nothing pipelined across authentication', () => {
  it('a server that drops commands arriving behind PASS (Courier) still answers every command', async () => {
    const server = await scripted({
      capabilities: ['UIDL', 'USER', 'PIPELINING'],
      messages: [message('u1', 'Subject: a\r\n\r\nx\r\n')],
      handlers: {
        // Courier discards whatever it has already read past the PASS line when it logs in; here
        // that ends the session, so a pipelined command fails the test instead of hanging it.
        async PASS(ctx) {
          if (ctx.session.commands.at(-1) !== ctx.line) return ctx.session.destroy();
          await ctx.fallback();
        },
      },
    });
    const client = await connect(
      scriptedOptions(server, {
        credentials: { user: 'alice', password: 'wonderland', method: 'user' },
      }),
    );
    expect(client.pipelining).toBe(true);
    expect(await client.stat()).toEqual({ count: 1, octets: 17 });
    await client.quit();
  });
});
