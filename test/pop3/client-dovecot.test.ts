import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { Pop3Client, type Pop3ClientOptions } from '../../functions/core/pop3/client.js';
import { Pop3AuthError } from '../../functions/core/pop3/errors.js';
import { maildirMessageCount, seedMailbox, toWireForm, uniqueUser } from '../support/dovecot.js';
import { collect, connect, expectPop3Error, sha256 } from '../support/pop3-test-kit.js';

const lab = inject('dovecot');

function options(user: string, over: Partial<Pop3ClientOptions> = {}): Pop3ClientOptions {
  return {
    host: lab.host,
    port: lab.tlsPort,
    tls: 'implicit',
    ca: lab.caPem,
    credentials: { user, password: lab.password },
    ...over,
  };
}

function mail(subject: string, body: string | Buffer): Buffer {
  const head = Buffer.from(
    `From: sender@example.com\nTo: rcpt@example.com\nSubject: ${subject}\nMessage-ID: <${subject.replace(/\W/g, '')}@example.com>\n\n`,
  );
  return Buffer.concat([head, typeof body === 'string' ? Buffer.from(body) : body]);
}

/** 8-bit bytes (no NUL, CR or LF) in lines of 76, as a raw 8bit MIME body would carry them. */
function eightBitBody(octets: number): Buffer {
  const out = Buffer.alloc(octets);
  for (let i = 0; i < octets; i += 1) out[i] = i % 77 === 76 ? 0x0a : 0x80 + (i % 127);
  out[octets - 1] = 0x0a;
  return out;
}

function base64Attachment(octets: number): string {
  const data = randomBytes(octets).toString('base64');
  const lines = data.match(/.{1,76}/g) ?? [];
  return [
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b"',
    '',
    '--b',
    'Content-Type: text/plain',
    '',
    'see attachment',
    '--b',
    'Content-Type: application/octet-stream; name="blob.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    ...lines,
    '--b--',
    '',
  ].join('\n');
}

describe('login against Dovecot', () => {
  const methods = [
    ['user', 'implicit'],
    ['plain', 'implicit'],
    ['apop', 'implicit'],
    ['user', 'starttls'],
    ['plain', 'starttls'],
  ] as const;
  for (const [method, tls] of methods) {
    it(`logs in with ${method} over ${tls} TLS`, async () => {
      const user = uniqueUser(`login-${method}`);
      const client = await connect(
        options(user, {
          tls,
          port: tls === 'implicit' ? lab.tlsPort : lab.plainPort,
          credentials: { user, password: lab.password, method },
        }),
      );
      expect(client.authMethod).toBe(method);
      expect(await client.stat()).toEqual({ count: 0, octets: 0 });
      await client.quit();
    });
  }

  it('chooses SASL PLAIN by itself from CAPA and re-reads CAPA after STLS (no STLS left)', async () => {
    const user = uniqueUser('auto');
    const client = await connect(options(user, { tls: 'starttls', port: lab.plainPort }));
    expect(client.authMethod).toBe('plain');
    expect(client.capabilities.has('STLS')).toBe(false);
    expect(client.capabilities.has('UIDL')).toBe(true);
    expect(client.pipelining).toBe(true);
    await client.quit();
  });

  it("a wrong password is AUTH_FAILED with Dovecot's [AUTH] text and no trace of the password", async () => {
    const user = uniqueUser('badpass');
    const err = await expectPop3Error(
      Pop3Client.connect(
        options(user, { credentials: { user, password: 'not-the-lab-password', method: 'user' } }),
      ),
      'AUTH_FAILED',
    );
    expect(err).toBeInstanceOf(Pop3AuthError);
    expect((err as Pop3AuthError).responseCode).toBe('AUTH');
    expect(`${err.message}${JSON.stringify(err)}`).not.toContain('not-the-lab-password');
  });

  it('plaintext to loopback works only with the insecure flag', async () => {
    const user = uniqueUser('plain');
    await expectPop3Error(
      Pop3Client.connect(options(user, { tls: 'none', port: lab.plainPort })),
      'INSECURE_REFUSED',
    );
    const client = await connect(
      options(user, { tls: 'none', insecure: true, port: lab.plainPort }),
    );
    await client.quit();
  });

  it('plaintext to a non-loopback host is refused before any connection, even with insecure', async () => {
    await expectPop3Error(
      Pop3Client.connect(
        options('x', { host: 'pop.example.com', tls: 'none', insecure: true, port: 110 }),
      ),
      'INSECURE_REFUSED',
    );
  });
});

