/**
 * What a run keeps of its failures and what it reports as progress: every failure is counted, but
 * the record keeps only the first PULL_DEFAULTS.maxFailuresRecorded, each message cut to 500
 * characters; only progress events reach onProgress, the bookkeeping ones are counted silently.
 */
import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import { PULL_DEFAULTS } from '../../functions/core/pull/pull-options.js';
import type { PullProgress, RunEvent } from '../../functions/core/pull/run-counts.js';
import { RunState } from '../../functions/core/pull/run-state.js';

describe('failures on the run record', () => {
  it('counts every failure but records only the first maxFailuresRecorded, in order', () => {
    const state = new RunState();
    const cap = PULL_DEFAULTS.maxFailuresRecorded;
    for (let i = 1; i <= cap + 5; i++) {
      state.fail(`m${i}`, new ArchiveError('STORE_UNAVAILABLE', `failure ${i}`));
    }
    expect(state.counts.failed).toBe(cap + 5);
    expect(state.failures).toHaveLength(cap);
    expect(state.failures[0]).toEqual({
      messageKey: 'm1',
      errorCode: 'STORE_UNAVAILABLE',
      message: 'failure 1',
    });
    expect(state.failures.at(-1)?.messageKey).toBe(`m${cap}`);
  });

  it('a long error message is cut to 500 characters on the record', () => {
    const state = new RunState();
    state.fail('m1', new ArchiveError('STORE_UNAVAILABLE', `throttled ${'x'.repeat(2000)}`));
    const [failure] = state.failures;
    expect(failure?.message).toHaveLength(500);
    expect(failure?.message).toMatch(/^throttled x+$/);
  });
});

describe('progress reported while a run goes', () => {
  it('reports progress events and counts the bookkeeping ones without reporting them', () => {
    const reported: PullProgress[] = [];
    const state = new RunState((event) => reported.push(event));
    const events: RunEvent[] = [
      { kind: 'server-listed', messages: 2 },
      { kind: 'listed', messages: 2, toRetrieve: 1, octets: 10 },
      { kind: 'already-stored' },
      { kind: 'oversize' },
      { kind: 'retrieved', messageKey: 'a', octets: 10 },
      { kind: 'stopped-at-limit', octets: 5 },
      { kind: 'stored-variant' },
      { kind: 'ended-without-quit' },
      { kind: 'lease-taken-over', previousOwner: 'dead' },
    ];
    for (const event of events) state.note(event);
    state.fail('b', new ArchiveError('STORE_UNAVAILABLE', 'throttled'));
    expect(reported).toEqual([
      { kind: 'listed', messages: 2, toRetrieve: 1, octets: 10 },
      { kind: 'retrieved', messageKey: 'a', octets: 10 },
      { kind: 'lease-taken-over', previousOwner: 'dead' },
    ]);
    expect(state.counts).toMatchObject({ listed: 2, alreadyStored: 1, skipped: 1, failed: 1 });
  });
});
