import { describe, expect, it } from 'vitest';
import { PersistenceQueue } from '../../functions/core/pull/persistence-queue.js';
import { planRetrieval, receiveLimit } from '../../functions/core/pull/plan-retrieval.js';

const msg = (n: number, octets: number) => ({ msg: n, uidl: `u${n}`, octets });

describe('planRetrieval limits are inclusive', () => {
  it('a message exactly at the size limit is retrieved, not skipped as oversize', () => {
    const plan = planRetrieval(
      [msg(1, 100)],
      new Map(),
      { kind: 'keep' },
      { maxMessageBytes: 100 },
      0,
    );
    expect(plan.oversize).toEqual([]);
    expect(plan.toRetrieve.map((m) => m.msg)).toEqual([1]);
  });

  it('messages that fill the byte cap exactly are all retrieved in one run', () => {
    const plan = planRetrieval(
      [msg(1, 40), msg(2, 60)],
      new Map(),
      { kind: 'keep' },
      { maxBytesPerRun: 100 },
      0,
    );
    expect(plan.toRetrieve.map((m) => m.msg)).toEqual([1, 2]);
    expect(plan.stopReason).toBeNull();
  });
});

describe('receiveLimit', () => {
  it('after a first message, the next may bring only what is left of the byte cap', () => {
    expect(receiveLimit({ maxBytesPerRun: 100 }, { messages: 1, octets: 30 })).toBe(70);
  });

  it('a byte cap already used up leaves no room, never a negative limit', () => {
    expect(receiveLimit({ maxBytesPerRun: 100 }, { messages: 2, octets: 130 })).toBe(0);
  });
});

describe('PersistenceQueue room', () => {
  it('a task holding exactly the memory budget leaves room for the next', async () => {
    const waits: number[] = [];
    const queue = new PersistenceQueue({ concurrency: 4, memoryOctets: 100 }, (n) => waits.push(n));
    let finish = () => {};
    queue.add(
      new Promise<void>((resolve) => {
        finish = resolve;
      }),
      100,
      () => {},
    );
    // whenRoom calls onWait before its first await, so a wait shows synchronously.
    const room = queue.whenRoom();
    expect(waits).toEqual([]);
    await room;
    finish();
    await queue.drain();
  });

  it('an empty queue has room whatever the memory budget says', async () => {
    const waits: number[] = [];
    const queue = new PersistenceQueue({ concurrency: 1, memoryOctets: -1 }, (n) => waits.push(n));
    const room = queue.whenRoom();
    expect(waits).toEqual([]);
    await room;
  });

  it('settle waits for a failing task and its release before spools may go away', async () => {
    const log: string[] = [];
    const queue = new PersistenceQueue({ concurrency: 2, memoryOctets: 100 });
    let fail = (_err: Error) => {};
    queue.add(
      new Promise<void>((_resolve, reject) => {
        fail = reject;
      }),
      10,
      () => {
        log.push('released');
      },
    );
    const settled = queue.settle().then(() => log.push('settled'));
    await Promise.resolve();
    fail(new Error('upload failed'));
    await settled;
    expect(log).toEqual(['released', 'settled']);
  });
});
