import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import type { MessageParser } from '../../functions/core/pull/message-spool.js';
import { PULL_DEFAULTS } from '../../functions/core/pull/pull-options.js';
import { type PullProgress, runPull } from '../../functions/core/pull/pull-run.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { message, scripted, sha256 } from '../support/pop3-test-kit.js';
import {
  countingParser,
  pullDeps,
  scriptedPull,
  TestClock,
  withFaults,
} from '../support/pull-test-kit.js';
import type { ScriptedMessage, ScriptedServer } from '../support/scripted-pop3-server.js';

function corpus(n: number, prefix = 'm'): ScriptedMessage[] {
  return Array.from({ length: n }, (_, i) =>
    message(
      `${prefix}${i + 1}`,
      `Subject: ${prefix} ${i + 1}\r\n\r\n${'body '.repeat(i * 50)}\r\n`,
    ),
  );
}

class Archive {
  readonly rawStore = new MemoryRawStore();
  readonly index = new MemoryMessageIndex();
  readonly clock = new TestClock();

  /** The archive holds each message exactly once, byte for byte. */
  expectHoldsExactly(messages: ScriptedMessage[], mailboxId = 'mbx-1'): void {
    const hashes = new Set(messages.map((m) => sha256(m.body)));
    expect(this.rawStore.objects.size).toBe(hashes.size);
    for (const m of messages) {
      const key = rawObjectKey(mailboxId, sha256(m.body));
      expect(this.rawStore.objects.get(key)?.equals(m.body)).toBe(true);
    }
    expect(this.index.messages.size).toBe(messages.length);
  }
}

/** The invariant: every message gone from the server is in the archive, bytes and record. */
function expectNothingLost(
  server: ScriptedServer,
  original: ScriptedMessage[],
  archive: Archive,
): void {
  const onServer = new Set(server.messages.map((m) => m.uid));
  for (const m of original) {
    if (onServer.has(m.uid)) continue;
    expect(archive.rawStore.objects.has(rawObjectKey('mbx-1', sha256(m.body)))).toBe(true);
    expect([...archive.index.messages.values()].some((r) => r.sha256 === sha256(m.body))).toBe(
      true,
    );
  }
}

