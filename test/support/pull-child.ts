/**
 * Runs one pull in a child process so a test can SIGKILL it at any moment: the "process dies at a
 * random point" case. Settings arrive as JSON in POPVAULT_CHILD_CONFIG; progress goes to stdout, one
 * line per event, which is the signal the parent waits for before it kills.
 */

import { randomUUID } from 'node:crypto';
import { DynamoMessageIndex } from '../../functions/adapters/aws/dynamodb-message-index.js';
import { S3RawStore } from '../../functions/adapters/aws/s3-raw-store.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import type { PullOptions } from '../../functions/core/pull/pull-options.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import { dynamoClientFor, s3ClientFor } from './aws-clients.js';
import type { AwsEmulatorInfo } from './emulators.js';

export interface ChildConfig {
  aws: AwsEmulatorInfo;
  bucket: string;
  table: string;
  spoolDirectory: string;
  options: PullOptions;
  user: string;
  password: string;
}

const config = JSON.parse(process.env.POPVAULT_CHILD_CONFIG ?? '') as ChildConfig;
const run = await runPull(config.options, {
  rawStore: new S3RawStore({ client: s3ClientFor(config.aws), bucket: config.bucket }),
  index: new DynamoMessageIndex({ client: dynamoClientFor(config.aws), tableName: config.table }),
  credentials: { get: async () => ({ user: config.user, password: config.password }) },
  createParser: createMessageParser,
  spoolDirectory: config.spoolDirectory,
  now: Date.now,
  newRunId: randomUUID,
  onProgress: (event) => process.stdout.write(`${JSON.stringify(event)}\n`),
});
process.stdout.write(
  `${JSON.stringify({ kind: 'done', outcome: run.outcome, stored: run.counts.stored })}\n`,
);
