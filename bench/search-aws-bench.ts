/**
 * BENCHMARKS.md "AWS search": what the per-mailbox FTS5 segments cost at 10,000 and 100,000
 * messages, on this machine, against s3rver.
 *
 * For each archive size N the mailbox is laid out as the flush's compaction leaves it: up to
 * MAX_LIVE_SEGMENTS segments of halving sizes (N/2, N/4, ...), each built with sqlite-wasm through
 * the shared fts5-index and uploaded, with its manifest. Then:
 * - segment bytes (all live segments, and per message);
 * - a flush of one pull run of R messages: R pending documents journalled (PUTs, 8 at a time as the
 *   pull persists), then flushSearch (list, read, build, upload, merge the smallest neighbours the
 *   new segment pushed over the limit, manifest, deletes);
 * - compaction: merging the two largest segments (3N/4 messages), read back and rebuilt;
 * - query latency cold (a new reader with an empty /tmp cache: manifest, downloads, opens) and warm
 *   (the same reader again), with the query function's default cache budgets.
 * Records are looked up from a stub: in AWS that is one BatchGetItem per page, not measured here.
 *
 *   npm run bench:search-aws -- --sizes 10000,100000 --run 200,2000
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { S3ArchiveSearch } from '../functions/adapters/aws/s3-archive-search.js';
import { forEachLimited, S3SearchObjects } from '../functions/adapters/aws/s3-search-objects.js';
import {
  MAX_LIVE_SEGMENTS,
  MAX_MERGED_SEGMENT_OCTETS,
} from '../functions/adapters/aws/search-compaction.js';
import { flushSearch, SEGMENT_CONTENT_TYPE } from '../functions/adapters/aws/search-flush.js';
import { manifestKey, pendingKey, segmentKey } from '../functions/adapters/aws/search-keys.js';
import {
  type SearchManifest,
  type SegmentEntry,
  segmentId,
} from '../functions/adapters/aws/search-manifest.js';
import { SegmentCache } from '../functions/adapters/aws/search-segment-cache.js';
import { openWasmDatabase } from '../functions/adapters/aws/sqlite-wasm-driver.js';
import { WASM_SEGMENTS } from '../functions/adapters/aws/sqlite-wasm-segments.js';
import type { MessageRecord } from '../functions/core/archive/ports.js';
import { parseSearchQuery } from '../functions/core/search/search-query.js';
import { createTestBucket, s3ClientFor } from '../test/support/aws-clients.js';
import { startS3rver } from '../test/support/emulators.js';
import {
  fixed,
  isMain,
  mb,
  percentile,
  progress,
  removeDirectory,
  table,
  workDirectory,
} from './lib.js';
import { syntheticDocument, type Vocabulary, vocabulary, wordAtRank } from './search-aws-corpus.js';

const JOURNAL_CONCURRENCY = 8;
const WARM_QUERIES = 60;
const COLD_REPEATS = 3;

interface SizeResult {
  messages: number;
  segments: number;
  segmentBytes: number;
  largestSegmentBytes: number;
  buildSeconds: number;
  flushes: { run: number; journalMs: number; flushMs: number; merges: number }[];
  compaction: { messages: number; seconds: number; peakRssMb?: number };
  coldMs: number[];
  warm: { p50: number; p99: number };
  peakRssMb: number;
}

let peakRss = 0;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

/**
 * Messages in a segment at MAX_MERGED_SEGMENT_OCTETS, at the ~4,700 bytes per message this corpus
 * measures: the largest segment a merge makes.
 */
const FULL_SEGMENT_MESSAGES = Math.floor(MAX_MERGED_SEGMENT_OCTETS / 4_700);

/**
 * Segment sizes as the flush's merging leaves them: full segments (merges stop at the size cap),
 * then halving sizes for the rest, the smallest two equal, MAX_LIVE_SEGMENTS of those at most.
 */
function layout(messages: number): number[] {
  const sizes: number[] = [];
  let left = messages;
  while (left > 2 * FULL_SEGMENT_MESSAGES) {
    sizes.push(FULL_SEGMENT_MESSAGES);
    left -= FULL_SEGMENT_MESSAGES;
  }
  const small: number[] = [];
  while (small.length < MAX_LIVE_SEGMENTS - 1 && left > 1) {
    const size = Math.min(FULL_SEGMENT_MESSAGES, Math.ceil(left / 2));
    small.push(size);
    left -= size;
  }
  if (left > 0) small.push(left);
  return [...sizes, ...small];
}

