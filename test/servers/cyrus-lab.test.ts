import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import { CYRUS_LAB_POPMINPOLL_MINUTES, startCyrusLab } from '../support/cyrus-lab.js';
import type { LabAccount, Pop3Lab } from '../support/pop3-lab.js';
import { collect } from '../support/pop3-test-kit.js';

let lab: Pop3Lab;

beforeAll(async () => {
  lab = await startCyrusLab();
});

afterAll(async () => {
  await lab?.stop();
});

function connect(
  account: LabAccount,
  tls: 'implicit' | 'starttls',
  method?: 'user' | 'plain' | 'apop',
): Promise<Pop3Client> {
  return Pop3Client.connect({
    host: lab.host,
    port: tls === 'implicit' ? lab.tlsPort : lab.plainPort,
    tls,
    ca: lab.caPem,
    credentials: { user: account.user, password: account.password, method },
    idleTimeoutMs: 10_000,
  });
}

// Three ASCII messages: CRLF with a line that starts with ".", LF only, CRLF without a final line end.
const MESSAGES = [
  Buffer.from('From: a@example.com\r\nSubject: one\r\n\r\nfirst line\r\n.starts with a dot\r\n'),
  Buffer.from('From: b@example.com\nSubject: two\n\nbody with LF line ends\n..two dots\n'),
  Buffer.from('From: c@example.com\r\nSubject: three\r\n\r\nno final line end'),
];

async function seeded(): Promise<LabAccount> {
  const account = await lab.createUser();
  await lab.deliver(account, MESSAGES);
  return account;
}

describe('Cyrus lab', () => {
  it('reports the Cyrus version and lowers only popminpoll', () => {
    expect(lab.name).toBe('cyrus');
    expect(lab.version).toMatch(/^cyrus-imapd 3\.6\./);
    expect(CYRUS_LAB_POPMINPOLL_MINUTES).toBe(0);
  });

  it('logs in over implicit TLS and over STLS, verifying the lab CA', async () => {
    const account = await lab.createUser();
    for (const tls of ['implicit', 'starttls'] as const) {
      const client = await connect(account, tls);
      expect(client.greeting).toMatch(/Cyrus POP3 3\.6\./);
      expect(client.capabilities.has('LOGIN-DELAY')).toBe(true);
      expect(client.capabilities.args('LOGIN-DELAY')).toEqual([
        String(CYRUS_LAB_POPMINPOLL_MINUTES * 60),
      ]);
      expect(await client.stat()).toEqual({ count: 0, octets: 0 });
      await client.quit();
    }
  });

  it('accepts USER/PASS, SASL PLAIN and APOP', async () => {
    const account = await lab.createUser();
    for (const method of ['user', 'plain', 'apop'] as const) {
      const client = await connect(account, 'implicit', method);
      expect(client.authMethod).toBe(method);
      await client.quit();
    }
  });

  it('serves delivered messages in order, exactly as stored() reads them from the spool', async () => {
    const account = await seeded();
    const stored = await lab.stored(account);
    expect(stored).toHaveLength(3);
    // Cyrus stores CRLF; a message without a final line end is served with CRLF appended.
    expect(stored[0]).toEqual(MESSAGES[0]);
    expect(stored[1]?.toString('latin1')).toBe(
      'From: b@example.com\r\nSubject: two\r\n\r\nbody with LF line ends\r\n..two dots\r\n',
    );
    expect(stored[2]).toEqual(Buffer.concat([MESSAGES[2] as Buffer, Buffer.from('\r\n')]));

    const client = await connect(account, 'starttls');
    const listing = await client.list();
    expect(listing.map((l) => l.msg)).toEqual([1, 2, 3]);
    for (const [i, expected] of stored.entries()) {
      expect(await collect(await client.retr(i + 1))).toEqual(expected);
    }
    // LIST counts the spool file; the CRLF added to the third message is not in it.
    expect(listing.map((l) => l.octets)).toEqual(
      stored.map((s, i) => s.length - (i === 2 ? 2 : 0)),
    );
    await client.quit();
    expect(await lab.stored(account)).toEqual(stored);
  });

  it('DELE of every message then QUIT empties the store', async () => {
    const account = await seeded();
    const client = await connect(account, 'implicit');
    for (const msg of [1, 2, 3]) await client.dele(msg);
    await client.quit();
    expect(await lab.stored(account)).toEqual([]);

    // A later delivery gets new message numbers after the expunged ones, from 1 again.
    await lab.deliver(account, [MESSAGES[0] as Buffer]);
    expect(await lab.stored(account)).toEqual([MESSAGES[0]]);
  });

  it('DELE then close() without QUIT deletes nothing', async () => {
    const account = await seeded();
    const before = await lab.stored(account);
    const client = await connect(account, 'implicit');
    for (const msg of [1, 2, 3]) await client.dele(msg);
    client.close();
    // A fresh session (pop3d has seen the drop by then) still lists all three.
    const again = await connect(account, 'implicit');
    expect(await again.stat()).toMatchObject({ count: 3 });
    await again.quit();
    expect(await lab.stored(account)).toEqual(before);
  });
});
