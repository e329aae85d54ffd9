/**
 * PullDeps.afterSession, the step the AWS search flush runs in: it runs once per run after QUIT,
 * while the run still holds the mailbox lease, and its failure changes nothing about the run.
 */
import { describe, expect, it } from 'vitest';
import { type AfterSession, runPull } from '../../functions/core/pull/pull-run.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { message, scripted } from '../support/pop3-test-kit.js';
import { pullDeps, scriptedPull, TestClock } from '../support/pull-test-kit.js';

function setUp() {
  const rawStore = new MemoryRawStore();
  const index = new MemoryMessageIndex();
  const clock = new TestClock();
  return { rawStore, index, clock };
}

describe('afterSession', () => {
  it('runs after every DELE and QUIT, with the lease still held by the run', async () => {
    const server = await scripted({ messages: [message('a', 'Subject: a\r\n\r\nhello\r\n')] });
    const { rawStore, index, clock } = setUp();
    const seen: { call: AfterSession; holder: string | null; onServer: number }[] = [];
    const run = await runPull(
      scriptedPull(server, clock.ms),
      pullDeps(
        {
          rawStore,
          index,
          afterSession: async (call) => {
            const holder = await index.leaseHolder(call.mailboxId);
            seen.push({ call, holder: holder?.owner ?? null, onServer: server.messages.length });
          },
        },
        clock,
      ),
    );
    expect(run.outcome).toBe('success');
    expect(seen).toHaveLength(1);
    const [only] = seen;
    expect(only?.call.mailboxId).toBe('mbx-1');
    expect(only?.call.runId).toBe(run.runId);
    expect(only?.call.leaseSignal.aborted).toBe(false);
    expect(only?.holder).toBe(run.runId);
    expect(only?.onServer).toBe(0);
    // Released after it.
    expect(await index.leaseHolder('mbx-1')).toBeNull();
  });

  it('a failure is logged and leaves the outcome, the counts and the archive as they were', async () => {
    const server = await scripted({ messages: [message('a', 'Subject: a\r\n\r\nhello\r\n')] });
    const { rawStore, index, clock } = setUp();
    const errors: { message: string; attributes: Record<string, unknown> | undefined }[] = [];
    const run = await runPull(
      scriptedPull(server, clock.ms),
      pullDeps(
        {
          rawStore,
          index,
          logger: {
            info() {},
            warn() {},
            error: (message, attributes) => errors.push({ message, attributes }),
          },
          afterSession: async () => {
            throw new Error('search flush exploded');
          },
        },
        clock,
      ),
    );
    expect(run.outcome).toBe('success');
    expect(run.counts).toMatchObject({ stored: 1, deleted: 1 });
    expect(index.messages.size).toBe(1);
    expect(errors).toEqual([
      {
        message: 'the work after the session failed; the archived mail is unaffected',
        attributes: expect.objectContaining({ mailboxId: 'mbx-1', runId: run.runId }),
      },
    ]);
    expect(await index.leaseHolder('mbx-1')).toBeNull();
  });

  it('does not run for a run that never got the lease', async () => {
    const server = await scripted({ messages: [] });
    const { rawStore, index, clock } = setUp();
    await index.acquireLease({ mailboxId: 'mbx-1', owner: 'other', now: clock.ms, ttlMs: 60_000 });
    let calls = 0;
    const run = await runPull(
      scriptedPull(server, clock.ms),
      pullDeps(
        {
          rawStore,
          index,
          afterSession: async () => {
            calls++;
          },
        },
        clock,
      ),
    );
    expect(run.outcome).toBe('retry-later');
    expect(calls).toBe(0);
  });
});