describe('pull run: policies', () => {
  it('delete: archives every message once, then DELE + QUIT empties the server', async () => {
    const mail = corpus(6);
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.outcome).toBe('success');
    expect(run.counts).toMatchObject({
      listed: 6,
      retrieved: 6,
      stored: 6,
      deleted: 6,
      failed: 0,
      remainingOnServer: 0,
    });
    expect(server.messages).toEqual([]);
    a.expectHoldsExactly(mail);
    expect([...a.index.messages.values()].every((r) => r.deletedFromServerAt !== null)).toBe(true);
    expect(a.index.runs).toHaveLength(1);
  });

  it('keep: archives each UIDL once across runs and never sends DELE', async () => {
    const mail = corpus(4);
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    const first = await runPull(
      scriptedPull(server, a.clock.ms, { policy: { kind: 'keep' } }),
      pullDeps(a, a.clock),
    );
    expect(first.counts).toMatchObject({ stored: 4, deleted: 0, remainingOnServer: 4 });
    server.messages.push(message('late', 'Subject: late\r\n\r\nlate\r\n'));
    const second = await runPull(
      scriptedPull(server, a.clock.ms, { policy: { kind: 'keep' } }),
      pullDeps(a, a.clock),
    );
    expect(second.counts).toMatchObject({
      listed: 5,
      retrieved: 1,
      stored: 1,
      alreadyStored: 4,
      deleted: 0,
    });
    expect(server.sessions.flatMap((s) => s.commands).some((c) => c.startsWith('DELE'))).toBe(
      false,
    );
    a.expectHoldsExactly([...mail, message('late', 'Subject: late\r\n\r\nlate\r\n')]);
  });

  it('delete-after-days: DELE only once a message has been archived for N days (controlled clock)', async () => {
    const mail = corpus(3);
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    const policy = { kind: 'delete-after-days', days: 7 } as const;
    const pull = () => runPull(scriptedPull(server, a.clock.ms, { policy }), pullDeps(a, a.clock));
    expect((await pull()).counts).toMatchObject({ stored: 3, deleted: 0 });
    a.clock.advanceDays(6);
    expect((await pull()).counts).toMatchObject({ retrieved: 0, alreadyStored: 3, deleted: 0 });
    a.clock.advanceDays(1);
    expect((await pull()).counts).toMatchObject({ retrieved: 0, deleted: 3, remainingOnServer: 0 });
    expect(server.messages).toEqual([]);
  });

  it('keep on a server without UIDL is refused with a clear error; nothing is touched', async () => {
    const server = await scripted({ messages: corpus(2), capabilities: ['USER', 'TOP'] });
    const a = new Archive();
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { policy: { kind: 'keep' } }),
      pullDeps(a, a.clock),
    );
    expect(run.outcome).toBe('failed');
    expect(run.errorCode).toBe('CAPABILITY_MISSING');
    expect(run.errorMessage).toContain('UIDL');
    expect(server.messages).toHaveLength(2);
  });

  it('keep on a server with no CAPA and no UIDL gets the same clear refusal', async () => {
    const server = await scripted({
      messages: corpus(2),
      capabilities: ['USER'],
      handlers: {
        CAPA(ctx) {
          ctx.err('unknown command');
        },
      },
    });
    const a = new Archive();
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { policy: { kind: 'keep' } }),
      pullDeps(a, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'failed', errorCode: 'CAPABILITY_MISSING' });
    expect(run.errorMessage).toContain('use policy "delete"');
    expect(a.rawStore.objects.size).toBe(0);
  });

  it('delete on a server without UIDL identifies messages by content hash', async () => {
    const mail = corpus(3);
    const server = await scripted({ messages: [...mail], capabilities: ['USER', 'TOP'] });
    const a = new Archive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.counts).toMatchObject({ stored: 3, deleted: 3 });
    expect([...a.index.messages.values()].map((r) => r.messageKey).sort()).toEqual(
      mail.map((m) => `sha256:${sha256(m.body)}`).sort(),
    );
  });
});

/**
 * Holds every raw put until the run says it is waiting for storage (then lets the oldest go), or until
 * the whole mailbox has been retrieved. A run that kept retrieving past its bound would have more
 * puts waiting at once than the bound; one that stopped short of it would never reach it.
 */
function gatedPuts(archive: Archive, total: number) {
  const gate = { held: [] as Array<() => void>, maxHeld: 0, retrieved: 0 };
  const rawStore = withFaults(archive.rawStore, {
    put: async (input) => {
      await new Promise<void>((release) => {
        gate.held.push(release);
        gate.maxHeld = Math.max(gate.maxHeld, gate.held.length);
        if (gate.retrieved === total) release();
      });
      return archive.rawStore.put(input);
    },
  });
  const onProgress = (event: PullProgress): void => {
    if (event.kind === 'waiting') gate.held.shift()?.();
    if (event.kind !== 'retrieved') return;
    gate.retrieved += 1;
    if (gate.retrieved === total) for (const release of gate.held.splice(0)) release();
  };
  return { gate, rawStore, onProgress };
}

