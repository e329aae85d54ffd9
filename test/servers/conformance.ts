/**
 * One conformance suite, run against every real POP3 server Debian ships (test/servers/*.test.ts).
 * Each check runs on every server; where a server cannot do something, SERVER_FACTS says so with the
 * reason, and the check asserts what that server does instead, so a server that changes its ways
 * fails the suite rather than being skipped.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalRawStore } from '../../functions/adapters/local/local-raw-store.js';
import { SqliteMessageIndex } from '../../functions/adapters/local/sqlite-message-index.js';
import type { MessageMetadata, RunRecord } from '../../functions/core/archive/ports.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import {
  type LoginMechanism,
  Pop3Client,
  type Pop3ClientOptions,
  type Utf8Mode,
} from '../../functions/core/pop3/client.js';
import type { Pop3ErrorCode } from '../../functions/core/pop3/errors.js';
import type { PullOptions, ServerPolicy } from '../../functions/core/pull/pull-options.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import type { LabAccount, LabServerName, Pop3Lab } from '../support/pop3-lab.js';
import { collect, sha256 } from '../support/pop3-test-kit.js';

type PasswordMethod = Exclude<LoginMechanism, 'xoauth2'>;

/** What each server does, measured on the versions Debian 12 ships (see the README's table). */
export interface ServerFacts {
  /** Login methods that work, each over implicit TLS and over STLS. */
  auth: readonly PasswordMethod[];
  /** Methods that do not, with the error our client gives and why. */
  authUnavailable: ReadonlyArray<{ method: PasswordMethod; code: Pop3ErrorCode; why: string }>;
  /** RFC 6856 UTF-8 mode our client ends up in. */
  utf8: Utf8Mode;
  /** What a second session for a mailbox another session holds gets. */
  concurrentSession:
    | { kind: 'allowed'; why: string }
    | { kind: 'refused'; code: Pop3ErrorCode; why: string }
    | { kind: 'waits-for-the-first'; why: string };
  /** A second login within the server's login delay, as the lab configures it. */
  loginDelay: { kind: 'none'; why: string } | { kind: 'refused'; code: Pop3ErrorCode; why: string };
  /** The lab's message store changes a message's bytes the first time a session lists UIDLs. */
  rewritesOnFirstUidl: boolean;
}

export const SERVER_FACTS: Record<LabServerName, ServerFacts> = {
  dovecot: {
    auth: ['user', 'plain', 'apop'],
    authUnavailable: [],
    utf8: 'not-offered',
    concurrentSession: {
      kind: 'waits-for-the-first',
      why: 'with pop3_lock_session = yes, Dovecot 2.3 holds the second PASS until the first session ends; it never answers [IN-USE]',
    },
    loginDelay: { kind: 'none', why: 'Dovecot 2.3 has no POP3 login delay' },
    rewritesOnFirstUidl: false,
  },
  courier: {
    auth: ['user'],
    authUnavailable: [
      {
        method: 'plain',
        code: 'CAPABILITY_MISSING',
        why: 'Courier POP3 1.0.16 as Debian configures it lists no SASL in CAPA (it takes AUTH PLAIN unadvertised; popvault goes by CAPA, RFC 5034 s.3)',
      },
      {
        method: 'apop',
        code: 'CAPABILITY_MISSING',
        why: 'its greeting carries no APOP timestamp',
      },
    ],
    utf8: 'active',
    concurrentSession: {
      kind: 'allowed',
      why: 'Courier 1.0.16 takes no maildrop lock: both sessions see and may DELE every message',
    },
    loginDelay: {
      kind: 'none',
      why: 'Courier 1.0.16 advertises LOGIN-DELAY 10 but does not enforce it',
    },
    rewritesOnFirstUidl: false,
  },
  cyrus: {
    auth: ['user', 'plain', 'apop'],
    authUnavailable: [],
    utf8: 'not-offered',
    concurrentSession: {
      kind: 'allowed',
      why: 'Cyrus 3.6.1 lets a second session in; each sees the mailbox as it was at its login',
    },
    loginDelay: {
      kind: 'none',
      why: "the lab sets popminpoll: 0; Debian's popminpoll: 1 is tested in cyrus.test.ts",
    },
    rewritesOnFirstUidl: false,
  },
  mailutils: {
    auth: ['user'],
    authUnavailable: [
      {
        method: 'plain',
        code: 'CAPABILITY_MISSING',
        why: 'GNU Mailutils pop3d 3.15 has no SASL (AUTH answers -ERR Not implemented)',
      },
      {
        method: 'apop',
        code: 'AUTH_FAILED',
        why: 'its greeting has an APOP timestamp, but with no APOP database configured every APOP gets -ERR [AUTH] Bad login',
      },
    ],
    utf8: 'not-offered',
    concurrentSession: {
      kind: 'refused',
      code: 'IN_USE',
      why: 'with mandatory locking, pop3d 3.15 answers the second PASS with -ERR [IN-USE] Mailbox in use',
    },
    loginDelay: { kind: 'none', why: 'pop3d 3.15 neither advertises nor enforces a login delay' },
    rewritesOnFirstUidl: true,
  },
};

