/**
 * What the stack costs a month, computed from what a scheduled run really asks of AWS: the puller's
 * own handler (createPullerHandler, as Lambda runs it) pulls from Dovecot into the S3 and DynamoDB
 * emulators while every SDK request is counted by command, and DynamoDB's consumed capacity (asked
 * for on every request, ReturnConsumedCapacity TOTAL) is summed. Three runs are measured, with search
 * on as deployed and again with it off: one that archives a batch of the bench corpus, one that
 * archives a single message, one that finds no mail (most scheduled runs). The batch minus the single
 * run, divided by the batch less one, is the cost of a message; the single run minus the idle run and
 * one message is what any run with mail pays once (the search flush). Metric series are counted from
 * what the handler publishes, alarms from the synthesized template. Prices: bench/aws-prices.ts.
 *
 * Durations are measured against emulators and a Dovecot on loopback, so they are lower bounds of a
 * run against a real server across the internet (a TLS handshake and each round trip add to them).
 *
 *   npm run bench:cost [-- --batch 50]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { journalDocument } from '../functions/adapters/aws/search-journal.js';
import { SEGMENTS_PREFIX } from '../functions/adapters/aws/search-keys.js';
import { WASM_SEGMENTS } from '../functions/adapters/aws/sqlite-wasm-segments.js';
import { createMessageParser } from '../functions/core/message/message-parser.js';
import { parseMailboxSettings } from '../functions/core/settings/mailbox-settings.js';
import { createPullerHandler } from '../functions/puller/create-puller-handler.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../test/support/aws-clients.js';
import { type DovecotInfo, seedMailbox, startDovecot } from '../test/support/dovecot.js';
import { type AwsEmulatorInfo, startAwsEmulators } from '../test/support/emulators.js';
import { buildCorpus } from './corpus.js';
import { type AlarmCounts, renderCost } from './cost-report.js';
import { isMain, progress, seedFresh } from './lib.js';

/** What one run asked of AWS. */
export interface RunTally {
  ms: number;
  s3: Record<string, number>;
  dynamo: Record<string, number>;
  writeUnits: number;
  readUnits: number;
  secretReads: number;
  /** Metric names the handler published (each is one series per mailbox). */
  metrics: Set<string>;
  logBytes: number;
}

function emptyTally(): RunTally {
  return {
    ms: 0,
    s3: {},
    dynamo: {},
    writeUnits: 0,
    readUnits: 0,
    secretReads: 0,
    metrics: new Set(),
    logBytes: 0,
  };
}

type Capacity = { CapacityUnits?: number; ReadCapacityUnits?: number; WriteCapacityUnits?: number };

function addCapacity(tally: RunTally, commandName: string, consumed: unknown): void {
  const list = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as Capacity[];
  for (const c of list) {
    const write = c.WriteCapacityUnits ?? 0;
    const read = c.ReadCapacityUnits ?? 0;
    if (write + read > 0) {
      tally.writeUnits += write;
      tally.readUnits += read;
    } else if (/Get|Query|Scan/.test(commandName)) {
      tally.readUnits += c.CapacityUnits ?? 0;
    } else {
      tally.writeUnits += c.CapacityUnits ?? 0;
    }
  }
}

/** Counts every request each client sends; asks DynamoDB what each one consumed. */
function instrument(s3: S3Client, dynamo: DynamoDBClient, current: () => RunTally): void {
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      const tally = current();
      const name = context.commandName ?? 'unknown';
      tally.s3[name] = (tally.s3[name] ?? 0) + 1;
      return next(args);
    },
    { step: 'initialize', name: 'costCounter' },
  );
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const tally = current();
      const name = context.commandName ?? 'unknown';
      tally.dynamo[name] = (tally.dynamo[name] ?? 0) + 1;
      const input = args.input as Record<string, unknown>;
      if (!/Describe|Create|UpdateTimeToLive/.test(name)) input.ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      addCapacity(tally, name, (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity);
      return result;
    },
    { step: 'initialize', name: 'costCounter' },
  );
}

export interface CostMeasurement {
  search: boolean;
  batch: number;
  batchOctets: number;
  idle: RunTally;
  busy: RunTally;
  /** A run that archives one message (after the batch: the search manifest exists). */
  single: RunTally;
  /** Search segments in S3 per message archived, after all runs (0 with search off). */
  segmentBytesPerMessage: number;
  /** What stays stored per message: raw bytes in S3 and index bytes in DynamoDB (item JSON). */
  s3BytesPerMessage: number;
  dynamoBytesPerMessage: number;
}

async function tableBytes(dynamo: DynamoDBClient, table: string): Promise<number> {
  const { ScanCommand } = await import('@aws-sdk/client-dynamodb');
  let bytes = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.send(
      new ScanCommand({
        TableName: table,
        ...(start ? { ExclusiveStartKey: start as never } : {}),
      }),
    );
    for (const item of page.Items ?? []) bytes += JSON.stringify(item).length;
    start = page.LastEvaluatedKey;
  } while (start);
  return bytes;
}

