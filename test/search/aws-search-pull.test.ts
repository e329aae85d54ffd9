/**
 * AWS search end to end on the emulators: real mail from Dovecot through the real parser into S3
 * and DynamoDB, its text journalled before each record, the flush run as the pull's afterSession
 * step while the run holds the lease, and S3ArchiveSearch finding the words.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { pendingPrefix } from '../../functions/adapters/aws/search-keys.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { maildirMessageCount, seedMailbox, uniqueUser } from '../support/dovecot.js';
import {
  find,
  flushStep,
  marked,
  objectsWith,
  pullDeps,
  pullOptions,
  reader,
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

const MAIL = {
  plain:
    'From: Ann <ann@example.com>\nSubject: Quarterly numbers\n\nThe zeppelin budget is attached below.\n',
  html: 'From: Bob <bob@example.com>\nSubject: Agenda\nContent-Type: text/html; charset=utf-8\n\n<html><body><p>Bring the <b>aardvark</b> slides.</p></body></html>\n',
  encoded:
    'From: Cy <cy@example.com>\nSubject: =?UTF-8?B?Q3LDqG1lIGJyw7tsw6llIHBhcnR5?=\n\nSee you there.\n',
  attachment: [
    'From: Di <di@example.com>',
    'Subject: Report',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'Here it is.',
    '--b1',
    'Content-Type: application/pdf',
    'Content-Disposition: attachment; filename="quokka-census.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    'JVBERi0xLjQK',
    '--b1--',
    '',
  ].join('\n'),
  cjk: 'From: Eri <eri@example.jp>\nSubject: =?UTF-8?B?5Lya6K2w44Gu5LqI5a6a?=\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n来週、東京都で会議があります。\n',
};

async function pendingCount(mailboxId: string): Promise<number> {
  return (await lab.objects.list(pendingPrefix(mailboxId))).length;
}

describe('AWS search: pull, flush, search on the emulators', () => {
  it('finds words from bodies, HTML parts, encoded subjects, attachment names and Japanese text', async () => {
    const user = uniqueUser('search-words');
    seedMailbox(
      dovecot,
      user,
      Object.values(MAIL).map((m) => Buffer.from(m)),
    );
    const run = await runPull(
      pullOptions(dovecot, 'words'),
      pullDeps(lab, user, dovecot.password, { afterSession: flushStep(lab) }),
    );
    expect(run.outcome).toBe('success');
    expect(run.counts.stored).toBe(5);
    expect(await pendingCount('words')).toBe(0);

    const search = reader(lab);
    expect(subjects(await find(search, ['words'], 'zeppelin'))).toEqual(['Quarterly numbers']);
    expect(subjects(await find(search, ['words'], 'aardvark'))).toEqual(['Agenda']);
    expect(subjects(await find(search, ['words'], 'creme brulee'))).toEqual(['Crème brûlée party']);
    expect(subjects(await find(search, ['words'], 'attachment:quokka'))).toEqual(['Report']);
    expect(subjects(await find(search, ['words'], '会議'))).toEqual(['会議の予定']);
    expect(subjects(await find(search, ['words'], 'has:attachment census'))).toEqual(['Report']);
    const [hit] = await find(search, ['words'], 'aardvark');
    expect(marked(hit?.snippet ?? '')).toContain('[aardvark]');
    expect(await find(search, ['words'], 'nonexistentword')).toEqual([]);
  });

  it('threat: a caller of mailbox A cannot find B’s mail, whatever the query says', async () => {
    const [userA, userB] = [uniqueUser('search-a'), uniqueUser('search-b')];
    seedMailbox(dovecot, userA, [Buffer.from('Subject: alpha\n\nshared pelican word\n')]);
    seedMailbox(dovecot, userB, [Buffer.from('Subject: beta\n\nshared pelican secret\n')]);
    for (const [user, mailboxId] of [
      [userA, 'scope-a'],
      [userB, 'scope-b'],
    ] as const) {
      const run = await runPull(
        pullOptions(dovecot, mailboxId),
        pullDeps(lab, user, dovecot.password, { afterSession: flushStep(lab) }),
      );
      expect(run.outcome).toBe('success');
    }
    const search = reader(lab);
    expect(subjects(await find(search, ['scope-a'], 'pelican'))).toEqual(['alpha']);
    expect(await find(search, ['scope-a'], 'secret')).toEqual([]);
    expect(await find(search, ['scope-a'], 'from:beta OR secret')).toEqual([]);
    expect(subjects(await find(search, ['scope-b'], 'pelican'))).toEqual(['beta']);
    expect(subjects(await find(search, ['scope-a', 'scope-b'], 'pelican'))).toEqual([
      'alpha',
      'beta',
    ]);
    expect(await find(search, [], 'pelican')).toEqual([]);
  });

  it('a flush that fails leaves the mail archived and deleted, the text pending, and the next run indexes it', async () => {
    const user = uniqueUser('search-fail');
    seedMailbox(dovecot, user, [Buffer.from('Subject: kept\n\nthe wombat survives\n')]);
    // Our own port fails (no AWS client is mocked): the segment upload is refused once.
    const failing = objectsWith(lab, {
      put: async () => {
        throw new Error('segment upload refused');
      },
    });
    const metrics = recordingMetrics();
    const run = await runPull(
      pullOptions(dovecot, 'fail'),
      pullDeps(lab, user, dovecot.password, {
        afterSession: flushStep(lab, { objects: failing, metrics }),
      }),
    );
    expect(run.outcome).toBe('success');
    expect(run.counts).toMatchObject({ stored: 1, deleted: 1 });
    expect(maildirMessageCount(dovecot, user)).toBe(0);
    expect((await lab.index.listMessages('fail', { limit: 10 })).items).toHaveLength(1);
    expect(metrics.names).toContain('SearchFlushFailures');
    expect(await pendingCount('fail')).toBe(1);
    expect(await find(reader(lab), ['fail'], 'wombat')).toEqual([]);

    const next = await runPull(
      pullOptions(dovecot, 'fail'),
      pullDeps(lab, user, dovecot.password, { afterSession: flushStep(lab) }),
    );
    expect(next.counts.stored).toBe(0);
    expect(await pendingCount('fail')).toBe(0);
    expect(subjects(await find(reader(lab), ['fail'], 'wombat'))).toEqual(['kept']);
  });

  it('a flush that works publishes no metric: each series would be billed per mailbox every month', async () => {
    const user = uniqueUser('search-quiet');
    seedMailbox(dovecot, user, [Buffer.from('Subject: quiet\n\nthe numbat counts\n')]);
    const metrics = recordingMetrics();
    const run = await runPull(
      pullOptions(dovecot, 'quiet'),
      pullDeps(lab, user, dovecot.password, { afterSession: flushStep(lab, { metrics }) }),
    );
    expect(run.outcome).toBe('success');
    expect(subjects(await find(reader(lab), ['quiet'], 'numbat'))).toEqual(['quiet']);
    expect(metrics.names).toEqual([]);
  });

  it('a pending object that is not a document is dropped, not indexed', async () => {
    await lab.s3.send(
      new PutObjectCommand({
        Bucket: lab.bucket,
        Key: `${pendingPrefix('junk')}${'0'.repeat(64)}.json`,
        Body: '{"version":1,"document":{"mailboxId":"other"}}',
      }),
    );
    const user = uniqueUser('search-junk');
    seedMailbox(dovecot, user, [Buffer.from('Subject: fine\n\nplatypus\n')]);
    await runPull(
      pullOptions(dovecot, 'junk'),
      pullDeps(lab, user, dovecot.password, { afterSession: flushStep(lab) }),
    );
    expect(await pendingCount('junk')).toBe(0);
    expect(subjects(await find(reader(lab), ['junk'], 'platypus'))).toEqual(['fine']);
  });
});
