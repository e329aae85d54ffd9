/**
 * How a session ends: QUIT commits only DELEs of messages archived whole, a DELE the server refuses
 * is that message's failure, a systemic store failure or a lost lease ends the session without QUIT
 * (which deletes nothing), and the bookkeeping after QUIT is written only when something was
 * deleted, its failure warned with the mailbox and error code.
 */
import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import type { MemoryMessageIndex } from '../support/memory-archive.js';
import { message, scripted } from '../support/pop3-test-kit.js';
import { memoryArchive, recordingLogger } from '../support/pull-run-fixtures.js';
import { pullDeps, scriptedPull, withFaults } from '../support/pull-test-kit.js';
import type { ScriptedMessage } from '../support/scripted-pop3-server.js';

function mailbox(n: number): ScriptedMessage[] {
  return Array.from({ length: n }, (_, i) => message(`u${i + 1}`, `Subject: ${i}\r\n\r\nx\r\n`));
}

/** The index keys each markDeleted call was given. */
function recordingMarks(index: MemoryMessageIndex) {
  const marked: string[][] = [];
  const recording = withFaults(index, {
    markDeleted: (mailboxId: string, keys: string[], at: string) => {
      marked.push(keys);
      return index.markDeleted(mailboxId, keys, at);
    },
  });
  return { marked, index: recording };
}

describe('DELE and QUIT', () => {
  it('a DELE the server refuses is that message’s failure: the rest are deleted and marked, the run partial', async () => {
    const server = await scripted({
      messages: mailbox(3),
      handlers: {
        DELE: (ctx) => (ctx.args === '2' ? ctx.err('[IN-USE] message locked') : ctx.fallback()),
      },
    });
    const a = memoryArchive();
    const { marked, index } = recordingMarks(a.index);
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ rawStore: a.rawStore, index }, a.clock),
    );
    expect(run.outcome).toBe('partial');
    expect(run.counts).toMatchObject({ stored: 3, deleted: 2, failed: 1, remainingOnServer: 1 });
    expect(run.failures).toEqual([
      {
        messageKey: 'u2',
        errorCode: expect.any(String),
        message: expect.stringContaining('locked'),
      },
    ]);
    expect(server.messages.map((m) => m.uid)).toEqual(['u2']);
    expect(marked).toEqual([['u1', 'u3']]);
  });

  it('a run that deletes nothing asks the index to mark nothing', async () => {
    const server = await scripted({ messages: mailbox(2) });
    const a = memoryArchive();
    const { marked, index } = recordingMarks(a.index);
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { policy: { kind: 'keep' } }),
      pullDeps({ rawStore: a.rawStore, index }, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'success', counts: { stored: 2, deleted: 0 } });
    expect(server.sessions[0]?.commands).toContain('QUIT');
    expect(marked).toEqual([]);
  });

  it('records that cannot be marked deleted are warned about with the mailbox and error code', async () => {
    const server = await scripted({ messages: mailbox(1) });
    const a = memoryArchive();
    const logger = recordingLogger();
    const index = withFaults(a.index, {
      async markDeleted() {
        throw new ArchiveError('STORE_UNAVAILABLE', 'throttled');
      },
    });
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ rawStore: a.rawStore, index, logger }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(
      logger.lines.filter(([, m]) => m === 'could not mark records deleted-from-server'),
    ).toEqual([
      ['warn', expect.any(String), { mailboxId: 'mbx-1', errorCode: 'STORE_UNAVAILABLE' }],
    ]);
  });
});