function documents(v: Vocabulary, mailboxId: string, from: number, count: number) {
  return Array.from({ length: count }, (_, k) => syntheticDocument(v, mailboxId, from + k));
}

async function buildArchive(
  objects: S3SearchObjects,
  v: Vocabulary,
  mailboxId: string,
  messages: number,
) {
  const started = performance.now();
  const segments: SegmentEntry[] = [];
  let next = 0;
  for (const [i, size] of layout(messages).entries()) {
    const bytes = await WASM_SEGMENTS.build(documents(v, mailboxId, next, size));
    sampleRss();
    next += size;
    const id = segmentId(i + 1, (i + 1).toString(16).padStart(16, '0'));
    await objects.put(segmentKey(mailboxId, id), bytes, SEGMENT_CONTENT_TYPE);
    segments.push({
      id,
      sequence: i + 1,
      documents: size,
      octets: bytes.length,
      createdAt: new Date().toISOString(),
    });
    progress(`  segment ${i + 1}: ${size} messages, ${fixed(mb(bytes.length), 1)} MiB`);
  }
  const manifest: SearchManifest = {
    version: 1,
    mailboxId,
    segments,
    updatedAt: new Date().toISOString(),
  };
  await objects.putJson(manifestKey(mailboxId), manifest);
  return { segments, buildSeconds: (performance.now() - started) / 1000 };
}

/**
 * The largest merge at this size: the first two segments if the cap allows merging them, else two
 * half-full segments built for the purpose (what merges into a full one).
 */
async function compactionTime(
  objects: S3SearchObjects,
  v: Vocabulary,
  mailboxId: string,
  segments: SegmentEntry[],
) {
  const [a, b] = segments;
  if (!a || !b) return { messages: 0, seconds: 0 };
  let inputs: Uint8Array[];
  if (a.octets + b.octets <= MAX_MERGED_SEGMENT_OCTETS) {
    inputs = await Promise.all(
      [a, b].map(async (s) => (await objects.get(segmentKey(mailboxId, s.id))) as Uint8Array),
    );
  } else {
    const half = Math.floor(FULL_SEGMENT_MESSAGES / 2);
    inputs = [
      await WASM_SEGMENTS.build(documents(v, mailboxId, 0, half)),
      await WASM_SEGMENTS.build(documents(v, mailboxId, half, half)),
    ];
  }
  peakRss = 0;
  const started = performance.now();
  const read = await Promise.all(inputs.map((bytes) => WASM_SEGMENTS.read(bytes)));
  sampleRss();
  const merged = await WASM_SEGMENTS.build(read.flat());
  sampleRss();
  return {
    messages: read.flat().length,
    seconds: (performance.now() - started) / 1000,
    bytes: merged.length,
    peakRssMb: mb(peakRss),
  };
}

async function flushRun(
  objects: S3SearchObjects,
  v: Vocabulary,
  mailboxId: string,
  first: number,
  run: number,
) {
  const docs = documents(v, mailboxId, first, run);
  let started = performance.now();
  await forEachLimited(docs, JOURNAL_CONCURRENCY, (document) =>
    // No records behind these documents: the flush below is called without them, and indexes all.
    objects.putJson(pendingKey(mailboxId, document.messageKey, 'bench'), { version: 1, document }),
  );
  const journalMs = performance.now() - started;
  started = performance.now();
  const report = await flushSearch(mailboxId, { objects, format: WASM_SEGMENTS, now: Date.now });
  sampleRss();
  return { run, journalMs, flushMs: performance.now() - started, merges: report.merges };
}

function reader(objects: S3SearchObjects, work: string): S3ArchiveSearch {
  const segments = new SegmentCache({
    directory: mkdtempSync(join(work, 'cache-')),
    fetch: (key) => objects.get(key),
    open: openWasmDatabase,
  });
  const records = {
    getMessages: async (mailboxId: string, keys: readonly string[]) =>
      new Map(keys.map((messageKey) => [messageKey, { mailboxId, messageKey } as MessageRecord])),
  };
  return new S3ArchiveSearch({ objects, records, segments });
}

function queries(v: Vocabulary): string[] {
  return [
    wordAtRank(v, 20),
    wordAtRank(v, 2_000),
    wordAtRank(v, 25_000),
    `${wordAtRank(v, 50)} ${wordAtRank(v, 400)}`,
    `"${wordAtRank(v, 0)} ${wordAtRank(v, 1)}"`,
    `from:${wordAtRank(v, 300)}`,
  ];
}

