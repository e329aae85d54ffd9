/**
 * How a run spends its time: retrieval stops once what is left before the hard deadline is the
 * finish reserve (the larger of PULL_DEFAULTS.minFinishReserveMs and finishReserveShare of the
 * budget, unless the caller names one), and the POP3 session is given the time left on the wall
 * clock less PULL_DEFAULTS.sessionMarginMs. The run's clock is moved by a fixed step each time a
 * message has been received, so the message at which retrieval stops is exact.
 */
import { describe, expect, it } from 'vitest';
import { Pop3Client, type Pop3ClientOptions } from '../../functions/core/pop3/client.js';
import { PULL_DEFAULTS, type PullOptions } from '../../functions/core/pull/pull-options.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { message, scripted } from '../support/pop3-test-kit.js';
import { pullDeps, scriptedPull, TestClock } from '../support/pull-test-kit.js';

const SECOND = 1000;

/** A mailbox of `n` messages pulled with the clock moving `stepMs` after each message received. */
async function pullWithSteps(
  n: number,
  stepMs: number,
  over: (start: number) => Partial<PullOptions>,
) {
  const server = await scripted({
    messages: Array.from({ length: n }, (_, i) =>
      message(`u${i + 1}`, `Subject: ${i}\r\n\r\nx\r\n`),
    ),
  });
  const clock = new TestClock();
  const start = clock.ms;
  const run = await runPull(
    scriptedPull(server, start, over(start)),
    pullDeps(
      {
        rawStore: new MemoryRawStore(),
        index: new MemoryMessageIndex(),
        onProgress: (event) => {
          if (event.kind === 'retrieved') clock.ms += stepMs;
        },
      },
      clock,
    ),
  );
  return { run, server };
}

describe('the finish reserve', () => {
  it('is a fifth of the budget when that is more than the minimum: 100 s leaves 80 s to retrieve', async () => {
    // Message k is reached at (k - 1) * 10 s: the ninth, at 80 s, is past the reserve and stays.
    const { run, server } = await pullWithSteps(12, 10 * SECOND, (start) => ({
      hardDeadline: start + 100 * SECOND,
    }));
    expect(run.stopReason).toBe('budget-time');
    expect(run.counts).toMatchObject({ retrieved: 8, stored: 8, deleted: 8 });
    expect(server.messages).toHaveLength(4);
  });

  it('is the minimum when a fifth of the budget is less: 30 s leaves 20 s to retrieve', async () => {
    // A fifth of 30 s is 6 s, under the 10 s minimum; message k is reached at (k - 1) * 5 s.
    expect(PULL_DEFAULTS.minFinishReserveMs).toBe(10 * SECOND);
    const { run } = await pullWithSteps(8, 5 * SECOND, (start) => ({
      hardDeadline: start + 30 * SECOND,
    }));
    expect(run.stopReason).toBe('budget-time');
    expect(run.counts.retrieved).toBe(4);
  });

  it('is the one the caller names, however large the budget', async () => {
    const { run } = await pullWithSteps(12, 10 * SECOND, (start) => ({
      hardDeadline: start + 100 * SECOND,
      finishReserveMs: 50 * SECOND,
    }));
    expect(run.stopReason).toBe('budget-time');
    expect(run.counts.retrieved).toBe(5);
  });

  it('a mailbox retrieved before the reserve is reached ends as a success', async () => {
    const { run, server } = await pullWithSteps(3, 10 * SECOND, (start) => ({
      hardDeadline: start + 100 * SECOND,
    }));
    expect(run).toMatchObject({ outcome: 'success', stopReason: null });
    expect(server.messages).toEqual([]);
  });
});

describe('the session deadline', () => {
  it('is the time left before the hard deadline, on the wall clock, less the session margin', async () => {
    const server = await scripted({ messages: [] });
    const clock = new TestClock();
    const deadlines: number[] = [];
    const connect = (options: Pop3ClientOptions): Promise<Pop3Client> => {
      deadlines.push(options.deadline ?? Number.NaN);
      return Pop3Client.connect(options);
    };
    const left = 100 * SECOND;
    const before = Date.now();
    const run = await runPull(
      scriptedPull(server, clock.ms, { hardDeadline: clock.ms + left }),
      pullDeps({ rawStore: new MemoryRawStore(), index: new MemoryMessageIndex(), connect }, clock),
    );
    const after = Date.now();
    expect(run.outcome).toBe('success');
    expect(deadlines).toHaveLength(1);
    const expected = left - PULL_DEFAULTS.sessionMarginMs;
    expect(deadlines[0]).toBeGreaterThanOrEqual(before + expected);
    expect(deadlines[0]).toBeLessThanOrEqual(after + expected);
  });
});