describe('pull run: persistence overlapping retrieval stays bounded', () => {
  it.each([
    ['the default', undefined],
    ['a store that asks for more (the local archive)', 40],
  ])(
    'many small messages: at most persistConcurrency are persisted at once, %s',
    async (_, asked) => {
      const bound = asked ?? PULL_DEFAULTS.persistConcurrency;
      const total = bound + 6;
      const mail = corpus(total);
      const server = await scripted({ messages: [...mail] });
      const a = new Archive();
      const { gate, rawStore, onProgress } = gatedPuts(a, total);
      const run = await runPull(
        scriptedPull(server, a.clock.ms, asked === undefined ? {} : { persistConcurrency: asked }),
        pullDeps({ ...a, rawStore, onProgress }, a.clock),
      );
      expect(run.outcome).toBe('success');
      expect(gate.maxHeld).toBe(bound);
      a.expectHoldsExactly(mail);
    },
  );

  it.each([
    {
      what: 'messages held in memory: retrieval waits once their bytes pass persistMemoryOctets',
      // Under the in-memory spool limit, so each is held as one Buffer until it is persisted.
      octets: 3 * 1000 * 1000,
      counts: 3 * 1000 * 1000,
    },
    {
      what: 'messages spooled to files: only as many are uploaded at once as their buffers allow',
      octets: PULL_DEFAULTS.memorySpoolOctets + 512 * 1000,
      counts: PULL_DEFAULTS.spoolFilePersistOctets,
    },
  ])('$what', async ({ octets, counts }) => {
    const perBound = Math.floor(PULL_DEFAULTS.persistMemoryOctets / counts) + 1;
    const total = perBound + 3;
    const mail = Array.from({ length: total }, (_, i) =>
      message(`m${i}`, `Subject: ${i}\r\n\r\n${`${'a'.repeat(998)}\r\n`.repeat(octets / 1000)}`),
    );
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    const { gate, rawStore, onProgress } = gatedPuts(a, total);
    const run = await runPull(
      // A count bound far above the memory bound, so the memory bound is what holds retrieval back.
      scriptedPull(server, a.clock.ms, { persistConcurrency: 1000 }),
      pullDeps({ ...a, rawStore, onProgress }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(gate.maxHeld).toBe(perBound);
    a.expectHoldsExactly(mail);
  });
});

describe('pull run: hostile listings and limits', () => {
  it('a UIDL listed twice for different messages archives both and deletes both', async () => {
    const a1 = message('dup', 'Subject: one\r\n\r\none\r\n');
    const a2 = message('dup', 'Subject: two\r\n\r\ntwo\r\n');
    const server = await scripted({ messages: [a1, a2] });
    const a = new Archive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.counts).toMatchObject({ stored: 2, deleted: 2 });
    a.expectHoldsExactly([a1, a2]);
    expect([...a.index.messages.values()].map((r) => r.messageKey).sort()).toEqual([
      'dup',
      `dup#sha256:${sha256(a2.body)}`,
    ]);
  });

  it('identical copies sharing a UIDL are stored once and both deleted', async () => {
    const copy = message('same', 'Subject: same\r\n\r\nsame\r\n');
    const server = await scripted({ messages: [copy, { ...copy }] });
    const a = new Archive();
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run.counts).toMatchObject({ stored: 1, alreadyStored: 1, deleted: 2 });
    expect(a.rawStore.objects.size).toBe(1);
    expect(a.index.messages.size).toBe(1);
  });

  it('UIDLs with "/", ".." and 70 characters are stored under safe keys', async () => {
    const mail = [
      message('../../etc/passwd', 'a\r\n'),
      message('a/b%2F..', 'b\r\n'),
      message('x'.repeat(70), 'c\r\n'),
    ];
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    for (const key of a.rawStore.objects.keys())
      expect(key).toMatch(/^raw\/[A-Za-z0-9_-]+\/[0-9a-f]{2}\/[0-9a-f]{64}\.eml$/);
    expect(server.messages).toEqual([]);
  });

  it('an oversize message is skipped and left on the server, or stored when asked', async () => {
    const mail = [message('small', 'small\r\n'), message('big', `${'x'.repeat(5000)}\r\n`)];
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    const skip = await runPull(
      scriptedPull(server, a.clock.ms, { maxMessageBytes: 1000 }),
      pullDeps(a, a.clock),
    );
    expect(skip.counts).toMatchObject({ skipped: 1, stored: 1, deleted: 1, remainingOnServer: 1 });
    expect(server.messages.map((m) => m.uid)).toEqual(['big']);
    const store = await runPull(
      scriptedPull(server, a.clock.ms, { maxMessageBytes: 1000, oversize: 'store' }),
      pullDeps(a, a.clock),
    );
    expect(store.counts).toMatchObject({ stored: 1, deleted: 1 });
    expect(server.messages).toEqual([]);
  });

  it('per-run caps stop early; the next run continues where this one stopped', async () => {
    const mail = corpus(5);
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    const first = await runPull(
      scriptedPull(server, a.clock.ms, { maxMessagesPerRun: 2 }),
      pullDeps(a, a.clock),
    );
    expect(first).toMatchObject({ outcome: 'partial', stopReason: 'budget-messages' });
    expect(first.counts).toMatchObject({ stored: 2, deleted: 2, remainingOnServer: 3 });
    const second = await runPull(
      scriptedPull(server, a.clock.ms, { maxBytesPerRun: 1 }),
      pullDeps(a, a.clock),
    );
    expect(second.stopReason).toBe('budget-octets');
    expect(second.counts.stored).toBe(1);
    const third = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(third.outcome).toBe('success');
    expect(server.messages).toEqual([]);
    a.expectHoldsExactly(mail);
  });

  it('a time budget too short for the mailbox ends with a clean QUIT; the next run finishes', async () => {
    const mail = corpus(8);
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    // Every clock read costs five seconds; with 60 s and 30 s kept back, only a few messages fit.
    const slow = new TestClock(a.clock.ms, 5_000);
    const first = await runPull(
      scriptedPull(server, slow.ms, { hardDeadline: slow.ms + 60_000, finishReserveMs: 30_000 }),
      pullDeps(a, slow),
    );
    expect(first.stopReason).toBe('budget-time');
    expect(first.counts.stored).toBeGreaterThan(0);
    expect(first.counts.stored).toBeLessThan(8);
    expect(server.sessions[0]?.commands).toContain('QUIT');
    expectNothingLost(server, mail, a);
    const second = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(second.outcome).toBe('success');
    expect(server.messages).toEqual([]);
    a.expectHoldsExactly(mail);
  });
});