describe('TLS verification', () => {
  it('an untrusted CA fails with TLS_UNTRUSTED', async () => {
    await expectPop3Error(
      Pop3Client.connect(options('x', { ca: lab.otherCaPem })),
      'TLS_UNTRUSTED',
    );
  });

  it('the system trust store alone does not trust the lab certificate', async () => {
    const { ca: _ignored, ...withoutCa } = options('x');
    await expectPop3Error(Pop3Client.connect(withoutCa), 'TLS_UNTRUSTED');
  });

  it('a certificate that does not name the host fails with TLS_HOSTNAME_MISMATCH (implicit and STLS)', async () => {
    await expectPop3Error(
      Pop3Client.connect(options('x', { host: lab.mismatchHost })),
      'TLS_HOSTNAME_MISMATCH',
    );
    await expectPop3Error(
      Pop3Client.connect(
        options('x', { host: lab.mismatchHost, tls: 'starttls', port: lab.plainPort }),
      ),
      'TLS_HOSTNAME_MISMATCH',
    );
  });

  it('a pin that does not match fails with TLS_PIN_MISMATCH; the right pin passes', async () => {
    const wrong = sha256(Buffer.from('some other certificate'));
    await expectPop3Error(
      Pop3Client.connect(options('x', { pinSha256: wrong })),
      'TLS_PIN_MISMATCH',
    );
    const client = await connect(
      options(uniqueUser('pin'), { pinSha256: lab.serverFingerprint256.toLowerCase() }),
    );
    await client.quit();
  });
});

describe('mailbox contents', () => {
  it('STAT, LIST and UIDL agree with the seeded mail', async () => {
    const user = uniqueUser('listing');
    const messages = Array.from({ length: 7 }, (_, i) =>
      mail(`listing ${i}`, `body ${i}\n${'z'.repeat(i * 100)}\n`),
    );
    seedMailbox(lab, user, messages);
    const client = await connect(options(user));
    const sizes = messages.map((m) => toWireForm(m).length);
    expect(await client.stat()).toEqual({ count: 7, octets: sizes.reduce((a, b) => a + b, 0) });
    expect(await client.list()).toEqual(sizes.map((octets, i) => ({ msg: i + 1, octets })));
    const uids = await client.uidl();
    expect(uids.map((u) => u.msg)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(uids.map((u) => u.uid)).size).toBe(7);
    expect(await client.uidlOne(4)).toEqual(uids[3]);
    await client.quit();
  });

  it('RETR returns exactly the bytes Dovecot serves: dot lines, 8-bit body, a 2 MB line, a 6 MB attachment', async () => {
    const user = uniqueUser('bytes');
    const messages = [
      mail('dots', '.\n..\n.hidden\n...three\nend\n.\n'),
      mail('eight-bit', eightBitBody(200_000)),
      mail('long-line', `${'L'.repeat(2 * 1024 * 1024)}\n`),
      mail('attachment', base64Attachment(6 * 1024 * 1024)),
    ];
    seedMailbox(lab, user, messages);
    const client = await connect(options(user));
    const listed = await client.list();
    for (const [i, original] of messages.entries()) {
      const got = await collect(await client.retr(i + 1));
      const expected = toWireForm(original);
      expect(got.length).toBe(expected.length);
      expect(got.length).toBe(listed[i]?.octets);
      expect(sha256(got)).toBe(sha256(expected));
    }
    await client.quit();
  });

  it('TOP returns the headers and the first body lines', async () => {
    const user = uniqueUser('top');
    seedMailbox(lab, user, [mail('top', 'one\ntwo\nthree\n')]);
    const client = await connect(options(user));
    const top = (await collect(await client.top(1, 2))).toString();
    expect(top.endsWith('\r\n\r\none\r\ntwo\r\n')).toBe(true);
    await client.quit();
  });

  it('pipelined and unpipelined retrieval of 300 messages return identical bytes', async () => {
    const user = uniqueUser('pipeline');
    const messages = Array.from({ length: 300 }, (_, i) =>
      mail(
        `p${i}`,
        `${`.line ${i}\n`.repeat(i % 13)}${randomBytes(200 + ((i * 7919) % 20_000)).toString('base64')}\n`,
      ),
    );
    seedMailbox(lab, user, messages);
    const expected = messages.map((m) => sha256(toWireForm(m)));
    const hashesWith = async (pipelining: boolean): Promise<string[]> => {
      const client = await connect(options(user, { pipelining }));
      expect(client.pipelining).toBe(pipelining);
      const hashes: string[] = [];
      for await (const item of client.retrieveMany(messages.map((_, i) => i + 1))) {
        if (!item.body) throw item.error;
        hashes.push(sha256(await collect(item.body)));
      }
      await client.quit();
      return hashes;
    };
    expect(await hashesWith(true)).toEqual(expected);
    expect(await hashesWith(false)).toEqual(expected);
  });
});

