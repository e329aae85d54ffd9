import { describe, expect, it } from 'vitest';
import { type PullProgress, runPull } from '../../functions/core/pull/pull-run.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { message, scripted } from '../support/pop3-test-kit.js';
import { pullDeps, scriptedPull, TestClock } from '../support/pull-test-kit.js';

describe('a lease held by a run proved dead is taken over at once', () => {
  const deadOwner = 'crashed-run';

  async function pullWithStaleLease(isProvablyDead: (owner: string) => boolean) {
    const server = await scripted({ messages: [message('u1', 'Subject: a\r\n\r\nx\r\n')] });
    const a = {
      rawStore: new MemoryRawStore(),
      index: new MemoryMessageIndex(),
      clock: new TestClock(),
    };
    // A run that died a second ago: its lease has almost two minutes left.
    await a.index.acquireLease({
      mailboxId: 'mbx-1',
      owner: deadOwner,
      now: a.clock.ms - 1000,
      ttlMs: 120_000,
    });
    const events: PullProgress[] = [];
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps(
        {
          ...a,
          leaseIdentity: { ownerFor: (runId) => `me:${runId}`, isProvablyDead },
          onProgress: (e) => events.push(e),
        },
        a.clock,
      ),
    );
    return { run, events, index: a.index };
  }

  it('the holder proved dead: the run takes the lease, says so, finishes, and releases it', async () => {
    const { run, events, index } = await pullWithStaleLease((owner) => owner === deadOwner);
    expect(run.outcome).toBe('success');
    expect(events).toContainEqual({ kind: 'lease-taken-over', previousOwner: deadOwner });
    expect(await index.leaseHolder('mbx-1')).toBeNull();
  });

  it('the holder not proved dead: the run ends retry-later and the lease stays with it', async () => {
    const { run, events, index } = await pullWithStaleLease(() => false);
    expect(run.outcome).toBe('retry-later');
    expect(run.errorCode).toBe('LEASE_HELD');
    expect(events.some((e) => e.kind === 'lease-taken-over')).toBe(false);
    expect((await index.leaseHolder('mbx-1'))?.owner).toBe(deadOwner);
  });
});