describe('pull run: losing the lease, and the bookkeeping after QUIT', () => {
  it('a lease lost to another run mid-session drops the connection without QUIT: retry-later, nothing deleted', async () => {
    let lost: () => void = () => {};
    const leaseLost = new Promise<void>((resolve) => {
      lost = resolve;
    });
    const server = await scripted({
      messages: corpus(3),
      handlers: {
        async RETR(ctx) {
          // Stall the session until the renewal has found the lease gone.
          await leaseLost;
          await ctx.fallback();
        },
      },
    });
    const a = new Archive();
    let acquisitions = 0;
    const index = withFaults(a.index, {
      async acquireLease(request) {
        acquisitions += 1;
        if (acquisitions === 1) return a.index.acquireLease(request);
        lost();
        return false;
      },
    });
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { leaseTtlMs: 30 }),
      pullDeps({ rawStore: a.rawStore, index }, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'retry-later', errorCode: 'LEASE_LOST' });
    const session = await server.nextSession();
    await session.closed;
    expect(session.commands).not.toContain('QUIT');
    expect(server.messages).toHaveLength(3);
  });

  it('failing to mark records deleted after a good QUIT costs a warning, not the run', async () => {
    const mail = corpus(2);
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    const warnings: string[] = [];
    const index = withFaults(a.index, {
      async markDeleted() {
        throw new ArchiveError('STORE_UNAVAILABLE', 'throttled');
      },
    });
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps(
        {
          rawStore: a.rawStore,
          index,
          logger: { info() {}, error() {}, warn: (message) => warnings.push(message) },
        },
        a.clock,
      ),
    );
    expect(run).toMatchObject({ outcome: 'success', counts: { stored: 2, deleted: 2 } });
    expect(server.messages).toEqual([]);
    expect(warnings).toContain('could not mark records deleted-from-server');
    a.expectHoldsExactly(mail);
  });
});