describe('deletion happens only at QUIT', () => {
  it('DELE then QUIT removes the messages', async () => {
    const user = uniqueUser('dele-quit');
    seedMailbox(lab, user, [mail('a', 'a\n'), mail('b', 'b\n'), mail('c', 'c\n')]);
    const client = await connect(options(user));
    await Promise.all([client.dele(1), client.dele(3)]);
    await client.quit();
    expect(maildirMessageCount(lab, user)).toBe(1);
    const again = await connect(options(user));
    expect((await again.stat()).count).toBe(1);
    await again.quit();
  });

  it('DELE without QUIT (socket destroyed) removes nothing', async () => {
    const user = uniqueUser('dele-drop');
    seedMailbox(lab, user, [mail('a', 'a\n'), mail('b', 'b\n')]);
    const client = await connect(options(user));
    await client.dele(1);
    await client.dele(2);
    client.close();
    // Dovecot frees the session's lock once it sees the drop; the next login waits for that.
    const again = await connect(options(user));
    expect((await again.stat()).count).toBe(2);
    await again.quit();
    expect(maildirMessageCount(lab, user)).toBe(2);
  });

  it('RSET unmarks: DELE, RSET, QUIT removes nothing', async () => {
    const user = uniqueUser('rset');
    seedMailbox(lab, user, [mail('a', 'a\n')]);
    const client = await connect(options(user));
    await client.dele(1);
    await client.rset();
    await client.quit();
    expect(maildirMessageCount(lab, user)).toBe(1);
  });
});

describe('a locked maildrop (pop3_lock_session = yes)', () => {
  it('holds a second login until the first session ends; a short reply timeout turns the wait into TIMEOUT', async () => {
    const user = uniqueUser('lock');
    seedMailbox(lab, user, [mail('a', 'a\n'), mail('b', 'b\n')]);
    const first = await connect(options(user));

    const impatient = await expectPop3Error(
      Pop3Client.connect(options(user, { idleTimeoutMs: 1_000 })),
      'TIMEOUT',
    );
    expect(impatient).toMatchObject({ phase: 'reply' });
    expect(impatient.temporary).toBe(true);

    let secondDone = false;
    const second = connect(options(user)).then((client) => {
      secondDone = true;
      return client;
    });
    // A full round trip on the first session while the second waits: the second must still be held.
    await first.dele(1);
    await first.noop();
    expect(secondDone).toBe(false);
    await first.quit();
    const client = await second;
    expect((await client.stat()).count).toBe(1);
    await client.quit();
  });
});
