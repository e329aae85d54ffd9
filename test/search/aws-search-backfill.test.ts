/**
 * Mail archived in AWS before search was on becomes searchable: the puller reads it back from its
 * raw objects, a bounded batch per run, before each flush (search-backfill.ts). Real mail from
 * Dovecot, the real parser, DynamoDB Local and s3rver.
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { backfillSearch } from '../../functions/adapters/aws/search-backfill.js';
import { journalDocument } from '../../functions/adapters/aws/search-journal.js';
import { backfillKey, pendingPrefix } from '../../functions/adapters/aws/search-keys.js';
import type { RawStore } from '../../functions/core/archive/ports.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import type { SearchFlushStepDeps } from '../../functions/puller/search-flush-step.js';
import { seedMailbox, uniqueUser } from '../support/dovecot.js';
import {
  find,
  flushStep,
  objectsWith,
  pullDeps,
  pullOptions,
  reader,
  recordingLogger,
  recordingMetrics,
  type SearchLab,
  searchLab,
  subjects,
} from './aws-search-kit.js';

const dovecot = inject('dovecot');
const aws = inject('aws');

let lab: SearchLab;

beforeAll(async () => {
  lab = await searchLab(aws);
});

function flushWithBackfill(
  over: { maxMessagesPerRun?: number; rawStore?: Pick<RawStore, 'get'> } = {},
  deps: Partial<SearchFlushStepDeps> = {},
) {
  return flushStep(lab, {
    backfill: {
      reader: lab.index,
      rawStore: over.rawStore ?? lab.rawStore,
      toDocument: journalDocument,
      ...(over.maxMessagesPerRun === undefined
        ? {}
        : { maxMessagesPerRun: over.maxMessagesPerRun }),
    },
    ...deps,
  });
}

/** A run as a stack deployed before search made it: records and raw mail, no text journalled. */
/**
 * One Dovecot user per mailbox, kept across its runs: two fresh users seeded in the same second can
 * share a UIDVALIDITY and so list the same UIDLs, and the second would look archived already.
 */
const users = new Map<string, string>();
function userOf(mailboxId: string): string {
  const user = users.get(mailboxId) ?? uniqueUser(`backfill-${mailboxId}`);
  users.set(mailboxId, user);
  return user;
}

async function archiveWithoutSearch(mailboxId: string, mail: string[]): Promise<void> {
  const user = userOf(mailboxId);
  seedMailbox(
    dovecot,
    user,
    mail.map((m) => Buffer.from(m)),
  );
  const run = await runPull(
    pullOptions(dovecot, mailboxId),
    pullDeps(lab, user, dovecot.password, { index: lab.index }),
  );
  expect(run.counts.stored).toBe(mail.length);
}

/** A scheduled run of the updated stack: new mail journalled, then backfill and flush. */
async function runWithSearch(mailboxId: string, mail: string[], step = flushWithBackfill()) {
  const user = userOf(mailboxId);
  seedMailbox(
    dovecot,
    user,
    mail.map((m) => Buffer.from(m)),
  );
  return runPull(
    pullOptions(dovecot, mailboxId),
    pullDeps(lab, user, dovecot.password, { afterSession: step }),
  );
}

const note = (subject: string, body: string) => `Subject: ${subject}\n\n${body}\n`;