describe('a systemic store failure', () => {
  it('after a message was archived and its DELE sent: no QUIT, so nothing leaves the server', async () => {
    const server = await scripted({ messages: mailbox(2) });
    const a = memoryArchive();
    let puts = 0;
    const rawStore = withFaults(a.rawStore, {
      put: (input) => {
        puts += 1;
        if (puts === 1) return a.rawStore.put(input);
        return Promise.reject(new ArchiveError('STORE_ACCESS_DENIED', 'Access Denied'));
      },
    });
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ rawStore, index: a.index }, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'failed', errorCode: 'STORE_ACCESS_DENIED' });
    expect(run.counts).toMatchObject({ stored: 1, deleted: 0, remainingOnServer: 2 });
    expect(server.sessions[0]?.commands).not.toContain('QUIT');
    expect(server.messages).toHaveLength(2);
  });

  it('stops retrieval: no message after the failure is received or stored', async () => {
    const server = await scripted({ messages: mailbox(3) });
    const a = memoryArchive();
    const rawStore = withFaults(a.rawStore, {
      put: () => {
        a.rawStore.puts += 1;
        return Promise.reject(new ArchiveError('STORE_ACCESS_DENIED', 'Access Denied'));
      },
    });
    // One persistence at a time: the failure is in before the next message is looked at.
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { persistConcurrency: 1 }),
      pullDeps({ rawStore, index: a.index }, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'failed', errorCode: 'STORE_ACCESS_DENIED' });
    expect(run.counts).toMatchObject({ retrieved: 1, failed: 1 });
    expect(a.rawStore.puts).toBe(1);
  });
});

/**
 * A lease store that renews until `lose()` is called and refuses every renewal after it; `lost`
 * resolves at the first refusal, `manyRenewalsLater` twenty refusals (every 10 ms) after it: time
 * enough for a dropped socket to show at the server.
 */
function losableLease(index: MemoryMessageIndex) {
  let losing = false;
  let refusals = 0;
  let lostNow: () => void = () => {};
  const lost = new Promise<void>((resolve) => {
    lostNow = resolve;
  });
  let enough: () => void = () => {};
  const manyRenewalsLater = new Promise<'still open'>((resolve) => {
    enough = () => resolve('still open');
  });
  const lease = withFaults(index, {
    async acquireLease(request) {
      if (!losing) return index.acquireLease(request);
      lostNow();
      refusals += 1;
      if (refusals > 20) enough();
      return false;
    },
  });
  return {
    index: lease,
    lose: () => {
      losing = true;
    },
    lost,
    manyRenewalsLater,
  };
}

describe('a lease lost mid-session', () => {
  it('drops the connection at once, while the server is still holding back its reply', async () => {
    const a = memoryArchive();
    const lease = losableLease(a.index);
    let observed: (what: 'closed' | 'still open') => void = () => {};
    const seenByServer = new Promise<'closed' | 'still open'>((resolve) => {
      observed = resolve;
    });
    const server = await scripted({
      messages: mailbox(2),
      handlers: {
        async RETR(ctx) {
          lease.lose();
          await lease.lost;
          const seen = await Promise.race([
            ctx.session.closed.then(() => 'closed' as const),
            lease.manyRenewalsLater,
          ]);
          observed(seen);
          if (seen === 'still open') await ctx.fallback();
        },
      },
    });
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { leaseTtlMs: 30 }),
      pullDeps({ rawStore: a.rawStore, index: lease.index }, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'retry-later', errorCode: 'LEASE_LOST' });
    expect(await seenByServer).toBe('closed');
    expect(server.messages).toHaveLength(2);
  });

  it('lost while logging in: the session ends before the mailbox is listed or read', async () => {
    const a = memoryArchive();
    const lease = losableLease(a.index);
    const server = await scripted({
      capabilities: ['UIDL', 'USER'],
      messages: mailbox(2),
      handlers: {
        async PASS(ctx) {
          lease.lose();
          await lease.lost;
          await ctx.fallback();
        },
      },
    });
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { leaseTtlMs: 30 }),
      pullDeps({ rawStore: a.rawStore, index: lease.index }, a.clock),
    );
    expect(run).toMatchObject({ outcome: 'retry-later', errorCode: 'LEASE_LOST' });
    const session = await server.nextSession();
    await session.closed;
    const verbs = session.commands.map((c) => c.split(' ')[0]);
    expect(verbs).not.toContain('LIST');
    expect(verbs).not.toContain('UIDL');
    expect(verbs).not.toContain('RETR');
    expect(server.messages).toHaveLength(2);
  });
});

describe('a run without after-session work', () => {
  it('logs no error: there is nothing to run after the session', async () => {
    const server = await scripted({ messages: mailbox(1) });
    const a = memoryArchive();
    const logger = recordingLogger();
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ ...a, logger }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(logger.lines.filter(([level]) => level === 'error')).toEqual([]);
  });
});
