/**
 * `npm run bench:pull` (and section 2 of `npm run bench`): pulls a deterministic 2,000-message corpus
 * from a real Dovecot (implicit TLS, loopback) into S3 and DynamoDB emulators through the production
 * adapters, in delete mode, and prints median/min/max over several runs. A second mode adds 20 ms to
 * every storage request, to show that persistence overlaps retrieval instead of serialising the run.
 *
 * Needs root (Dovecot) and the packages `.ci/run` installs. Options: --runs N (default 3),
 * --messages N, --mb N (corpus size).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoMessageIndex } from '../functions/adapters/aws/dynamodb-message-index.js';
import { S3RawStore } from '../functions/adapters/aws/s3-raw-store.js';
import { createMessageParser } from '../functions/core/message/message-parser.js';
import { runPull } from '../functions/core/pull/pull-run.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../test/support/aws-clients.js';
import { type DovecotInfo, startDovecot } from '../test/support/dovecot.js';
import { type AwsEmulatorInfo, startAwsEmulators } from '../test/support/emulators.js';
import { buildCorpus, CORPUS_ARGS } from './corpus.js';
import {
  atLeast,
  fixed,
  isMain,
  mb,
  progress,
  removeUser,
  seedFresh,
  stats,
  syncDisks,
  table,
  verdict,
} from './lib.js';

/** Delays every request a client sends, as a distant region or a throttled table would. */
function addLatency(client: S3Client | DynamoDBClient, ms: number): void {
  (client as S3Client).middlewareStack.add(
    (next) => async (args) => {
      await new Promise((resolve) => setTimeout(resolve, ms));
      return next(args);
    },
    { step: 'finalizeRequest', name: 'benchLatency' },
  );
}

export const STORAGE_MODES = [
  { name: 'no added latency', latencyMs: 0 },
  { name: '20 ms per storage request', latencyMs: 20 },
] as const;

export interface StorageResult {
  messages: number;
  octets: number;
  runs: number;
  /** Seconds per run, by mode name. */
  seconds: Record<string, number[]>;
}

export async function storageLatencyBench(options: {
  dovecot: DovecotInfo;
  aws: AwsEmulatorInfo;
  corpus: Buffer[];
  runs: number;
}): Promise<StorageResult> {
  const { dovecot, aws, corpus, runs } = options;
  const result: StorageResult = {
    messages: corpus.length,
    octets: corpus.reduce((a, m) => a + m.length, 0),
    runs,
    seconds: Object.fromEntries(STORAGE_MODES.map((m) => [m.name, []])),
  };
  for (let run = 0; run < runs; run += 1) {
    // Alternate the modes so drift on the machine affects both alike.
    for (const { name, latencyMs } of STORAGE_MODES) {
      const user = seedFresh(dovecot, 'bench', corpus);
      const s3 = s3ClientFor(aws);
      const dynamo = dynamoClientFor(aws);
      const bucket = await createTestBucket(s3);
      const table = await createTestTable(dynamo);
      if (latencyMs > 0) {
        addLatency(s3, latencyMs);
        addLatency(dynamo, latencyMs);
      }
      const spool = mkdtempSync(join(tmpdir(), 'popvault-bench-'));
      const started = performance.now();
      const record = await runPull(
        {
          mailboxId: `bench-${run}`,
          server: { host: dovecot.host, port: dovecot.tlsPort, tls: 'implicit', ca: dovecot.caPem },
          policy: { kind: 'delete' },
          hardDeadline: Date.now() + 30 * 60_000,
        },
        {
          rawStore: new S3RawStore({ client: s3, bucket }),
          index: new DynamoMessageIndex({ client: dynamo, tableName: table }),
          credentials: { get: async () => ({ user, password: dovecot.password }) },
          createParser: createMessageParser,
          spoolDirectory: spool,
          now: Date.now,
          newRunId: randomUUID,
        },
      );
      const seconds = (performance.now() - started) / 1000;
      rmSync(spool, { recursive: true, force: true });
      s3.destroy();
      dynamo.destroy();
      removeUser(dovecot, user);
      syncDisks();
      if (record.outcome !== 'success' || record.counts.stored !== corpus.length) {
        throw new Error(`bench run did not archive everything: ${JSON.stringify(record)}`);
      }
      result.seconds[name]?.push(seconds);
      progress(`storage run ${run + 1}/${runs} ${name}: ${fixed(seconds)} s`);
    }
  }
  return result;
}

export function renderStorage(r: StorageResult): string {
  const rows = STORAGE_MODES.map(({ name }) => {
    const s = stats(r.seconds[name] ?? []);
    return [
      name,
      fixed(s.median),
      fixed(s.min),
      fixed(s.max),
      (r.messages / s.median).toFixed(0),
      fixed(mb(r.octets) / s.median, 1),
    ];
  });
  const [base, slow] = STORAGE_MODES.map(({ name }) => r.seconds[name] ?? []) as [
    number[],
    number[],
  ];
  // Throughput ratio per run (the two modes ran back to back), then the median of those.
  const share = stats(base.map((b, i) => (b / (slow[i] as number)) * 100));
  return [
    `### 2. Pull into S3 + DynamoDB emulators (${r.messages} messages, ${fixed(mb(r.octets), 1)} MB, ${r.runs} runs per mode, in-process runPull)`,
    '',
    table(['mode', 'median s', 'min s', 'max s', 'msg/s (median)', 'MB/s (median)'], rows),
    '',
    table(
      [
        'throughput with 20 ms latency, % of without (per run pair)',
        'median',
        'min',
        'max',
        'target',
      ],
      [
        [
          'with / without',
          `${share.median.toFixed(0)}%`,
          `${share.min.toFixed(0)}%`,
          `${share.max.toFixed(0)}%`,
          verdict(atLeast(50, '%'), share.median),
        ],
      ],
    ),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      ...CORPUS_ARGS,
    },
  });
  const corpus = buildCorpus(values);
  const dovecot = await startDovecot({ lockSession: false });
  const emulators = await startAwsEmulators();
  try {
    const result = await storageLatencyBench({
      dovecot: dovecot.info,
      aws: emulators.info,
      corpus,
      runs: Number(values.runs),
    });
    console.log(renderStorage(result));
  } finally {
    await emulators.stop();
    await dovecot.stop();
  }
}