describe('AWS search: mail archived before search is read back', () => {
  it('old mail becomes searchable by its body after the next run, beside the new mail', async () => {
    await archiveWithoutSearch('old', [
      note('old one', 'the ocelot hides'),
      note('old two', 'a tapir naps'),
    ]);
    expect(await find(reader(lab), ['old'], 'ocelot')).toEqual([]);

    const run = await runWithSearch('old', [note('new one', 'an ocelot returns')]);
    expect(run.outcome).toBe('success');
    expect(subjects(await find(reader(lab), ['old'], 'ocelot'))).toEqual(['new one', 'old one']);
    expect(subjects(await find(reader(lab), ['old'], 'tapir'))).toEqual(['old two']);
    expect((await lab.objects.list(pendingPrefix('old'))).length).toBe(0);
    expect(await lab.objects.getJson(backfillKey('old'))).toMatchObject({ done: true });
  });

  it('a batch per run: a large backlog is read back over several runs, each message once', async () => {
    const old = Array.from({ length: 5 }, (_, i) => note(`backlog ${i}`, `gazelle number ${i}`));
    await archiveWithoutSearch('batch', old);
    const read: number[] = [];
    for (let run = 0; run < 4; run++) {
      const report = await backfillSearch(
        { mailboxId: 'batch', startedAt: Date.now() },
        {
          objects: lab.objects,
          reader: pageOf(2),
          rawStore: lab.rawStore,
          toDocument: journalDocument,
          maxMessagesPerRun: 2,
        },
      );
      read.push(report.journalled);
      if (report.done) break;
    }
    // Pages of 2 against a budget of 2: 2 + 2 + 1, then done.
    expect(read).toEqual([2, 2, 1]);
    expect((await lab.objects.list(pendingPrefix('batch'))).length).toBe(5);
    await runWithSearch('batch', []);
    expect(subjects(await find(reader(lab), ['batch'], 'gazelle'))).toEqual(
      old.map((_, i) => `backlog ${i}`),
    );
  });

  it('idempotent: a finished backfill reads nothing again, and mail archived with search on is never read back', async () => {
    const readBack: string[] = [];
    const counting = {
      get: (key: string) => {
        readBack.push(key);
        return lab.rawStore.get(key);
      },
    };
    await runWithSearch(
      'fresh',
      [note('journalled', 'the wombat digs')],
      flushWithBackfill({ rawStore: counting }),
    );
    expect(readBack).toEqual([]);
    expect(subjects(await find(reader(lab), ['fresh'], 'wombat'))).toEqual(['journalled']);
    expect(await lab.objects.getJson(backfillKey('fresh'))).toMatchObject({ done: true });
    const again = await backfillSearch(
      { mailboxId: 'fresh', startedAt: Date.now() },
      {
        objects: lab.objects,
        reader: {
          listMessages: async () => {
            throw new Error('a finished backfill listed the mailbox again');
          },
        },
        rawStore: lab.rawStore,
        toDocument: journalDocument,
      },
    );
    expect(again).toEqual({ journalled: 0, failed: 0, done: true });
  });

  it('a warm container stops reading the backfill state once it has seen it finished', async () => {
    const stateReads: string[] = [];
    const objects = objectsWith(lab, {
      list: (prefix: string) => {
        if (prefix === backfillKey('warm')) stateReads.push(prefix);
        return lab.objects.list(prefix);
      },
    });
    const step = flushWithBackfill({}, { objects });
    await runWithSearch('warm', [note('first', 'the quoll')], step);
    expect(stateReads).toHaveLength(1);
    await runWithSearch('warm', [note('second', 'the quoll again')], step);
    expect(stateReads).toHaveLength(1);
    expect(subjects(await find(reader(lab), ['warm'], 'quoll'))).toEqual(['first', 'second']);
    // A new container (a new step) reads it once more, and finds it done.
    await runWithSearch('warm', [], flushWithBackfill({}, { objects }));
    expect(stateReads).toHaveLength(2);
  });

  it('threat: a raw object gone missing is skipped and reported; the rest are read back', async () => {
    await archiveWithoutSearch('holes', [note('lost', 'the kiwi'), note('kept', 'the kiwi too')]);
    const lost = (await lab.index.listMessages('holes', { limit: 10 })).items.find(
      (r) => r.subject === 'lost',
    );
    if (lost === undefined) throw new Error('no record of the lost message');
    await lab.s3.send(new DeleteObjectCommand({ Bucket: lab.bucket, Key: lost.rawKey }));
    const logger = recordingLogger();
    const run = await runWithSearch('holes', [], flushWithBackfill({}, { logger }));
    expect(run.outcome).toBe('success');
    expect(subjects(await find(reader(lab), ['holes'], 'kiwi'))).toEqual(['kept']);
    expect(logger.said.warn).toEqual([
      'an archived message could not be read back for search; it stays unsearchable',
    ]);
  });

  it('a state object popvault did not write stops the backfill with its key named, and the flush still runs', async () => {
    await lab.objects.putJson(backfillKey('forged'), { version: 9 });
    const logger = recordingLogger();
    const metrics = recordingMetrics();
    const step = flushWithBackfill({}, { logger, metrics });
    await runWithSearch('forged', [note('still indexed', 'the dingo')], step);
    expect(logger.said.error).toEqual([
      'reading back archived mail for search failed; the next run continues',
    ]);
    // The alarm's metric: search is not keeping up, whichever step failed.
    expect(metrics.names).toEqual(['SearchFlushFailures']);
    expect(subjects(await find(reader(lab), ['forged'], 'dingo'))).toEqual(['still indexed']);
    await expect(
      backfillSearch(
        { mailboxId: 'forged', startedAt: Date.now() },
        {
          objects: lab.objects,
          reader: lab.index,
          rawStore: lab.rawStore,
          toDocument: journalDocument,
        },
      ),
    ).rejects.toThrow(`${backfillKey('forged')} is not a popvault search backfill state`);
  });
});

/** The index's listing in pages of `size`, to see the cursor carried from run to run. */
function pageOf(size: number) {
  return {
    listMessages: (mailboxId: string, query: { limit: number; cursor?: string | null }) =>
      lab.index.listMessages(mailboxId, { ...query, limit: Math.min(size, query.limit) }),
  };
}