/** Pulls a test makes while a killed session's server process still holds the maildrop. */
const MAX_IN_USE_RETRIES = 200;

function isInUse(run: { outcome: string; errorCode: string | null }): boolean {
  return run.outcome === 'retry-later' && run.errorCode === 'IN_USE';
}

const FIXTURES = new URL('../fixtures/mail/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIXTURES));

/** Mail whose headers carry raw 8-bit octets (Latin-1, UTF-8) and raw ISO-2022-JP, and mail that
 * does not, with a line starting with "." and a long line: what a mailbox really holds. */
export function eightBitCorpus(): Buffer[] {
  const marker = randomBytes(4).toString('hex');
  const plain = Buffer.from(
    `From: Plain Sender <plain@example.com>\nTo: rcpt@example.com\nSubject: plain ${marker}\nMessage-ID: <plain-${marker}@example.com>\n\n.starts with a dot\n..two dots\n${'x'.repeat(9000)}\nend\n`,
  );
  const binaryBody = Buffer.concat([
    Buffer.from(
      `From: Binary <bin@example.com>\nSubject: 8bit body ${marker}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: 8bit\n\n`,
    ),
    Buffer.from('Gr\u00fc\u00dfe, \u00e7a va? \u00a9 \u00ae \u00b5\n', 'latin1'),
  ]);
  return [
    fixture('raw-utf8-headers.eml'),
    fixture('raw-latin1-headers.eml'),
    fixture('raw-iso-2022-jp-headers.eml'),
    plain,
    binaryBody,
    fixture('multipart-alternative-attachments.eml'),
    fixture('encoded-words.eml'),
  ];
}

function largeMessage(octets: number): Buffer {
  const head = Buffer.from(
    'From: big@example.com\nSubject: large attachment\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="big"\n\n--big\nContent-Type: application/octet-stream; name="big.bin"\nContent-Transfer-Encoding: base64\n\n',
  );
  const line = `${randomBytes(57).toString('base64')}\n`;
  const lines = Math.ceil(octets / line.length);
  return Buffer.concat([head, Buffer.from(line.repeat(lines)), Buffer.from('--big--\n')]);
}

async function parse(bytes: Buffer): Promise<MessageMetadata> {
  const parser = createMessageParser();
  parser.sink.end(bytes);
  return parser.metadata;
}

/** The embedded archive a laptop pull writes to, in a directory of its own. */
function localArchive() {
  const directory = mkdtempSync(join(tmpdir(), 'popvault-conformance-'));
  return {
    rawStore: new LocalRawStore({ directory: join(directory, 'mail') }),
    index: new SqliteMessageIndex({ path: join(directory, 'index.sqlite') }),
  };
}

type Archive = ReturnType<typeof localArchive>;

export function describeConformance(name: LabServerName, start: () => Promise<Pop3Lab>): void {
  const facts = SERVER_FACTS[name];
  let lab: Pop3Lab;

  beforeAll(async () => {
    lab = await start();
  });
  afterAll(async () => {
    await lab?.stop();
  });

  function clientOptions(
    account: LabAccount,
    over: Partial<Pop3ClientOptions> = {},
  ): Pop3ClientOptions {
    return {
      host: lab.host,
      port: lab.tlsPort,
      tls: 'implicit',
      ca: lab.caPem,
      credentials: { user: account.user, password: account.password },
      ...over,
    };
  }

  let runs = 0;
  function pull(
    account: LabAccount,
    archive: Archive,
    over: { policy?: ServerPolicy; pipelining?: boolean; tls?: 'implicit' | 'starttls' } = {},
  ): Promise<RunRecord> {
    const tls = over.tls ?? 'implicit';
    const options: PullOptions = {
      mailboxId: `${name}-${account.user}`.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64),
      server: {
        host: lab.host,
        port: tls === 'implicit' ? lab.tlsPort : lab.plainPort,
        tls,
        ca: lab.caPem,
        pipelining: over.pipelining ?? true,
      },
      policy: over.policy ?? { kind: 'delete' },
      hardDeadline: Date.now() + 5 * 60_000,
    };
    return runPull(options, {
      ...archive,
      credentials: { get: async () => ({ user: account.user, password: account.password }) },
      createParser: createMessageParser,
      spoolDirectory: mkdtempSync(join(tmpdir(), 'popvault-spool-')),
      now: Date.now,
      newRunId: () => `${name}-run-${++runs}`,
    });
  }

  /**
   * What the server holds, as every session that lists UIDLs is served it. A server that rewrites
   * its files at the first UIDL (SERVER_FACTS.rewritesOnFirstUidl) is asked for them once first:
   * the value it writes carries the time of that command, so the bytes are only known after it.
   */
  async function heldAsServed(account: LabAccount): Promise<Buffer[]> {
    if (facts.rewritesOnFirstUidl) {
      const primer = await Pop3Client.connect(clientOptions(account));
      await primer.uidl();
      await primer.quit();
    }
    return lab.stored(account);
  }

  /** Every record of the mailbox, with the raw bytes its object holds. */
  async function archived(archive: Archive, run: RunRecord) {
    const page = await archive.index.listMessages(run.mailboxId, { limit: 100 });
    return Promise.all(
      page.items.map(async (record) => ({
        record,
        bytes: await collect(await archive.rawStore.get(record.rawKey)),
      })),
    );
  }

  describe(`${name}: login`, () => {
    for (const method of facts.auth) {
      for (const tls of ['implicit', 'starttls'] as const) {
        it(`logs in with ${method} over ${tls} TLS, the certificate verified`, async () => {
          const account = await lab.createUser();
          const client = await Pop3Client.connect(
            clientOptions(account, {
              tls,
              port: tls === 'implicit' ? lab.tlsPort : lab.plainPort,
              credentials: { user: account.user, password: account.password, method },
            }),
          );
          try {
            expect(client.authMethod).toBe(method);
            expect(client.capabilities.has('STLS')).toBe(false);
            expect(await client.stat()).toEqual({ count: 0, octets: 0 });
          } finally {
            await client.quit();
          }
        });
      }
    }
    for (const { method, code, why } of facts.authUnavailable) {
      it(`cannot log in with ${method}: ${why}`, async () => {
        const account = await lab.createUser();
        await expect(
          Pop3Client.connect(
            clientOptions(account, {
              credentials: { user: account.user, password: account.password, method },
            }),
          ),
        ).rejects.toMatchObject({ code });
      });
    }

    it(`a wrong password is AUTH_FAILED, and the password is in no error text`, async () => {
      const account = await lab.createUser();
      const wrong = `wrong-${randomBytes(6).toString('hex')}`;
      const err = await Pop3Client.connect(
        clientOptions(account, { credentials: { user: account.user, password: wrong } }),
      ).then(
        () => null,
        (e: unknown) => e as Error & { code: string },
      );
      expect(err?.code).toBe('AUTH_FAILED');
      expect(JSON.stringify({ message: err?.message, ...err })).not.toContain(wrong);
    });

    it(`ends in UTF-8 mode "${facts.utf8}"`, async () => {
      const account = await lab.createUser();
      const client = await Pop3Client.connect(clientOptions(account));
      expect(client.utf8Mode).toBe(facts.utf8);
      await client.quit();
    });
  });

  describe(`${name}: archiving`, () => {
    for (const pipelining of [true, false]) {
      it(`raw 8-bit mail, pipelining ${pipelining ? 'on' : 'off'}: archived byte-exact as the server holds it, indexed with its own sender and subject, gone from the server`, async () => {
        const account = await lab.createUser();
        const corpus = eightBitCorpus();
        await lab.deliver(account, corpus);
        const held = await heldAsServed(account);
        expect(held).toHaveLength(corpus.length);
        const archive = localArchive();
        const run = await pull(account, archive, { pipelining });
        expect(run.outcome).toBe('success');
        expect(run.counts).toMatchObject({ stored: corpus.length, deleted: corpus.length });
        expect(run.session).toEqual({ utf8: facts.utf8, sizeMismatches: 0, sizesSuspect: false });
        expect(await lab.stored(account)).toEqual([]);

        const items = await archived(archive, run);
        expect(items.map((i) => sha256(i.bytes)).sort()).toEqual(held.map(sha256).sort());
        for (const { record, bytes } of items) {
          const own = await parse(bytes);
          expect(record.sha256).toBe(sha256(bytes));
          expect({ subject: record.subject, from: record.from }).toEqual({
            subject: own.subject,
            from: own.from,
          });
        }
        // The message's own sender and subject, never a server-made stand-in.
        const subjects = items.map((i) => i.record.subject);
        expect(subjects).toContain('R\u00e9union \u00e0 Gen\u00e8ve, caf\u00e9 offert');
        expect(subjects).toContain('\u4f1a\u8b70\u306e\u4ef6');
        expect(subjects).toContain('Gr\u00fc\u00dfe aus K\u00f6ln \u2013 raw UTF-8 header');
        expect(items.flatMap((i) => i.record.from.map((f) => f.address))).toEqual(
          expect.arrayContaining(['francois@example.fr', 'yamada@example.jp', 'joerg@example.de']),
        );
      });
    }

    it('the first pull of new mail finds every LIST size in agreement with the octets served', async () => {
      const account = await lab.createUser();
      await lab.deliver(account, eightBitCorpus());
      const run = await pull(account, localArchive());
      expect(run.counts.stored).toBe(eightBitCorpus().length);
      expect(run.session?.sizeMismatches).toBe(0);
    });

    it('over STLS, keep then delete: UIDLs are stable across sessions, nothing is stored twice', async () => {
      const account = await lab.createUser();
      await lab.deliver(account, eightBitCorpus().slice(0, 3));
      const archive = localArchive();
      const keep = await pull(account, archive, { policy: { kind: 'keep' }, tls: 'starttls' });
      expect(keep.counts).toMatchObject({ stored: 3, deleted: 0, remainingOnServer: 3 });
      const again = await pull(account, archive, { policy: { kind: 'keep' }, tls: 'starttls' });
      expect(again.counts).toMatchObject({ stored: 0, alreadyStored: 3, retrieved: 0 });
      await lab.deliver(account, eightBitCorpus().slice(3, 4));
      const drain = await pull(account, archive, { tls: 'starttls' });
      expect(drain.counts).toMatchObject({ stored: 1, alreadyStored: 3, deleted: 4 });
      expect(await lab.stored(account)).toEqual([]);
    });

    it('a message over 25 MB is archived byte-exact and deleted', async () => {
      const account = await lab.createUser();
      await lab.deliver(account, [largeMessage(26 * 1024 * 1024)]);
      const [held] = await heldAsServed(account);
      const archive = localArchive();
      const run = await pull(account, archive);
      expect(run.outcome).toBe('success');
      expect(run.counts).toMatchObject({ stored: 1, deleted: 1 });
      const [item] = await archived(archive, run);
      expect(item?.bytes.length).toBe(held?.length);
      expect(sha256(item?.bytes ?? Buffer.alloc(0))).toBe(sha256(held ?? Buffer.alloc(1)));
    });
  });

  describe(`${name}: deletion happens only at QUIT`, () => {
    it('DELE then a dropped connection deletes nothing; DELE then QUIT deletes', async () => {
      const account = await lab.createUser();
      await lab.deliver(account, eightBitCorpus().slice(3, 5));
      const dropped = await Pop3Client.connect(clientOptions(account));
      await dropped.dele(1);
      await dropped.dele(2);
      dropped.close();
      expect(await lab.stored(account)).toHaveLength(2);

      const quitting = await Pop3Client.connect(clientOptions(account));
      expect((await quitting.stat()).count).toBe(2);
      await quitting.dele(1);
      await quitting.quit();
      expect(await lab.stored(account)).toHaveLength(1);
    });

    it('a session killed in the middle of RETR deletes nothing; the next pull archives every message once', async () => {
      const account = await lab.createUser();
      await lab.deliver(account, [largeMessage(3 * 1024 * 1024), ...eightBitCorpus().slice(3, 5)]);
      const held = await heldAsServed(account);
      const victim = await Pop3Client.connect(clientOptions(account));
      await victim.dele(2);
      const body = await victim.retr(1);
      for await (const _chunk of body) {
        // Killed after the first chunk of the body: the rest is still on the wire.
        victim.close();
        break;
      }
      expect(await lab.stored(account)).toHaveLength(3);

      const archive = localArchive();
      // The server's process for the killed session holds the maildrop until it notices the closed
      // socket; a pull that arrives first is refused IN_USE and retries later, as the next scheduled
      // run would. Nothing else may end a pull here.
      let run = await pull(account, archive);
      for (let again = 0; again < MAX_IN_USE_RETRIES && isInUse(run); again += 1) {
        run = await pull(account, archive);
      }
      expect({ outcome: run.outcome, errorCode: run.errorCode }).toEqual({
        outcome: 'success',
        errorCode: null,
      });
      expect(run.counts).toMatchObject({ stored: 3, deleted: 3 });
      const items = await archived(archive, run);
      expect(items.map((i) => sha256(i.bytes)).sort()).toEqual(held.map(sha256).sort());
      expect(await lab.stored(account)).toEqual([]);
    });
  });

  describe(`${name}: busy mailbox`, () => {
    const concurrent = facts.concurrentSession;
    it(`a second session while one is open: ${concurrent.kind} (${concurrent.why})`, async () => {
      const account = await lab.createUser();
      await lab.deliver(account, eightBitCorpus().slice(3, 4));
      const first = await Pop3Client.connect(clientOptions(account));
      try {
        if (concurrent.kind === 'allowed') {
          const second = await Pop3Client.connect(clientOptions(account));
          expect((await second.stat()).count).toBe(1);
          second.close();
        } else if (concurrent.kind === 'refused') {
          await expect(Pop3Client.connect(clientOptions(account))).rejects.toMatchObject({
            code: concurrent.code,
            temporary: true,
          });
          const archive = localArchive();
          const run = await pull(account, archive);
          expect(run.outcome).toBe('retry-later');
          expect(run.errorCode).toBe(concurrent.code);
        } else {
          let loggedIn = false;
          let credentialsSent: () => void = () => {};
          const sent = new Promise<void>((resolve) => {
            credentialsSent = resolve;
          });
          const second = Pop3Client.connect(
            clientOptions(account, {
              trace: (direction, line) => {
                if (direction === 'send' && /^(PASS|AUTH|APOP) /.test(line)) credentialsSent();
              },
            }),
          ).then((c) => {
            loggedIn = true;
            return c;
          });
          await sent;
          // Two round trips of the first session after the second sent its credentials: the
          // second is held, not the first.
          await first.noop();
          await first.noop();
          expect(loggedIn).toBe(false);
          await first.quit();
          const client = await second;
          expect((await client.stat()).count).toBe(1);
          client.close();
        }
      } finally {
        first.close();
      }
    });

    const delay = facts.loginDelay;
    it(`a second login right after the first: ${delay.kind === 'none' ? 'allowed' : `refused with ${delay.code}`} (${delay.why})`, async () => {
      const account = await lab.createUser();
      await lab.deliver(account, eightBitCorpus().slice(3, 4));
      const archive = localArchive();
      const first = await pull(account, archive, { policy: { kind: 'keep' } });
      expect(first.outcome).toBe('success');
      const second = await pull(account, archive, { policy: { kind: 'keep' } });
      if (delay.kind === 'none') {
        expect(second.outcome).toBe('success');
      } else {
        expect(second.outcome).toBe('retry-later');
        expect(second.errorCode).toBe(delay.code);
      }
    });
  });
}
