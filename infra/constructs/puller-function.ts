import { Duration, Size, Validations } from 'aws-cdk-lib';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MAX_SPOOL_FILES_AT_ONCE } from '../../functions/core/pull/pull-options.js';
import type { MailboxConfig, PullerConfig } from '../config/load-config.js';
import type { ArchiveTable } from './archive-table.js';
import { PULLER_NODE_OPTIONS } from './lambda-node-options.js';
import type { MailBucket } from './mail-bucket.js';
import type { MailboxSecrets } from './mailbox-secrets.js';
import { NodeFunction } from './node-function.js';

export const PULLER_ENTRY = 'functions/puller/handler.ts';
/** Where large messages are spooled: Lambda's only writable directory. */
const SPOOL_DIR = '/tmp';

export interface PullerFunctionProps {
  config: PullerConfig;
  mailboxes: readonly MailboxConfig[];
  mailBucket: MailBucket;
  archiveTable: ArchiveTable;
  secrets: MailboxSecrets;
}

/**
 * The scheduled puller and its dead-letter queue.
 *
 * Defaults: 1 GiB memory, 900 s timeout, reserved concurrency = number of mailboxes (a backlog
 * cannot fan out beyond one invocation per mailbox; the lease keeps it to one session each), /tmp
 * sized for MAX_SPOOL_FILES_AT_ONCE spooled messages of the largest `maxMessageBytes`, async retries
 * off and failed or expired invocations sent to an SQS dead-letter queue (SQS-managed encryption,
 * TLS only, 14 days).
 */
export class PullerFunction extends Construct {
  readonly function: NodeFunction;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PullerFunctionProps) {
    super(scope, id);
    const { config, mailboxes } = props;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue (Lambda on-failure destination and Scheduler DLQ); cdk-nag only recognises DLQs of other queues.',
    });

    this.function = new NodeFunction(this, 'Puller', {
      entry: PULLER_ENTRY,
      description: 'pulls one mailbox per scheduled event into the archive',
      memorySize: config.memoryMiB,
      timeout: Duration.seconds(config.timeoutSeconds),
      logRetention: config.logRetentionDays as logs.RetentionDays,
      ephemeralStorageSize: Size.mebibytes(spoolMiB(mailboxes)),
      ...(config.maxConcurrency !== null
        ? { reservedConcurrentExecutions: config.maxConcurrency }
        : {}),
      async: {
        // An event that waited longer than the shortest schedule period is superseded by the next run.
        maxEventAge: Duration.seconds(
          Math.min(6 * 3600, Math.max(60, shortestGapMinutes(mailboxes) * 60)),
        ),
        onFailure: new destinations.SqsDestination(this.deadLetterQueue),
      },
      environment: {
        NODE_OPTIONS: PULLER_NODE_OPTIONS,
        // Paired with mailBucket.grantPullerWrite below.
        POPVAULT_BUCKET: props.mailBucket.bucket.bucketName,
        // Paired with archiveTable.grantPullerWrite below.
        POPVAULT_TABLE: props.archiveTable.table.tableName,
        // Paired with ephemeralStorageSize above.
        POPVAULT_SPOOL_DIR: SPOOL_DIR,
      },
    });
    const fn = this.function.fn;
    props.mailBucket.grantPullerWrite(fn);
    props.archiveTable.grantPullerWrite(fn);
    // No env var: each scheduled event names its mailbox's secret (secretId); this is what it may read.
    props.secrets.grantRead(fn);
  }
}

function shortestGapMinutes(mailboxes: readonly MailboxConfig[]): number {
  return Math.min(...mailboxes.map((m) => m.schedule.minGapMinutes));
}

/**
 * /tmp for up to MAX_SPOOL_FILES_AT_ONCE messages spooled at once, each up to the largest size limit,
 * plus headroom; Lambda's range is 512-10240 MiB. A mailbox without a size limit gets the maximum.
 */
export function spoolMiB(mailboxes: readonly MailboxConfig[]): number {
  const MAX = 10240;
  let largest = 0;
  for (const m of mailboxes) {
    if (m.maxMessageBytes === null) return MAX;
    largest = Math.max(largest, m.maxMessageBytes);
  }
  const needed = Math.ceil((MAX_SPOOL_FILES_AT_ONCE * largest) / 1024 ** 2) + 512;
  return Math.min(MAX, Math.max(512, needed));
}
