/**
 * `npm run bench:pull`: pulls a deterministic 2,000-message corpus from a real Dovecot (implicit TLS,
 * loopback) into S3 and DynamoDB emulators through the production adapters, in delete mode, and prints
 * median/min/max over several runs. A second mode adds 20 ms to every storage request, to show that
 * persistence overlaps retrieval instead of serialising the run.
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
import { DynamoMessageIndex } from '../functions/core/archive/dynamodb-message-index.js';
import { S3RawStore } from '../functions/core/archive/s3-raw-store.js';
import { createMessageParser } from '../functions/core/message/message-parser.js';
import { runPull } from '../functions/core/pull/pull-run.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../test/support/aws-clients.js';
import { seedMailbox, startDovecot, uniqueUser } from '../test/support/dovecot.js';
import { startAwsEmulators } from '../test/support/emulators.js';
import { corpusMessage, corpusSizes, DEFAULT_CORPUS } from './corpus.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    messages: { type: 'string', default: String(DEFAULT_CORPUS.messages) },
    mb: { type: 'string', default: String(DEFAULT_CORPUS.totalOctets / 1024 / 1024) },
  },
});
const runsPerMode = Number(values.runs);
const corpusOptions = {
  messages: Number(values.messages),
  totalOctets: Number(values.mb) * 1024 * 1024,
  seed: DEFAULT_CORPUS.seed,
};

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

function stats(values: number[]): { median: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    median: sorted[Math.floor(sorted.length / 2)] as number,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
  };
}

async function main(): Promise<void> {
  const dovecot = await startDovecot({ lockSession: false });
  const emulators = await startAwsEmulators();
  const sizes = corpusSizes(corpusOptions);
  const corpus = sizes.map((octets, i) => corpusMessage(i, octets, corpusOptions.seed));
  const corpusOctets = corpus.reduce((a, m) => a + m.length, 0);
  const results: Record<string, number[]> = {
    'no added latency': [],
    '20 ms per storage request': [],
  };
  try {
    for (let run = 0; run < runsPerMode; run += 1) {
      // Alternate the modes so drift on the machine affects both alike.
      for (const [mode, latency] of [
        ['no added latency', 0],
        ['20 ms per storage request', 20],
      ] as const) {
        const user = uniqueUser('bench');
        seedMailbox(dovecot.info, user, corpus);
        const s3 = s3ClientFor(emulators.info);
        const dynamo = dynamoClientFor(emulators.info);
        const bucket = await createTestBucket(s3);
        const table = await createTestTable(dynamo);
        if (latency > 0) {
          addLatency(s3, latency);
          addLatency(dynamo, latency);
        }
        const spool = mkdtempSync(join(tmpdir(), 'popvault-bench-'));
        const started = performance.now();
        const record = await runPull(
          {
            mailboxId: `bench-${run}`,
            server: {
              host: dovecot.info.host,
              port: dovecot.info.tlsPort,
              tls: 'implicit',
              ca: dovecot.info.caPem,
            },
            policy: { kind: 'delete' },
            hardDeadline: Date.now() + 30 * 60_000,
          },
          {
            rawStore: new S3RawStore({ client: s3, bucket }),
            index: new DynamoMessageIndex({ client: dynamo, tableName: table }),
            credentials: { get: async () => ({ user, password: dovecot.info.password }) },
            createParser: createMessageParser,
            spoolDirectory: spool,
            now: Date.now,
            newRunId: randomUUID,
          },
        );
        const seconds = (performance.now() - started) / 1000;
        rmSync(spool, { recursive: true, force: true });
        if (record.outcome !== 'success' || record.counts.stored !== corpus.length) {
          throw new Error(`bench run did not archive everything: ${JSON.stringify(record)}`);
        }
        results[mode]?.push(seconds);
        console.error(`run ${run + 1} ${mode}: ${seconds.toFixed(2)} s`);
      }
    }
  } finally {
    await emulators.stop();
    await dovecot.stop();
  }
  console.log(
    `\ncorpus: ${corpus.length} messages, ${(corpusOctets / 1024 / 1024).toFixed(1)} MB; ${runsPerMode} runs per mode\n`,
  );
  console.log('| mode | median s | min s | max s | msg/s (median) | MB/s (median) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const [mode, times] of Object.entries(results)) {
    const s = stats(times);
    console.log(
      `| ${mode} | ${s.median.toFixed(2)} | ${s.min.toFixed(2)} | ${s.max.toFixed(2)} | ${(corpus.length / s.median).toFixed(0)} | ${(corpusOctets / 1024 / 1024 / s.median).toFixed(1)} |`,
    );
  }
  const base = stats(results['no added latency'] ?? []).median;
  const slow = stats(results['20 ms per storage request'] ?? []).median;
  console.log(
    `\nthroughput with 20 ms storage latency: ${((base / slow) * 100).toFixed(0)}% of the run without`,
  );
}

await main();
