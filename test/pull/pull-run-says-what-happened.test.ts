/**
 * What a run tells its operator: each warning and the closing log line name the mailbox and what
 * happened, and a run record that cannot be written is logged, not lost silently.
 */
import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import { type PullProgress, runPull } from '../../functions/core/pull/pull-run.js';
import { message, scripted } from '../support/pop3-test-kit.js';
import { type LogLine, memoryArchive, recordingLogger } from '../support/pull-run-fixtures.js';
import { pullDeps, scriptedPull, withFaults } from '../support/pull-test-kit.js';

function said(logger: { lines: LogLine[] }, text: string): LogLine[] {
  return logger.lines.filter(([, m]) => m === text);
}

const EXPIRE_WARNING =
  'the server announces EXPIRE 0: it deletes retrieved mail itself, so keep cannot hold';

describe('the lease, as the run reports it', () => {
  it('a lease held by a live run: the record names the mailbox and how long until it expires', async () => {
    const server = await scripted({ messages: [] });
    const a = memoryArchive();
    await a.index.acquireLease({ mailboxId: 'mbx-1', owner: 'other', now: a.clock.ms, ttlMs: 1 });
    const run = await runPull(
      scriptedPull(server, a.clock.ms, { leaseTtlMs: 30_000 }),
      pullDeps(a, a.clock),
    );
    expect(run.errorCode).toBe('LEASE_HELD');
    expect(run.errorMessage).toContain('another run holds the lease on mailbox mbx-1');
    expect(run.errorMessage).toContain('within 30 s of that run dying');
  });

  it('a free lease is no takeover: nothing is warned and no takeover is reported', async () => {
    const server = await scripted({ messages: [message('u1', 'Subject: a\r\n\r\nx\r\n')] });
    const a = memoryArchive();
    const logger = recordingLogger();
    const events: PullProgress[] = [];
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ ...a, logger, onProgress: (e) => events.push(e) }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(logger.lines.filter(([level]) => level === 'warn')).toEqual([]);
    expect(events.map((e) => e.kind)).not.toContain('lease-taken-over');
  });

  it('taking over a dead run’s lease is warned with the previous owner, and counts nothing', async () => {
    const server = await scripted({ messages: [message('u1', 'Subject: a\r\n\r\nx\r\n')] });
    const a = memoryArchive();
    await a.index.acquireLease({
      mailboxId: 'mbx-1',
      owner: 'dead',
      now: a.clock.ms,
      ttlMs: 60_000,
    });
    const logger = recordingLogger();
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps(
        {
          ...a,
          logger,
          leaseIdentity: { ownerFor: (id) => `me:${id}`, isProvablyDead: (o) => o === 'dead' },
        },
        a.clock,
      ),
    );
    expect(said(logger, 'took over the lease of a run that is no longer alive')).toEqual([
      ['warn', expect.any(String), { mailboxId: 'mbx-1', previousOwner: 'dead' }],
    ]);
    expect(run.counts).toMatchObject({ listed: 1, stored: 1, deleted: 1, failed: 0 });
  });
});

