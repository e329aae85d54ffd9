/**
 * The AWS search on the emulators, wired as the puller and the query function wire it: a bucket
 * and a table per test file, the journal in front of the DynamoDB index, the flush as the run's
 * afterSession step, and S3ArchiveSearch reading what it wrote.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoMessageIndex } from '../../functions/adapters/aws/dynamodb-message-index.js';
import { createS3ArchiveSearch } from '../../functions/adapters/aws/s3-archive-search.js';
import { S3RawStore } from '../../functions/adapters/aws/s3-raw-store.js';
import { S3SearchObjects } from '../../functions/adapters/aws/s3-search-objects.js';
import {
  journalDocument,
  SearchJournalIndex,
} from '../../functions/adapters/aws/search-journal.js';
import { WASM_SEGMENTS } from '../../functions/adapters/aws/sqlite-wasm-segments.js';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import type { PullOptions } from '../../functions/core/pull/pull-options.js';
import type { PullDeps } from '../../functions/core/pull/pull-run.js';
import { SNIPPET_MARK_END, SNIPPET_MARK_START } from '../../functions/core/search/search-ports.js';
import { parseSearchQuery } from '../../functions/core/search/search-query.js';
import {
  type SearchFlushStepDeps,
  searchFlushStep,
} from '../../functions/puller/search-flush-step.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../support/aws-clients.js';
import type { DovecotInfo } from '../support/dovecot.js';
import type { AwsEmulatorInfo } from '../support/emulators.js';

export interface SearchLab {
  s3: S3Client;
  bucket: string;
  index: DynamoMessageIndex;
  rawStore: S3RawStore;
  objects: S3SearchObjects;
  journal: SearchJournalIndex;
}

export async function searchLab(aws: AwsEmulatorInfo): Promise<SearchLab> {
  const s3 = s3ClientFor(aws);
  const dynamo = dynamoClientFor(aws);
  const [bucket, table] = await Promise.all([createTestBucket(s3), createTestTable(dynamo)]);
  const index = new DynamoMessageIndex({ client: dynamo, tableName: table });
  const objects = new S3SearchObjects(s3, bucket);
  return {
    s3,
    bucket,
    index,
    rawStore: new S3RawStore({ client: s3, bucket }),
    objects,
    journal: new SearchJournalIndex(index, objects, journalDocument),
  };
}

let runs = 0;

/** A pull of `user`'s Dovecot mailbox into the lab, through the journal, with `over` applied. */
export function pullDeps(
  lab: SearchLab,
  user: string,
  password: string,
  over: Partial<PullDeps> = {},
): PullDeps {
  return {
    rawStore: lab.rawStore,
    index: lab.journal,
    credentials: { get: async () => ({ user, password }) },
    createParser: createMessageParser,
    spoolDirectory: mkdtempSync(join(tmpdir(), 'popvault-spool-')),
    now: Date.now,
    newRunId: () => `search-run-${++runs}-${randomBytes(4).toString('hex')}`,
    ...over,
  };
}

export function pullOptions(dovecot: DovecotInfo, mailboxId: string): PullOptions {
  return {
    mailboxId,
    server: { host: dovecot.host, port: dovecot.tlsPort, tls: 'implicit', ca: dovecot.caPem },
    policy: { kind: 'delete' },
    hardDeadline: Date.now() + 5 * 60_000,
  };
}

/** A fresh reader, with its own empty cache (a cold query function). */
export function reader(lab: SearchLab) {
  return createS3ArchiveSearch({
    client: lab.s3,
    bucket: lab.bucket,
    records: lab.index,
    cacheDirectory: mkdtempSync(join(tmpdir(), 'popvault-search-cache-')),
  });
}

/** The records a query finds in `mailboxIds`, every page followed, with their snippets. */
export async function find(
  search: ReturnType<typeof reader>,
  mailboxIds: readonly string[],
  q: string,
  limit = 100,
): Promise<{ record: MessageRecord; snippet: string }[]> {
  const found: { record: MessageRecord; snippet: string }[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 50; page++) {
    const result = await search.search({ mailboxIds, query: parseSearchQuery(q), limit, cursor });
    found.push(...result.items);
    cursor = result.cursor;
    if (cursor === null) return found;
  }
  throw new Error('search pages never ended');
}

export function subjects(hits: readonly { record: MessageRecord }[]): string[] {
  return hits.map((h) => h.record.subject ?? '').sort();
}

/** A snippet as a person sees it, matches in [brackets]. */
export function marked(snippet: string): string {
  return snippet.replaceAll(SNIPPET_MARK_START, '[').replaceAll(SNIPPET_MARK_END, ']');
}

/** The live segments' documents, by message key, counted across segments. */
export async function documentsInSegments(
  lab: SearchLab,
  manifestSegments: readonly string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const key of manifestSegments) {
    const bytes = await lab.objects.get(key);
    if (bytes === null) throw new Error(`segment ${key} is missing`);
    for (const doc of await WASM_SEGMENTS.read(bytes)) {
      counts.set(doc.messageKey, (counts.get(doc.messageKey) ?? 0) + 1);
    }
  }
  return counts;
}

/** The lab's bucket through S3SearchObjects, with some calls replaced (failures injected). */
export function objectsWith(
  lab: SearchLab,
  overrides: Partial<Pick<S3SearchObjects, 'put' | 'putJson' | 'delete' | 'getJson' | 'list'>>,
): S3SearchObjects {
  return Object.assign(new S3SearchObjects(lab.s3, lab.bucket), overrides);
}

export interface RecordingMetrics {
  names: string[];
  addMetric(name: string): void;
  addDimension(): void;
  publishStoredMetrics(): void;
}

/** Metrics that remember the names published, in order. */
export function recordingMetrics(): RecordingMetrics {
  const names: string[] = [];
  return {
    names,
    addMetric: (name) => names.push(name),
    addDimension() {},
    publishStoredMetrics() {},
  };
}

/** A logger that keeps each level's messages, for the tests that check what was said. */
export function recordingLogger() {
  const said = { info: [] as string[], warn: [] as string[], error: [] as string[] };
  return {
    said,
    info: (message: string) => said.info.push(message),
    warn: (message: string) => said.warn.push(message),
    error: (message: string) => said.error.push(message),
  };
}

/** The puller's search flush step over the lab, as create-puller-handler.ts wires it. */
export function flushStep(lab: SearchLab, over: Partial<SearchFlushStepDeps> = {}) {
  return searchFlushStep({
    objects: lab.objects,
    format: WASM_SEGMENTS,
    records: lab.index,
    now: Date.now,
    logger: recordingLogger(),
    metrics: recordingMetrics(),
    ...over,
  });
}
