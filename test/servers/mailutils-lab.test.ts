import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { startMailutilsLab } from '../support/mailutils-lab.js';
import type { LabAccount, Pop3Lab } from '../support/pop3-lab.js';
import { collect } from '../support/pop3-test-kit.js';

let lab: Pop3Lab | undefined;

beforeAll(async () => {
  lab = await startMailutilsLab();
});

afterAll(async () => {
  await lab?.stop();
});

function running(): Pop3Lab {
  if (lab === undefined) throw new Error('the Mailutils lab did not start');
  return lab;
}

function open(account: LabAccount, tls: 'implicit' | 'starttls'): Promise<Pop3Client> {
  const l = running();
  return Pop3Client.connect({
    host: l.host,
    port: tls === 'implicit' ? l.tlsPort : l.plainPort,
    tls,
    ca: l.caPem,
    credentials: { user: account.user, password: account.password, method: 'user' },
    idleTimeoutMs: 10_000,
  });
}

async function retrieveAll(client: Pop3Client): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const { msg } of await client.list()) out.push(await collect(await client.retr(msg)));
  return out;
}

/** Three ASCII messages: CRLF with dot lines, CRLF, and LF. */
function threeMessages(tag: string): Buffer[] {
  return [
    Buffer.from(
      `From: a@example.com\r\nTo: b@example.com\r\nSubject: ${tag} one\r\n\r\nHello\r\n.starts with a dot\r\n..two dots\r\n.\r\nbye\r\n`,
    ),
    Buffer.from(`From: a@example.com\r\nSubject: ${tag} two\r\n\r\nsecond body\r\n`),
    Buffer.from(`From: a@example.com\nSubject: ${tag} three\n\nthird body, LF\n.dot\n`),
  ];
}

describe('GNU Mailutils pop3d lab', () => {
  test('reports its version and loopback ports', () => {
    const l = running();
    expect(l.name).toBe('mailutils');
    expect(l.version).toMatch(/GNU Mailutils\) 3\./);
    expect(l.host).toBe('127.0.0.1');
    expect(l.plainPort).not.toBe(l.tlsPort);
  });

  test('logs in over implicit TLS with the CA verified', async () => {
    const account = await running().createUser();
    const client = await open(account, 'implicit');
    try {
      expect(client.capabilities.has('UIDL')).toBe(true);
      expect(await client.stat()).toEqual({ count: 0, octets: 0 });
      await client.quit();
    } finally {
      client.close();
    }
  });

  test('logs in after STLS with the CA verified', async () => {
    const account = await running().createUser();
    const client = await open(account, 'starttls');
    try {
      expect(client.capabilities.has('USER')).toBe(true);
      // STLS is gone from CAPA once TLS is up.
      expect(client.capabilities.has('STLS')).toBe(false);
      await client.quit();
    } finally {
      client.close();
    }
  });

  test('RETR serves exactly what stored() reads from the Maildir, before and after X-UIDL', async () => {
    const l = running();
    const account = await l.createUser();
    const messages = threeMessages('retr');
    await l.deliver(account, messages);

    const before = await l.stored(account);
    // CRLF given, CRLF served; LF given, CRLF served.
    expect(before[0]).toEqual(messages[0]);
    expect(before[1]).toEqual(messages[1]);
    expect(before[2]?.toString('latin1')).toBe(
      'From: a@example.com\r\nSubject: retr three\r\n\r\nthird body, LF\r\n.dot\r\n',
    );

    // No UIDL in this session: the files keep their bytes.
    const first = await open(account, 'implicit');
    try {
      expect(await retrieveAll(first)).toEqual(before);
      await first.quit();
    } finally {
      first.close();
    }
    expect(await l.stored(account)).toEqual(before);

    // UIDL makes pop3d add X-UIDL to every header; it serves it at once and writes it into the
    // files when the session ends, here by a dropped connection.
    const second = await open(account, 'starttls');
    let served: Buffer[];
    try {
      const uidls = await second.uidl();
      expect(uidls).toHaveLength(3);
      served = await retrieveAll(second);
    } finally {
      second.close();
    }
    const after = await l.stored(account);
    expect(after).toEqual(served);
    expect(after[0]?.toString('latin1')).toMatch(
      /^From: a@example\.com\r\nTo: b@example\.com\r\nSubject: retr one\r\nX-UIDL: [0-9a-f]{32}\.\d+\.1\r\n\r\nHello\r\n/,
    );

    const third = await open(account, 'implicit');
    try {
      expect(await retrieveAll(third)).toEqual(after);
      await third.quit();
    } finally {
      third.close();
    }
  });

  test('DELE of every message then QUIT empties the store', async () => {
    const l = running();
    const account = await l.createUser();
    await l.deliver(account, threeMessages('quit'));
    const client = await open(account, 'implicit');
    try {
      for (const { msg } of await client.list()) await client.dele(msg);
      await client.quit();
    } finally {
      client.close();
    }
    expect(await l.stored(account)).toEqual([]);
  });

  test('DELE then a dropped connection (no QUIT) keeps every message', async () => {
    const l = running();
    const account = await l.createUser();
    await l.deliver(account, threeMessages('close'));
    const before = await l.stored(account);
    const client = await open(account, 'implicit');
    try {
      for (const { msg } of await client.list()) await client.dele(msg);
    } finally {
      client.close();
    }
    expect(await l.stored(account)).toEqual(before);
  });
});