describe('the end of a run', () => {
  it('a run record the index refuses is logged with the run and error code; the record is still returned', async () => {
    const server = await scripted({ messages: [] });
    const a = memoryArchive();
    const logger = recordingLogger();
    const index = withFaults(a.index, {
      async putRun() {
        throw new ArchiveError('STORE_UNAVAILABLE', 'throttled');
      },
    });
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ ...a, index, logger }, a.clock),
    );
    expect(run.outcome).toBe('success');
    expect(said(logger, 'could not write the run record')).toEqual([
      [
        'error',
        expect.any(String),
        { mailboxId: 'mbx-1', runId: run.runId, errorCode: 'STORE_UNAVAILABLE' },
      ],
    ]);
  });

  it('the closing log line carries the outcome, the counts and why the run stopped', async () => {
    const server = await scripted({ messages: [message('u1', 'Subject: a\r\n\r\nx\r\n')] });
    const a = memoryArchive();
    const logger = recordingLogger();
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps({ ...a, logger }, a.clock),
    );
    expect(said(logger, 'pull run finished')).toEqual([
      [
        'info',
        expect.any(String),
        {
          mailboxId: 'mbx-1',
          runId: run.runId,
          outcome: 'success',
          ...run.counts,
          stopReason: null,
        },
      ],
    ]);
  });

  it('a very long error message is cut to 1000 characters on the record', async () => {
    const server = await scripted({ messages: [] });
    const a = memoryArchive();
    const run = await runPull(
      scriptedPull(server, a.clock.ms),
      pullDeps(
        {
          ...a,
          credentials: {
            get: async () => {
              throw new ArchiveError('STORE_UNAVAILABLE', `secret store down ${'x'.repeat(3000)}`);
            },
          },
        },
        a.clock,
      ),
    );
    expect(run.errorMessage).toMatch(/^secret store down x+$/);
    expect(run.errorMessage).toHaveLength(1000);
  });
});

describe('warnings about the mailbox', () => {
  async function pullWith(capabilities: string[], policy: 'keep' | 'delete') {
    const server = await scripted({
      capabilities,
      messages: [message('u1', 'Subject: a\r\n\r\nx\r\n')],
    });
    const a = memoryArchive();
    const logger = recordingLogger();
    await runPull(
      scriptedPull(server, a.clock.ms, { policy: { kind: policy } }),
      pullDeps({ ...a, logger }, a.clock),
    );
    return said(logger, EXPIRE_WARNING);
  }

  it('keep on a server announcing EXPIRE 0 is warned that keep cannot hold, naming the mailbox', async () => {
    expect(await pullWith(['UIDL', 'USER', 'EXPIRE 0'], 'keep')).toEqual([
      ['warn', EXPIRE_WARNING, { mailboxId: 'mbx-1' }],
    ]);
  });

  it('delete on a server announcing EXPIRE 0 is not warned: nothing is meant to stay', async () => {
    expect(await pullWith(['UIDL', 'USER', 'EXPIRE 0'], 'delete')).toEqual([]);
  });

  it('keep on a server that keeps mail is not warned', async () => {
    expect(await pullWith(['UIDL', 'USER', 'EXPIRE 30'], 'keep')).toEqual([]);
  });

  it('a listing longer than one run reads is warned with how many were listed and kept', async () => {
    const server = await scripted({
      messages: ['a', 'b', 'c'].map((u) => message(u, `Subject: ${u}\r\n\r\nx\r\n`)),
    });
    const a = memoryArchive();
    const logger = recordingLogger();
    const run = await runPull(
      scriptedPull(server, a.clock.ms, {
        server: { ...scriptedPull(server, 0).server, maxListingEntries: 2 },
      }),
      pullDeps({ ...a, logger }, a.clock),
    );
    expect(run.stopReason).toBe('listing-capped');
    expect(
      said(logger, 'the listing has more entries than are read in one run; the rest wait'),
    ).toEqual([['warn', expect.any(String), { mailboxId: 'mbx-1', listed: 3, kept: 2 }]]);
  });

  it('an oversize message left on the server is warned by number and size only', async () => {
    const big = message('big', `${'x'.repeat(5000)}\r\n`);
    const server = await scripted({ messages: [message('small', 'small\r\n'), big] });
    const a = memoryArchive();
    const logger = recordingLogger();
    await runPull(
      scriptedPull(server, a.clock.ms, { maxMessageBytes: 1000 }),
      pullDeps({ ...a, logger }, a.clock),
    );
    expect(said(logger, 'message over the size limit left on the server')).toEqual([
      ['warn', expect.any(String), { mailboxId: 'mbx-1', msg: 2, octets: big.body.length }],
    ]);
  });
});
