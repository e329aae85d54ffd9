import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { COURIER_UNICODE_NOTICE_SUBJECT, startCourierLab } from '../support/courier-lab.js';
import type { LabAccount, Pop3Lab } from '../support/pop3-lab.js';
import { collect } from '../support/pop3-test-kit.js';

let lab: Pop3Lab;

beforeAll(async () => {
  lab = await startCourierLab();
});

afterAll(async () => {
  await lab?.stop();
});

// CRLF and LF line ends, and a line that starts with "." (dot-stuffed on the wire).
const MESSAGES = [
  Buffer.from('From: a@example.com\r\nSubject: one\r\n\r\nfirst\r\n.starts with a dot\r\n'),
  Buffer.from('From: b@example.com\r\nSubject: two\r\n\r\nsecond\r\n'),
  Buffer.from('From: c@example.com\nSubject: three\n\nthird, LF only\n'),
];

function connect(account: LabAccount, tls: 'implicit' | 'starttls'): Promise<Pop3Client> {
  return Pop3Client.connect({
    host: lab.host,
    port: tls === 'implicit' ? lab.tlsPort : lab.plainPort,
    tls,
    ca: lab.caPem,
    credentials: account,
  });
}

/** Sends raw commands over implicit TLS and returns everything the server sent, as latin1. */
async function rawSession(commands: string[]): Promise<string> {
  const socket: TLSSocket = tlsConnect({ host: lab.host, port: lab.tlsPort, ca: lab.caPem });
  let received = '';
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    received += chunk;
    wake?.();
  });
  socket.on('error', (error) => {
    failure = error;
    wake?.();
  });
  socket.on('close', () => {
    failure ??= new Error(`connection closed after: ${received}`);
    wake?.();
  });
  const until = async (done: () => boolean) => {
    while (!done()) {
      if (failure) throw failure;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  try {
    await until(() => received.includes('\r\n'));
    for (const command of commands) {
      const before = received.length;
      socket.write(`${command}\r\n`);
      const multiline = /^(RETR|LIST|CAPA)\b/.test(command);
      await until(() => received.indexOf(multiline ? '\r\n.\r\n' : '\r\n', before) >= 0);
    }
    return received;
  } finally {
    socket.destroy();
  }
}

describe('Courier POP3 lab', () => {
  test.each(['implicit', 'starttls'] as const)(
    'logs in over %s TLS verified against the lab CA',
    async (tls) => {
      const account = await lab.createUser();
      const client = await connect(account, tls);
      expect(client.capabilities.has('UIDL')).toBe(true);
      expect(await client.list()).toEqual([]);
      await client.quit();
    },
  );

  test('RETR serves exactly the messages stored() reads from the Maildir', async () => {
    const account = await lab.createUser();
    await lab.deliver(account, MESSAGES);
    const stored = await lab.stored(account);
    // CRLF in, CRLF out; the LF-only message is served with CRLF.
    expect(stored).toEqual([
      MESSAGES[0],
      MESSAGES[1],
      Buffer.from(MESSAGES[2]?.toString('latin1').replaceAll('\n', '\r\n') ?? '', 'latin1'),
    ]);
    const client = await connect(account, 'implicit');
    const list = await client.list();
    expect(list.map((entry) => entry.octets)).toEqual(stored.map((message) => message.length));
    for (const [index, expected] of stored.entries()) {
      const served = await collect(await client.retr(index + 1));
      expect(served.equals(expected)).toBe(true);
    }
    await client.quit();
  });

  test('DELE of every message then QUIT leaves the store empty', async () => {
    const account = await lab.createUser();
    await lab.deliver(account, MESSAGES);
    const client = await connect(account, 'starttls');
    for (const entry of await client.list()) await client.dele(entry.msg);
    await client.quit();
    expect(await lab.stored(account)).toEqual([]);
  });

  test('DELE then close() without QUIT deletes nothing', async () => {
    const account = await lab.createUser();
    await lab.deliver(account, MESSAGES);
    const before = await lab.stored(account);
    const client = await connect(account, 'implicit');
    for (const entry of await client.list()) await client.dele(entry.msg);
    client.close();
    expect(await lab.stored(account)).toEqual(before);
  });

  test('a raw 8-bit header is served as a notice unless the session sent UTF8', async () => {
    const account = await lab.createUser();
    const message = Buffer.from('Subject: caf\u00e9\r\n\r\nbody\r\n', 'utf8');
    await lab.deliver(account, [message]);
    const login = [`USER ${account.user}`, `PASS ${account.password}`];
    const withoutUtf8 = await rawSession([...login, 'RETR 1']);
    expect(withoutUtf8).toContain(`\r\nSubject: ${COURIER_UNICODE_NOTICE_SUBJECT}\r\n`);
    expect(withoutUtf8).toContain('\r\nContent-Type: message/global\r\n');
    const withUtf8 = await rawSession(['UTF8', ...login, 'RETR 1']);
    expect(withUtf8).toContain('\r\n+OK UTF8 enabled\r\n');
    const stored = await lab.stored(account);
    expect(stored).toEqual([message]);
    expect(withUtf8.endsWith(`octets follow.\r\n${message.toString('latin1')}.\r\n`)).toBe(true);
  });
});
