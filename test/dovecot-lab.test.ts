import { connect as netConnect, type Socket } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { describe, expect, inject, test } from 'vitest';
import { maildirMessageCount, seedMailbox, toWireForm, uniqueUser } from './support/dovecot.js';

const dovecot = inject('dovecot');

/** A bare POP3 conversation over a socket, byte-exact so RETR can be compared with toWireForm. */
function converse(socket: Socket | TLSSocket) {
  let buffered = Buffer.alloc(0);
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  socket.on('error', (error) => {
    failure = error;
    wake?.();
  });
  socket.on('close', () => {
    failure ??= new Error('connection closed');
    wake?.();
  });

  async function line(): Promise<string> {
    for (;;) {
      const end = buffered.indexOf('\r\n');
      if (end >= 0) {
        const text = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 2);
        return text;
      }
      if (failure) throw failure;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  }

  async function command(text: string): Promise<string> {
    socket.write(`${text}\r\n`);
    const reply = await line();
    if (!reply.startsWith('+OK')) throw new Error(`${text.split(' ')[0]}: ${reply}`);
    return reply;
  }

  /** The lines of a multi-line reply, un-stuffed, without the terminating ".". */
  async function multiline(text: string): Promise<string[]> {
    await command(text);
    const lines: string[] = [];
    for (let l = await line(); l !== '.'; l = await line()) {
      lines.push(l.startsWith('.') ? l.slice(1) : l);
    }
    return lines;
  }

  return { line, command, multiline };
}

function plainSocket(): Socket {
  return netConnect({ host: dovecot.host, port: dovecot.plainPort });
}

function tlsSocket(options: { host?: string; ca?: string } = {}): TLSSocket {
  return tlsConnect({
    host: options.host ?? dovecot.host,
    port: dovecot.tlsPort,
    ca: options.ca ?? dovecot.caPem,
  });
}

function handshake(socket: TLSSocket): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('Dovecot lab harness', () => {
  test('the plain port greets, with an APOP timestamp', async () => {
    const socket = plainSocket();
    try {
      expect(await converse(socket).line()).toMatch(/^\+OK .*<[^>]+@[^>]+>$/);
    } finally {
      socket.destroy();
    }
  });

  test('the implicit TLS port verifies against the lab CA for 127.0.0.1 only', async () => {
    const socket = await handshake(tlsSocket());
    try {
      expect(socket.authorized).toBe(true);
      expect(socket.getPeerCertificate().fingerprint256).toBe(dovecot.serverFingerprint256);
    } finally {
      socket.destroy();
    }
    await expect(handshake(tlsSocket({ ca: dovecot.otherCaPem }))).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    await expect(handshake(tlsSocket({ host: dovecot.mismatchHost }))).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  test('seeded messages are what USER/PASS/STAT/RETR over TLS see', async () => {
    const user = uniqueUser('lab');
    // No final newline, bare LFs, a dot-led line; then a CRLF message with a bare CR.
    const messages = [
      Buffer.from('Subject: one\n\n.leading dot\nno final newline'),
      Buffer.from('Subject: two\r\n\r\nbare\rCR\r\n'),
    ];
    seedMailbox(dovecot, user, messages);
    expect(maildirMessageCount(dovecot, user)).toBe(2);

    const socket = await handshake(tlsSocket());
    try {
      const pop = converse(socket);
      await pop.line();
      await pop.command(`USER ${user}`);
      await pop.command(`PASS ${dovecot.password}`);
      expect(await pop.command('STAT')).toMatch(/^\+OK 2 \d+$/);
      for (const [i, message] of messages.entries()) {
        const lines = await pop.multiline(`RETR ${i + 1}`);
        const retrieved = Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1');
        expect(retrieved.toString('latin1')).toBe(toWireForm(message).toString('latin1'));
      }
      await pop.command('QUIT');
    } finally {
      socket.destroy();
    }
  });

  test('records greetings and CAPA before and after login on both ports', async () => {
    const seen: Record<string, { greeting: string; before: string[]; after: string[] }> = {};
    for (const [port, connect] of [
      ['plain', async () => plainSocket()],
      ['tls', () => handshake(tlsSocket())],
    ] as const) {
      const socket = await connect();
      try {
        const pop = converse(socket);
        const greeting = await pop.line();
        const before = await pop.multiline('CAPA');
        await pop.command(`USER ${uniqueUser('capa')}`);
        await pop.command(`PASS ${dovecot.password}`);
        const after = await pop.multiline('CAPA');
        await pop.command('QUIT');
        seen[port] = { greeting, before, after };
      } finally {
        socket.destroy();
      }
    }
    console.log(`Dovecot ${dovecot.version}\n${JSON.stringify(seen, null, 2)}`);
    expect(seen.plain?.before).toContain('STLS');
    expect(seen.tls?.before).not.toContain('STLS');
    expect(seen.tls?.after).toContain('UIDL');
  });
});
