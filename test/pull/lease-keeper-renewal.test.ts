/**
 * The mailbox lease while a run holds it: renewed every third of its time to live, the run's signal
 * aborted with LEASE_LOST the moment another run holds it, and a store that fails to renew or release
 * it costing a warning, never the run. Fake timers stand in for the renewal interval.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import type { LeaseRequest, MailboxLease } from '../../functions/core/archive/ports.js';
import { LeaseError } from '../../functions/core/pull/lease-error.js';
import { acquireLease, LeaseKeeper } from '../../functions/core/pull/lease-keeper.js';
import type { RunLogger } from '../../functions/core/pull/pull-options.js';
import { MemoryMessageIndex } from '../support/memory-archive.js';
import { withFaults } from '../support/pull-test-kit.js';

const TERMS = { mailboxId: 'mbx-7', owner: 'run-a', ttlMs: 30_000 };
const NOW = Date.parse('2026-11-27T00:00:00Z');

type Logged = { message: string; attributes: Record<string, unknown> | undefined };

/** A logger whose warnings can be awaited: a warning is the only sign the failure was handled. */
function warningLogger(): { logger: RunLogger; nextWarning: Promise<Logged> } {
  let resolve: (w: Logged) => void = () => {};
  const nextWarning = new Promise<Logged>((r) => {
    resolve = r;
  });
  const logger: RunLogger = {
    info() {},
    error() {},
    warn: (message, attributes) => resolve({ message, attributes }),
  };
  return { logger, nextWarning };
}

/** A lease store that records every renewal request and answers each with `answer`. */
function recordingLease(answer: (request: LeaseRequest) => Promise<boolean>): {
  index: MailboxLease;
  requests: LeaseRequest[];
} {
  const requests: LeaseRequest[] = [];
  const index = withFaults<MailboxLease>(new MemoryMessageIndex(), {
    acquireLease: (request) => {
      requests.push(request);
      return answer(request);
    },
  });
  return { index, requests };
}

function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

describe('renewing the lease during a run', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('renews once a third of the time to live has passed, with the run terms and the current time', async () => {
    const { index, requests } = recordingLease(async () => true);
    const keeper = new LeaseKeeper(index, TERMS, () => NOW + 10_000, warningLogger().logger);
    await vi.advanceTimersByTimeAsync(TERMS.ttlMs / 3 - 1);
    expect(requests).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(requests).toEqual([{ ...TERMS, now: NOW + 10_000 }]);
    await keeper.release();
  });

  it('a renewal that still holds the lease leaves the run running', async () => {
    const { index, requests } = recordingLease(async () => true);
    const keeper = new LeaseKeeper(index, TERMS, () => NOW, warningLogger().logger);
    await vi.advanceTimersByTimeAsync(TERMS.ttlMs);
    expect(requests).toHaveLength(3);
    expect(keeper.signal.aborted).toBe(false);
    await keeper.release();
  });

  it('a renewal that finds another run holding the lease aborts the run with LEASE_LOST naming the mailbox', async () => {
    const { index } = recordingLease(async () => false);
    const keeper = new LeaseKeeper(index, TERMS, () => NOW, warningLogger().logger);
    const reason = aborted(keeper.signal);
    await vi.advanceTimersByTimeAsync(TERMS.ttlMs / 3);
    const err = await reason;
    expect(err).toBeInstanceOf(LeaseError);
    expect(err).toMatchObject({ name: 'LeaseError', code: 'LEASE_LOST' });
    expect((err as Error).message).toMatch(/lease on mailbox mbx-7 was lost to another run/);
    await keeper.release();
  });

  it('a store that fails to renew is warned about with the mailbox and error code; the run keeps going', async () => {
    const { index } = recordingLease(async () => {
      throw new ArchiveError('STORE_UNAVAILABLE', 'throttled');
    });
    const { logger, nextWarning } = warningLogger();
    const keeper = new LeaseKeeper(index, TERMS, () => NOW, logger);
    await vi.advanceTimersByTimeAsync(TERMS.ttlMs / 3);
    expect(await nextWarning).toEqual({
      message: 'could not renew the lease; retrying',
      attributes: { mailboxId: 'mbx-7', errorCode: 'STORE_UNAVAILABLE' },
    });
    expect(keeper.signal.aborted).toBe(false);
    await keeper.release();
  });
});

describe('releasing the lease', () => {
  it('a store that fails to release is warned about, and the run still ends (the lease expires)', async () => {
    const index = withFaults<MailboxLease>(new MemoryMessageIndex(), {
      releaseLease: async () => {
        throw new ArchiveError('STORE_UNAVAILABLE', 'throttled');
      },
    });
    const { logger, nextWarning } = warningLogger();
    const keeper = new LeaseKeeper(index, TERMS, () => NOW, logger);
    await expect(keeper.release()).resolves.toBeUndefined();
    expect(await nextWarning).toEqual({
      message: 'could not release the lease; it will expire by itself',
      attributes: { mailboxId: 'mbx-7', errorCode: 'STORE_UNAVAILABLE' },
    });
  });
});

describe('taking the lease', () => {
  it('a free lease is taken with no previous owner to report', async () => {
    const taken = await acquireLease(new MemoryMessageIndex(), TERMS, NOW, undefined);
    expect(taken).toStrictEqual({ previousOwner: undefined });
  });

  it('a lease freed between the refusal and the look at its holder is not taken over: retry later', async () => {
    const index = withFaults<MailboxLease>(new MemoryMessageIndex(), {
      acquireLease: async () => false,
      leaseHolder: async () => null,
    });
    const identity = { ownerFor: (runId: string) => runId, isProvablyDead: () => true };
    expect(await acquireLease(index, TERMS, NOW, identity)).toBeNull();
  });
});
