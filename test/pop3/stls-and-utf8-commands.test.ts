import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Capabilities } from '../../functions/core/pop3/capabilities.js';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import type { CommandChannel } from '../../functions/core/pop3/command-channel.js';
import { Pop3ProtocolError, Pop3ServerError } from '../../functions/core/pop3/errors.js';
import { upgradeToTls } from '../../functions/core/pop3/stls.js';
import type { TransportOptions } from '../../functions/core/pop3/transport.js';
import { enterUtf8 } from '../../functions/core/pop3/utf8-mode.js';
import { expectPop3Error, scripted, scriptedOptions } from '../support/pop3-test-kit.js';

/** A channel whose next command fails with `err` (the connection broke under it, say). */
function channelFailingWith(err: Error): CommandChannel {
  return { simple: () => Promise.reject(err) } as unknown as CommandChannel;
}

const TRANSPORT: TransportOptions = {
  host: 'pop.example.test',
  port: 110,
  tls: 'starttls',
  insecure: false,
  connectTimeoutMs: 1_000,
};

describe('STLS', () => {
  it('a CAPA without STLS ends the session before STLS is even sent, saying what to do instead', async () => {
    const server = await scripted({ capabilities: ['USER', 'UIDL'] });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { tls: 'starttls' })),
      'STLS_UNAVAILABLE',
    );
    expect(err.message).toBe(
      '127.0.0.1 does not offer STLS; refusing to continue in cleartext (use tls "implicit" on port 995 if the server has it)',
    );
    const session = await server.nextSession();
    await session.closed;
    expect(session.commands).not.toContain('STLS');
  });

  it('a -ERR to STLS is STLS_UNAVAILABLE caused by the server error to STLS', async () => {
    const server = await scripted({
      capabilities: ['USER', 'STLS'],
      handlers: { STLS: (ctx) => ctx.err('not today') },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { tls: 'starttls' })),
      'STLS_UNAVAILABLE',
    );
    expect(err.message).toBe(
      '127.0.0.1 refused STLS (not today); refusing to continue in cleartext',
    );
    expect(err.cause).toBeInstanceOf(Pop3ServerError);
    expect((err.cause as Pop3ServerError).command).toBe('STLS');
  });

  it('a connection closed instead of answering STLS fails naming the STLS reply it was waiting for', async () => {
    const server = await scripted({
      capabilities: ['USER', 'STLS'],
      handlers: { STLS: (ctx) => ctx.session.end() },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server, { tls: 'starttls' })),
      'UNEXPECTED_EOF',
    );
    expect(err.message).toContain('while a STLS status line was expected');
  });

  it('a failure that is not a -ERR passes through as it is, not as a refusal of STLS', async () => {
    const broken = new Pop3ProtocolError('PROTOCOL_VIOLATION', 'garbage where a reply belongs');
    const caps = new Capabilities(['STLS']);
    await expect(
      upgradeToTls(channelFailingWith(broken), caps, {} as Socket, TRANSPORT),
    ).rejects.toBe(broken);
  });
});

describe('UTF8', () => {
  it('a connection closed instead of answering UTF8 fails naming the UTF8 reply it was waiting for', async () => {
    const server = await scripted({
      capabilities: ['USER', 'UTF8'],
      handlers: { UTF8: (ctx) => ctx.session.end() },
    });
    const err = await expectPop3Error(
      Pop3Client.connect(scriptedOptions(server)),
      'UNEXPECTED_EOF',
    );
    expect(err.message).toContain('while a UTF8 status line was expected');
  });

  it('a failure that is not a -ERR is not recorded as the server refusing UTF8', async () => {
    const broken = new Pop3ProtocolError('PROTOCOL_VIOLATION', 'garbage where a reply belongs');
    await expect(enterUtf8(channelFailingWith(broken), new Capabilities(['UTF8']))).rejects.toBe(
      broken,
    );
  });
});