export async function measureCost(options: {
  dovecot: DovecotInfo;
  aws: AwsEmulatorInfo;
  batch: number;
  search: boolean;
}): Promise<CostMeasurement> {
  const { dovecot, aws, batch, search } = options;
  const all = buildCorpus().slice(0, batch + 1);
  const corpus = all.slice(0, batch);
  const user = seedFresh(dovecot, 'cost', corpus);
  const s3 = s3ClientFor(aws);
  const dynamo = dynamoClientFor(aws);
  const bucket = await createTestBucket(s3);
  const table = await createTestTable(dynamo);
  let tally = emptyTally();
  instrument(s3, dynamo, () => tally);
  const spool = mkdtempSync(join(tmpdir(), 'popvault-cost-'));
  const mailbox = parseMailboxSettings({
    mailboxId: 'cost',
    host: dovecot.host,
    port: dovecot.tlsPort,
    tls: 'implicit',
    caPem: dovecot.caPem,
    secretId: 'cost-secret',
  });
  const handler = createPullerHandler({
    env: { bucketName: bucket, tableName: table, spoolDirectory: spool, mailbox, search },
    s3,
    search: { toDocument: journalDocument, format: WASM_SEGMENTS },
    dynamo,
    secrets: {
      getSecretString: async () => {
        tally.secretReads += 1;
        return JSON.stringify({ kind: 'password', username: user, password: dovecot.password });
      },
    },
    logger: {
      info: (message, attributes) => {
        tally.logBytes += JSON.stringify({ message, ...attributes }).length;
      },
      warn: (message, attributes) => {
        tally.logBytes += JSON.stringify({ message, ...attributes }).length;
      },
      error: (message, attributes) => {
        tally.logBytes += JSON.stringify({ message, ...attributes }).length;
      },
    },
    metrics: {
      addDimension: () => {},
      addMetric: (name) => tally.metrics.add(name),
      publishStoredMetrics: () => {},
    },
    createParser: createMessageParser,
  });
  const context = { getRemainingTimeInMillis: () => 15 * 60_000 };
  const run = async (): Promise<RunTally> => {
    tally = emptyTally();
    const started = performance.now();
    await handler({ mailboxId: 'cost' }, context);
    tally.ms = performance.now() - started;
    return tally;
  };
  try {
    const label = search ? 'search on' : 'search off';
    progress(`cost (${label}): a run archiving ${batch} messages`);
    const busy = await run();
    seedMailbox(dovecot, user, all.slice(batch));
    progress(`cost (${label}): a run archiving one message`);
    const single = await run();
    progress(`cost (${label}): a run that finds no mail`);
    const idle = await run();
    const batchOctets = corpus.reduce((sum, m) => sum + m.length, 0);
    return {
      search,
      batch,
      batchOctets,
      idle,
      busy,
      single,
      segmentBytesPerMessage: (await prefixBytes(s3, bucket, SEGMENTS_PREFIX)) / (batch + 1),
      s3BytesPerMessage: batchOctets / batch,
      dynamoBytesPerMessage: (await tableBytes(dynamo, table)) / Math.max(1, batch),
    };
  } finally {
    rmSync(spool, { recursive: true, force: true });
    s3.destroy();
    dynamo.destroy();
  }
}

async function prefixBytes(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  let bytes = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        ...(token ? { ContinuationToken: token } : {}),
      }),
    );
    for (const object of page.Contents ?? []) bytes += object.Size ?? 0;
    token = page.NextContinuationToken;
  } while (token);
  return bytes;
}

/** Alarms in the template with one mailbox and with two: the difference is per mailbox. */
export async function countAlarms(): Promise<AlarmCounts> {
  const { synth, BASE_MAILBOX, resourcesOf } = await import('../test/infra/synth.js');
  const alarmsWith = (n: number) =>
    resourcesOf(
      synth({
        mailboxes: Array.from({ length: n }, (_, i) => ({ ...BASE_MAILBOX, id: `box${i}` })),
      }).json,
      'AWS::CloudWatch::Alarm',
    ).length;
  const one = alarmsWith(1);
  const perMailbox = alarmsWith(2) - one;
  return { fixed: one - perMailbox, perMailbox };
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({ options: { batch: { type: 'string', default: '50' } } });
  const dovecot = await startDovecot({ lockSession: false });
  const emulators = await startAwsEmulators();
  try {
    const measure = (search: boolean) =>
      measureCost({
        dovecot: dovecot.info,
        aws: emulators.info,
        batch: Number(values.batch),
        search,
      });
    const withSearch = await measure(true);
    const withoutSearch = await measure(false);
    progress('cost: alarms in the synthesized template');
    console.log(renderCost(withSearch, withoutSearch, await countAlarms()));
  } finally {
    await emulators.stop();
    await dovecot.stop();
  }
}
