/**
 * A UIDL the server reuses for other bytes: the pull keeps both messages, the second under a
 * variant key (persist-message.ts); a server that lists one UIDL twice in a session does that. Search must keep each one's own text: the journal writes the
 * second message's text before its record is refused under the first key, and that text must never
 * become the first message's.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { flushSearch } from '../../functions/adapters/aws/search-flush.js';
import { pendingKey, pendingPrefix, segmentKey } from '../../functions/adapters/aws/search-keys.js';
import { readManifest } from '../../functions/adapters/aws/search-manifest.js';
import { WASM_SEGMENTS } from '../../functions/adapters/aws/sqlite-wasm-segments.js';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { message, scripted } from '../support/pop3-test-kit.js';
import { pullDeps, scriptedPull, TestClock } from '../support/pull-test-kit.js';
import { searchDoc } from '../support/search-documents.js';
import { find, flushStep, reader, type SearchLab, searchLab, subjects } from './aws-search-kit.js';

const aws = inject('aws');

let lab: SearchLab;

beforeAll(async () => {
  lab = await searchLab(aws);
});

async function pullFrom(texts: string[], clock: TestClock) {
  const server = await scripted({ messages: texts.map((text) => message('reused', text)) });
  const run = await runPull(
    scriptedPull(server, clock.ms, { mailboxId: 'variants' }),
    pullDeps(
      {
        rawStore: lab.rawStore,
        createParser: createMessageParser,
        index: lab.journal as unknown as typeof lab.index,
        afterSession: flushStep(lab),
      },
      clock,
    ),
  );
  expect(run.counts.stored).toBe(texts.length);
}

// Which of the two gets the plain key depends on which record write lands first (persistence is
// concurrent): each is told by its subject, which comes from its record, not from the text.
const subjectsOf = async (q: string) => subjects(await find(reader(lab), ['variants'], q));

describe('AWS search: a reused UIDL', () => {
  it('threat: a reused UIDL gives the first message the second one’s text — each keeps its own', async () => {
    const clock = new TestClock(Date.now());
    // The server lists one UIDL twice, for two different messages, in one session.
    await pullFrom(
      ['Subject: first\r\n\r\nthe marmot sleeps\r\n', 'Subject: second\r\n\r\nthe lemur jumps\r\n'],
      clock,
    );
    expect(await subjectsOf('marmot')).toEqual(['first']);
    expect(await subjectsOf('lemur')).toEqual(['second']);
    const keys = (await lab.index.listMessages('variants', { limit: 10 })).items.map(
      (r) => r.messageKey,
    );
    expect(keys.sort()).toEqual(['reused', expect.stringMatching(/^reused#sha256:[0-9a-f]{64}$/)]);
  });

  it('the flush indexes a pending text only while its record holds the bytes it came from', async () => {
    const [A, B] = ['a'.repeat(64), 'b'.repeat(64)];
    const doc = (messageKey: string, body: string) =>
      searchDoc(messageKey, { mailboxId: 'direct', body });
    const journal = (key: string, sha256: string, body: string) =>
      lab.objects.putJson(pendingKey('direct', key, sha256), {
        version: 1,
        sha256,
        document: doc(key, body),
      });
    await journal('K', A, 'the text of the archived bytes');
    await journal('K', B, 'the text of other bytes whose record was refused');
    await journal('L', A, 'the text of a record never written');
    const report = await flushSearch('direct', {
      objects: lab.objects,
      format: WASM_SEGMENTS,
      now: Date.now,
      records: {
        getMessages: async () => new Map([['K', { sha256: A } as MessageRecord]]),
      },
    });
    expect(report).toMatchObject({ indexed: 1, stale: 2, unreadable: 0 });
    const manifest = await readManifest(lab.objects, 'direct');
    const bodies: string[] = [];
    for (const segment of manifest.segments) {
      const bytes = await lab.objects.get(segmentKey('direct', segment.id));
      for (const d of await WASM_SEGMENTS.read(bytes ?? new Uint8Array())) bodies.push(d.body);
    }
    expect(bodies).toEqual(['the text of the archived bytes']);
    expect(await lab.objects.list(pendingPrefix('direct'))).toEqual([]);
  });
});
