/**
 * The chaos runner's short run in the suite: fixed runs of one seed, each replayable alone with
 * `npm run chaos -- --seed 11 --only K --archive A`, chosen to cover the faults around the
 * durable path (SIGKILL at a byte, after a DELE's reply, before QUIT, after QUIT before its reply; a
 * cut; a lost acknowledgement; two pulls at once; mail arriving mid-session) against Dovecot, into
 * the local archive and into DynamoDB Local + s3rver. Nothing may be lost or stored twice.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDovecotLab } from '../support/dovecot-lab.js';
import type { Pop3Lab } from '../support/pop3-lab.js';
import { type ChaosOptions, runChaos } from './chaos-runner.js';

const SEED = 11;
let lab: Pop3Lab;

beforeAll(async () => {
  lab = await startDovecotLab();
});

afterAll(async () => {
  await lab?.stop();
});

/** The fault kinds drawn more often than they struck: a run that never met its fault proves nothing. */
function unstruck(tally: Awaited<ReturnType<typeof runChaos>>): string[] {
  return [...tally.faults].filter(([, f]) => f.struck !== f.drawn).map(([kind]) => kind);
}

// Each list runs in about 20 s on an idle 2-core machine; the timeouts leave room for a loaded one.
function options(archive: 'local' | 'aws', only: number[]): ChaosOptions {
  return {
    runs: 0,
    seed: SEED,
    only,
    archive,
    server: 'dovecot',
    maxSeconds: 60,
    diskFull: true,
    log: () => {},
  };
}

describe('chaos: randomized faults against Dovecot, nothing lost and nothing stored twice', () => {
  it('into the local archive: killed at a byte, after a DELE reply, around QUIT, two pulls at once, mail mid-session', async () => {
    // 1 kill-at-byte, 9 kill-after-dele-reply, 17 kill-before-quit, 8 kill-after-quit-sent,
    // 18 concurrent-runs, 2 deliver-during-run, 7 cut-at-byte, 36 a raw put whose ack is lost.
    const tally = await runChaos(options('local', [1, 9, 17, 8, 18, 2, 7, 36]), {
      lab,
      aws: null,
    });
    expect(tally.format()).toContain('violations: 0');
    expect(tally.violations).toEqual([]);
    expect(tally).toMatchObject({ runs: 8, lost: 0, duplicated: 0 });
    expect(tally.archived).toBe(tally.delivered);
    expect(unstruck(tally), tally.format()).toEqual([]);
  }, 120_000);

  it('into DynamoDB Local + s3rver: killed at a byte, after a DELE reply, around QUIT, a cut, two pulls at once', async () => {
    // 1 kill-at-byte, 17 kill-after-dele-reply, 39 kill-before-quit, 7 kill-after-quit-sent,
    // 2 concurrent-runs, 5 cut-at-byte, 18 a DynamoDB put whose ack is lost.
    const tally = await runChaos(options('aws', [1, 17, 39, 7, 2, 5, 18]), {
      lab,
      aws: inject('aws'),
    });
    expect(tally.violations).toEqual([]);
    expect(tally).toMatchObject({ runs: 7, lost: 0, duplicated: 0 });
    expect(tally.archived).toBe(tally.delivered);
    expect(unstruck(tally), tally.format()).toEqual([]);
  }, 120_000);
});
