// Self-test of the scripted server, driven by raw sockets so that a bug in the project's POP3
// client cannot hide a bug in its test double (or the other way round).
import net from 'node:net';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { generateTestCertificates } from './support/certs.js';
import {
  createScriptedServer,
  dotStuff,
  type ScriptedServer,
  type ScriptedServerOptions,
} from './support/scripted-pop3-server.js';

class RawClient {
  private buffer = '';
  private wake: (() => void) | null = null;
  ended = false;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static connect(server: ScriptedServer): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(server.port, server.host, () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  send(text: string): void {
    this.socket.write(text);
  }

  /** Consumes and returns the first `length` characters, waiting for them to arrive. */
  async take(length: number): Promise<string> {
    while (this.buffer.length < length && !this.ended) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    const taken = this.buffer.slice(0, length);
    this.buffer = this.buffer.slice(length);
    return taken;
  }

  /** Consumes one CRLF-terminated line (without the CRLF). */
  async line(): Promise<string> {
    while (!this.buffer.includes('\r\n') && !this.ended) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    const at = this.buffer.indexOf('\r\n');
    if (at === -1) throw new Error(`connection closed; left over: ${JSON.stringify(this.buffer)}`);
    const line = this.buffer.slice(0, at);
    this.buffer = this.buffer.slice(at + 2);
    return line;
  }

  async command(text: string): Promise<string> {
    this.send(`${text}\r\n`);
    return this.line();
  }

  /** A status line and, if it is +OK, the lines up to the '.' terminator. */
  async multiline(text: string): Promise<string[]> {
    const lines = [await this.command(text)];
    if (!lines[0]?.startsWith('+OK')) return lines;
    for (let l = await this.line(); l !== '.'; l = await this.line()) lines.push(l);
    return lines;
  }

  /** Everything up to the close of the connection. */
  async rest(): Promise<string> {
    return this.take(Number.POSITIVE_INFINITY);
  }
}

const body1 = Buffer.from('Subject: one\r\n\r\n.hidden dot\r\nplain\r\n..two dots\r\n.\r\n');
const body2 = Buffer.from('Subject: two\r\n\r\nno final newline');
const messages = [
  { uid: 'uid-1', body: body1 },
  { uid: 'uid-2', body: body2 },
];

const servers: ScriptedServer[] = [];
async function start(opts: ScriptedServerOptions = {}): Promise<ScriptedServer> {
  const server = await createScriptedServer({ messages, ...opts });
  servers.push(server);
  return server;
}

async function login(server: ScriptedServer): Promise<RawClient> {
  const client = await RawClient.connect(server);
  expect(await client.line()).toMatch(/^\+OK /);
  expect(await client.command('USER alice')).toBe('+OK');
  expect(await client.command('PASS wonderland')).toMatch(/^\+OK/);
  return client;
}

/** Reverses dotStuff the way a client does. */
function unstuff(wire: Buffer): Buffer {
  const text = wire.toString('latin1');
  expect(text.endsWith('\r\n.\r\n') || text === '.\r\n').toBe(true);
  const lines = text.slice(0, -3).split('\r\n');
  return Buffer.from(lines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n'), 'latin1');
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('scripted POP3 server', () => {
  it('greets and authenticates with USER/PASS, refusing a wrong password', async () => {
    const server = await start();
    const client = await RawClient.connect(server);
    expect(await client.line()).toBe('+OK scripted POP3 ready <1896.697170952@scripted.test>');
    expect(await client.command('STAT')).toBe('-ERR not authenticated');
    await client.command('USER alice');
    expect(await client.command('PASS nope')).toBe('-ERR [AUTH] Authentication failed.');
    await client.command('USER alice');
    expect(await client.command('PASS wonderland')).toMatch(/^\+OK/);
    expect(await client.command('STAT')).toBe(`+OK 2 ${body1.length + body2.length}`);
  });

  it('answers commands pipelined in one write, in order', async () => {
    const server = await start();
    const client = await login(server);
    client.send('STAT\r\nUIDL\r\nRETR 1\r\n');
    const expected = Buffer.concat([
      Buffer.from(`+OK 2 ${body1.length + body2.length}\r\n`),
      Buffer.from('+OK\r\n1 uid-1\r\n2 uid-2\r\n.\r\n'),
      Buffer.from(`+OK ${body1.length} octets\r\n`),
      dotStuff(body1),
    ]).toString('latin1');
    expect(await client.take(expected.length)).toBe(expected);
    expect(server.sessions[0]?.commands.slice(-3)).toEqual(['STAT', 'UIDL', 'RETR 1']);
  });

  it('dot-stuffs bodies so that unstuffing gives the exact bytes back', () => {
    expect(dotStuff(body1).toString()).toBe(
      'Subject: one\r\n\r\n..hidden dot\r\nplain\r\n...two dots\r\n..\r\n.\r\n',
    );
    expect(dotStuff(Buffer.alloc(0)).toString()).toBe('.\r\n');
    expect(dotStuff(Buffer.from('.x')).toString()).toBe('..x\r\n.\r\n');
    expect(unstuff(dotStuff(body1))).toEqual(body1);
    // The server appends the CRLF that body2 lacks, so it comes back with one.
    expect(unstuff(dotStuff(body2))).toEqual(Buffer.concat([body2, Buffer.from('\r\n')]));
  });

  it('lets a handler override cut a reply mid-message', async () => {
    const server = await start({
      handlers: {
        async RETR(ctx) {
          if (ctx.args === '2') return ctx.fallback();
          await ctx.session.write('+OK\r\nhalf a mess');
          ctx.session.destroy();
        },
      },
    });
    const client = await login(server);
    client.send('RETR 2\r\n');
    expect(await client.line()).toBe(`+OK ${body2.length} octets`);
    expect(await client.take(dotStuff(body2).length)).toBe(dotStuff(body2).toString());
    client.send('RETR 1\r\n');
    expect(await client.rest()).toBe('+OK\r\nhalf a mess');
  });

  it('removes DELE-marked messages only on QUIT', async () => {
    const server = await start();
    const aborted = await login(server);
    const abortedSession = await server.nextSession();
    expect(await aborted.command('DELE 1')).toMatch(/^\+OK/);
    expect(await aborted.command('DELE 1')).toMatch(/^-ERR/);
    expect(await aborted.command('RETR 1')).toMatch(/^-ERR/);
    aborted.socket.destroy();
    await abortedSession.closed;
    expect(server.expunged).toEqual([]);

    const client = await login(server);
    expect(await client.command('STAT')).toBe(`+OK 2 ${body1.length + body2.length}`);
    await client.command('DELE 1');
    expect(await client.command('QUIT')).toMatch(/^\+OK/);
    expect(await client.rest()).toBe('');
    expect(server.expunged).toEqual(['uid-1']);
    expect(server.messages.map((m) => m.uid)).toEqual(['uid-2']);
  });

  it('hands out each new connection through nextSession()', async () => {
    const server = await start({ greeting: null });
    const first = server.nextSession();
    const client = await RawClient.connect(server);
    const session = await first;
    expect(session.id).toBe(1);
    // With no greeting the test speaks first, through the session.
    await session.writeLine('+OK late hello');
    expect(await client.line()).toBe('+OK late hello');
    await RawClient.connect(server);
    expect((await server.nextSession()).id).toBe(2);
  });

  it('upgrades with STLS and drops STLS from CAPA afterwards', async () => {
    const certs = generateTestCertificates();
    const server = await start({ stls: certs.server });
    const plain = await RawClient.connect(server);
    await plain.line();
    expect(await plain.multiline('CAPA')).toContain('STLS');
    expect(await plain.command('STLS')).toBe('+OK Begin TLS');
    plain.socket.removeAllListeners('data');
    const secured = await new Promise<RawClient>((resolve, reject) => {
      const socket = tls.connect({
        socket: plain.socket,
        ca: certs.ca.cert,
        servername: 'localhost',
      });
      socket.once('secureConnect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
    const afterTls = await secured.multiline('CAPA');
    expect(afterTls).toContain('UIDL');
    expect(afterTls).not.toContain('STLS');
    expect(server.sessions[0]?.secure).toBe(true);
  });

  it('runs two-step XOAUTH2, with the JSON challenge on a bad token', async () => {
    const server = await start({ tokens: { alice: 'good-token' } });
    const client = await RawClient.connect(server);
    await client.line();
    const xoauth = (token: string) =>
      Buffer.from(`user=alice\x01auth=Bearer ${token}\x01\x01`).toString('base64');
    expect(await client.command('AUTH XOAUTH2')).toBe('+ ');
    const challenge = await client.command(xoauth('bad-token'));
    expect(JSON.parse(Buffer.from(challenge.slice(2), 'base64').toString())).toMatchObject({
      status: '401',
    });
    expect(await client.command('')).toBe('-ERR [AUTH] Authentication failed.');
    expect(await client.command('AUTH XOAUTH2')).toBe('+ ');
    expect(await client.command(xoauth('good-token'))).toMatch(/^\+OK/);
    expect(server.sessions[0]?.user).toBe('alice');
  });
});