async function timeQuery(search: S3ArchiveSearch, mailboxId: string, q: string): Promise<number> {
  const started = performance.now();
  await search.search({
    mailboxIds: [mailboxId],
    query: parseSearchQuery(q),
    limit: 20,
    cursor: null,
  });
  sampleRss();
  return performance.now() - started;
}

async function measureSize(
  objects: S3SearchObjects,
  v: Vocabulary,
  messages: number,
  runs: number[],
  work: string,
): Promise<SizeResult> {
  peakRss = 0;
  const mailboxId = `bench-${messages}`;
  progress(`${messages} messages: building segments`);
  const { segments, buildSeconds } = await buildArchive(objects, v, mailboxId, messages);
  progress(`${messages} messages: compaction of the two largest segments`);
  const compaction = await compactionTime(objects, v, mailboxId, segments);
  const cold: number[] = [];
  const qs = queries(v);
  for (let i = 0; i < COLD_REPEATS; i++)
    cold.push(await timeQuery(reader(objects, work), mailboxId, qs[i % qs.length] as string));
  const warmReader = reader(objects, work);
  await timeQuery(warmReader, mailboxId, qs[0] as string);
  const warm: number[] = [];
  for (let i = 0; i < WARM_QUERIES; i++)
    warm.push(await timeQuery(warmReader, mailboxId, qs[i % qs.length] as string));
  const flushes = [];
  let first = messages;
  for (const run of runs) {
    progress(`${messages} messages: a run of ${run}`);
    flushes.push(await flushRun(objects, v, mailboxId, first, run));
    first += run;
  }
  return {
    messages,
    segments: segments.length,
    segmentBytes: segments.reduce((sum, s) => sum + s.octets, 0),
    largestSegmentBytes: Math.max(...segments.map((s) => s.octets)),
    buildSeconds,
    flushes,
    compaction,
    coldMs: cold,
    warm: { p50: percentile(warm, 50), p99: percentile(warm, 99) },
    peakRssMb: mb(peakRss),
  };
}

function report(results: SizeResult[]): string {
  const sizes = table(
    [
      'messages',
      'segments',
      'segment MiB',
      'bytes/message',
      'largest MiB',
      'build s',
      'merge of 2 largest',
      'cold query ms (3 runs)',
      'warm p50 / p99 ms',
      'peak RSS MiB',
    ],
    results.map((r) => [
      String(r.messages),
      String(r.segments),
      fixed(mb(r.segmentBytes), 1),
      String(Math.round(r.segmentBytes / r.messages)),
      fixed(mb(r.largestSegmentBytes), 1),
      fixed(r.buildSeconds, 1),
      `${r.compaction.messages} msgs, ${fixed(r.compaction.seconds, 1)} s, ${fixed(r.compaction.peakRssMb ?? 0, 0)} MiB RSS`,
      r.coldMs.map((ms) => fixed(ms, 0)).join(', '),
      `${fixed(r.warm.p50, 1)} / ${fixed(r.warm.p99, 1)}`,
      fixed(r.peakRssMb, 0),
    ]),
  );
  const flushes = table(
    ['archive', 'run of', 'journal ms/message', 'flush ms', 'merges in flush'],
    results.flatMap((r) =>
      r.flushes.map((f) => [
        String(r.messages),
        String(f.run),
        fixed(f.journalMs / f.run, 2),
        fixed(f.flushMs, 0),
        String(f.merges),
      ]),
    ),
  );
  return `${sizes}\n\n${flushes}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '10000,100000' },
      run: { type: 'string', default: '200,2000' },
    },
  });
  const sizes = values.sizes.split(',').map(Number);
  const runs = values.run.split(',').map(Number);
  const work = workDirectory('search-aws');
  const s3rver = await startS3rver();
  try {
    const info = {
      s3Endpoint: s3rver.endpoint,
      dynamoEndpoint: '',
      region: 'us-east-1',
      accessKeyId: 'S3RVER',
      secretAccessKey: 'S3RVER',
    };
    const client = s3ClientFor(info);
    const objects = new S3SearchObjects(client, await createTestBucket(client));
    const v = vocabulary();
    const results: SizeResult[] = [];
    for (const messages of sizes) {
      results.push(await measureSize(objects, v, messages, runs, work));
      // Each size as it is done: a long run that fails late still reports the sizes before.
      process.stdout.write(report(results.slice(-1)));
    }
  } finally {
    await s3rver.stop();
    removeDirectory(work);
  }
}

if (isMain(import.meta.url)) await main();
