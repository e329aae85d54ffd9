import { describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { LeaseKeeper } from '../../functions/core/pull/lease-keeper.js';
import { PersistenceQueue } from '../../functions/core/pull/persistence-queue.js';
import { planRetrieval } from '../../functions/core/pull/plan-retrieval.js';
import { SILENT_LOGGER } from '../../functions/core/pull/pull-options.js';
import { countEvent, NO_COUNTS, type RunEvent } from '../../functions/core/pull/run-counts.js';

const DAY = 24 * 60 * 60 * 1000;
const record = (uidl: string, archivedAt: number): MessageRecord =>
  ({ messageKey: uidl, archivedAt: new Date(archivedAt).toISOString() }) as MessageRecord;

describe('planRetrieval', () => {
  const listed = [
    { msg: 1, uidl: 'a', octets: 10 },
    { msg: 2, uidl: 'b', octets: 500 },
    { msg: 3, uidl: 'c', octets: 20 },
    { msg: 4, uidl: 'c', octets: 30 },
    { msg: 5, uidl: 'd', octets: 40 },
  ];

  it('retrieves what is new, skips oversize, retrieves a duplicated UIDL twice, and stops at a cap', () => {
    const known = new Map([
      ['a', record('a', 0)],
      ['c', record('c', 0)],
    ]);
    const plan = planRetrieval(
      listed,
      known,
      { kind: 'delete' },
      { maxMessageBytes: 100, maxMessagesPerRun: 2 },
      DAY,
    );
    expect(plan.alreadyArchived).toEqual([{ msg: 1, messageKey: 'a', deletable: true }]);
    expect(plan.oversize.map((m) => m.msg)).toEqual([2]);
    expect(plan.toRetrieve.map((m) => m.msg)).toEqual([3, 4]);
    expect(plan.plannedOctets).toBe(50);
    expect(plan.stopReason).toBe('budget-messages');
  });

  it('deletes after days only once a record is old enough; keep never deletes', () => {
    const known = new Map([['a', record('a', 0)]]);
    const after = { kind: 'delete-after-days', days: 2 } as const;
    const one = [listed[0] as (typeof listed)[0]];
    expect(planRetrieval(one, known, after, {}, DAY).alreadyArchived[0]?.deletable).toBe(false);
    expect(planRetrieval(one, known, after, {}, 2 * DAY).alreadyArchived[0]?.deletable).toBe(true);
    expect(
      planRetrieval(one, known, { kind: 'keep' }, {}, 9 * DAY).alreadyArchived[0]?.deletable,
    ).toBe(false);
  });

  it('lets the first message pass the byte cap alone, then stops', () => {
    const plan = planRetrieval(listed, new Map(), { kind: 'delete' }, { maxBytesPerRun: 5 }, 0);
    expect(plan.toRetrieve.map((m) => m.msg)).toEqual([1]);
    expect(plan.stopReason).toBe('budget-octets');
  });
});

describe('PersistenceQueue', () => {
  it('waits while as many tasks as allowed are in flight, and releases each once it settles', async () => {
    const waits: number[] = [];
    const released: string[] = [];
    const queue = new PersistenceQueue({ concurrency: 2, memoryOctets: 1000 }, (n) =>
      waits.push(n),
    );
    let finishFirst = (): void => {};
    queue.add(new Promise<void>((resolve) => (finishFirst = resolve)), 10, () => {
      released.push('first');
    });
    await queue.whenRoom();
    expect(waits).toEqual([]);
    queue.add(new Promise<void>(() => {}).then(), 10, () => {});
    const room = queue.whenRoom();
    expect(waits).toEqual([2]);
    finishFirst();
    await room;
    expect(released).toEqual(['first']);
    expect(queue.size).toBe(1);
    expect(queue.heldOctets).toBe(10);
  });

  it('waits while the memory budget is passed, but always lets one task run', async () => {
    const queue = new PersistenceQueue({ concurrency: 8, memoryOctets: 100 });
    queue.add(Promise.resolve(), 500, () => {});
    expect(queue.heldOctets).toBe(500);
    await queue.whenRoom();
    expect(queue.size).toBe(0);
    expect(queue.heldOctets).toBe(0);
  });
});

describe('LeaseKeeper', () => {
  it('aborts its signal with LEASE_LOST when a renewal finds the lease taken', async () => {
    let renewals = 0;
    const index = {
      acquireLease: async () => {
        renewals += 1;
        return false;
      },
      leaseHolder: async () => null,
      releaseLease: async () => {},
    };
    const keeper = new LeaseKeeper(
      index,
      { mailboxId: 'm', owner: 'me', ttlMs: 30 },
      () => 0,
      SILENT_LOGGER,
    );
    const reason = await new Promise<unknown>((resolve) =>
      keeper.signal.addEventListener('abort', () => resolve(keeper.signal.reason)),
    );
    await keeper.release();
    expect(renewals).toBeGreaterThan(0);
    expect(reason).toMatchObject({ code: 'LEASE_LOST', kind: 'retry', temporary: true });
  });
});

describe('countEvent', () => {
  it('reduces the events of a run to its counts', () => {
    const events: RunEvent[] = [
      { kind: 'server-listed', messages: 6 },
      { kind: 'already-stored' },
      { kind: 'oversize' },
      { kind: 'listed', messages: 5, toRetrieve: 3, octets: 300 },
      { kind: 'retrieved', messageKey: 'a', octets: 100 },
      { kind: 'stored', messageKey: 'a', octets: 100 },
      { kind: 'retrieved', messageKey: 'b', octets: 50 },
      { kind: 'stored-variant' },
      { kind: 'stopped-at-limit', octets: 70 },
      { kind: 'failed' },
      { kind: 'waiting', persisting: 1, heldOctets: 10 },
      { kind: 'quit', deleted: 3 },
    ];
    expect(events.reduce(countEvent, NO_COUNTS)).toEqual({
      listed: 6,
      retrieved: 2,
      stored: 2,
      alreadyStored: 1,
      deleted: 3,
      skipped: 1,
      failed: 1,
      octets: 220,
      remainingOnServer: 3,
    });
  });

  it('a session ended without QUIT leaves everything listed on the server', () => {
    const counts = [
      { kind: 'server-listed', messages: 4 },
      { kind: 'ended-without-quit' },
    ] satisfies RunEvent[];
    expect(counts.reduce<typeof NO_COUNTS>(countEvent, NO_COUNTS).remainingOnServer).toBe(4);
  });
});