describe('pull run: mail that cannot be parsed', () => {
  it('a parser that breaks mid-message still leaves the message archived raw, indexed with the error, and deleted', async () => {
    const mail = [
      message('broken', 'Subject: x\r\n\r\nbody\r\n'),
      message('fine', 'Subject: y\r\n\r\nok\r\n'),
    ];
    const server = await scripted({ messages: [...mail] });
    const a = new Archive();
    let calls = 0;
    const breakingParser = (): MessageParser => {
      calls += 1;
      if (calls > 1) return countingParser();
      const sink = new Writable({
        write(_chunk, _encoding, callback) {
          callback(new Error('parser exploded'));
        },
      });
      const exploded = Promise.reject(new Error('parser exploded'));
      return { sink, metadata: exploded, text: exploded };
    };
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ ...a, createParser: breakingParser }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(server.messages).toEqual([]);
    a.expectHoldsExactly(mail);
    const broken = await a.index.getMessage('mbx-1', 'broken');
    expect(broken?.parseError).toContain('parser exploded');
  });

  it('the real parser on mail that is not mail at all: archived raw, indexed, deleted', async () => {
    const junk = [
      { uid: 'binary', body: Buffer.concat([randomBytes(4096), Buffer.from('\r\n')]) },
      message('no-headers', '\r\n\r\n\r\njust blank lines then text\r\n'),
      message('bad-mime', 'Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n'),
    ];
    const server = await scripted({ messages: [...junk] });
    const a = new Archive();
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ ...a, createParser: createMessageParser }, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'success', counts: { stored: 3, deleted: 3 } });
    a.expectHoldsExactly(junk);
  });
});

describe('pull run: who may open a session', () => {
  it('a held lease ends the run as retry-later without opening a POP3 session', async () => {
    const server = await scripted({ messages: corpus(1) });
    const a = new Archive();
    await a.index.acquireLease({
      mailboxId: 'mbx-1',
      owner: 'other-run',
      now: a.clock.ms,
      ttlMs: 60_000,
    });
    const run = await runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock));
    expect(run).toMatchObject({ outcome: 'retry-later', errorCode: 'LEASE_HELD' });
    expect(server.sessions).toHaveLength(0);
  });

  it('two runs started together: one works, the other is retry-later with no session', async () => {
    const server = await scripted({ messages: corpus(3) });
    const a = new Archive();
    const [r1, r2] = await Promise.all([
      runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock)),
      runPull(scriptedPull(server, a.clock.ms), pullDeps(a, a.clock)),
    ]);
    expect([r1.outcome, r2.outcome].sort()).toEqual(['retry-later', 'success']);
    expect(server.sessions).toHaveLength(1);
  });

  for (const [reply, outcome] of [
    ['-ERR [IN-USE] locked by another session', 'retry-later'],
    ['-ERR [LOGIN-DELAY] wait', 'retry-later'],
    ['-ERR [AUTH] bad credentials', 'failed'],
  ] as const) {
    it(`"${reply}" at login ends the run as ${outcome}, with nothing deleted`, async () => {
      const server = await scripted({
        messages: corpus(1),
        handlers: {
          async AUTH(ctx) {
            await ctx.session.writeLine(reply);
          },
        },
      });
      const a = new Archive();
      let invalidated = 0;
      const deps = pullDeps(
        {
          ...a,
          credentials: {
            get: async () => ({ user: 'alice', password: 'wonderland' }),
            invalidate: () => {
              invalidated += 1;
            },
          },
        },
        a.clock,
      );
      const run = await runPull(scriptedPull(server, a.clock.ms), deps);
      expect(run.outcome).toBe(outcome);
      expect(invalidated).toBe(reply.includes('[AUTH]') ? 1 : 0);
      expect(server.messages).toHaveLength(1);
      expect(a.index.leases.size).toBe(0);
    });
  }
});

describe('pull run: the session ends cleanly', () => {
  it('leaves no lease behind and records the run, even when the server is unreachable', async () => {
    const server = await scripted();
    const port = server.port;
    await server.close();
    const a = new Archive();
    const options = scriptedPull(server, a.clock.ms);
    const run = await runPull(
      { ...options, server: { ...options.server, port } },
      pullDeps(a, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'retry-later', errorCode: 'CONNECTION_FAILED' });
    expect(a.index.leases.size).toBe(0);
    expect(a.index.runs).toHaveLength(1);
  });

  it('uses the injected connect (the seam the Lambda handler and tests share)', async () => {
    const server = await scripted({ messages: corpus(1) });
    const a = new Archive();
    let connects = 0;
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps(
        {
          ...a,
          connect: (o) => {
            connects += 1;
            return Pop3Client.connect(o);
          },
        },
        a.clock,
      ),
    );
    expect(run.outcome).toBe('success');
    expect(connects).toBe(1);
  });
});
