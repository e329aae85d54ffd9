import { Duration, Size, Stack, Token, Validations } from 'aws-cdk-lib';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SEARCH_S3_SEGMENTS, SEARCH_VARIABLE } from '../../functions/adapters/aws/search-env.js';
import { MAX_SPOOL_FILES_AT_ONCE } from '../../functions/core/pull/pull-options.js';
import { MAILBOX_VARIABLE } from '../../functions/puller/puller-env.js';
import {
  type MailboxConfig,
  mailboxSettingsInput,
  type PullerConfig,
} from '../config/load-config.js';
import type { ArchiveTable } from './archive-table.js';
import { PULLER_NODE_OPTIONS } from './lambda-node-options.js';
import type { MailBucket } from './mail-bucket.js';
import type { MailboxSecrets } from './mailbox-secrets.js';
import { NodeFunction } from './node-function.js';

export const PULLER_ENTRY = 'functions/puller/handler.ts';
/** Where large messages are spooled: Lambda's only writable directory. */
const SPOOL_DIR = '/tmp';
/** Lambda's limit on a function's environment: all names and values together. */
export const LAMBDA_ENVIRONMENT_MAX_BYTES = 4096;
/**
 * Stands in for values only known at deploy time when the environment's size is checked: bucket
 * names are at most 63 bytes, generated table names and secret ARNs stay well under 256.
 */
const DEPLOY_TIME_VALUE = 'x'.repeat(256);

export interface PullerFunctionsProps {
  config: PullerConfig;
  mailboxes: readonly MailboxConfig[];
  mailBucket: MailBucket;
  archiveTable: ArchiveTable;
  secrets: MailboxSecrets;
}

export interface MailboxPuller {
  mailbox: MailboxConfig;
  function: NodeFunction;
}

/**
 * One puller function per mailbox, and the dead-letter queue they share.
 *
 * Why one function per mailbox (rather than one function assuming a per-mailbox role for each run):
 * whoever may invoke a function or edit a schedule chooses its event, so nothing in the event may
 * choose the server, the CA or the secret. Here each function's mailbox settings (server, port, TLS,
 * CA, pin, pipelining, policy, limits, secret ARN) are fixed at synth in its environment, its event
 * is only `{"mailboxId": ...}` (refused unless it names this mailbox), and its own role may read
 * only its own mailbox's secret and write only under its own `raw/<mailbox>/` prefix. An AssumeRole
 * per run would keep one function, but that function's role would have to be allowed to assume
 * every mailbox's role, so choosing the mailbox would again be up to the code reading the event; with
 * separate roles IAM itself enforces the boundary. Reserved concurrency 1 per function makes a second
 * concurrent run of a mailbox impossible, a guard besides the lease.
 *
 * The settings go in the environment (POPVAULT_MAILBOX, JSON), not in a JSON file bundled per
 * mailbox: every function then runs the same bundle (esbuild runs once, one asset is uploaded, and
 * the deploy rehearsal runs exactly that asset), and the settings hold no secret. Changing them
 * needs lambda:UpdateFunctionConfiguration, which could replace the code as well: no weaker than a
 * deploy. Lambda caps an environment at 4 KB; synth fails with the mailbox named if one would not
 * fit (a long CA chain: use `pinSha256`, or trust only the issuing CA).
 *
 * Defaults: 1 GiB memory, 900 s timeout, reserved concurrency 1 per mailbox (none when
 * `puller.maxConcurrency` is null), /tmp sized for MAX_SPOOL_FILES_AT_ONCE spooled messages of the
 * mailbox's `maxMessageBytes`, async retries off and failed or expired invocations sent to an SQS
 * dead-letter queue (SQS-managed encryption, TLS only, 14 days).
 */
export class PullerFunctions extends Construct {
  readonly byMailbox: ReadonlyMap<string, MailboxPuller>;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PullerFunctionsProps) {
    super(scope, id);
    const { config, mailboxes } = props;
    if (config.maxConcurrency !== null && config.maxConcurrency < mailboxes.length) {
      throw new Error(
        `puller.maxConcurrency is ${config.maxConcurrency}, but each of the ${mailboxes.length} mailboxes has its own puller function reserving 1; set it to ${mailboxes.length}, or to null to reserve nothing`,
      );
    }

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

    const byMailbox = new Map<string, MailboxPuller>();
    for (const mailbox of mailboxes) {
      const secret = props.secrets.byMailbox.get(mailbox.id);
      if (!secret) throw new Error(`mailbox ${mailbox.id} has no secret`);
      const settings = mailboxSettingsInput(mailbox, secret.secret.secretArn);
      const environment: Record<string, string> = {
        NODE_OPTIONS: PULLER_NODE_OPTIONS,
        // Paired with mailBucket.grantPullerWrite below.
        POPVAULT_BUCKET: props.mailBucket.bucket.bucketName,
        // Paired with archiveTable.grantPullerWrite below.
        POPVAULT_TABLE: props.archiveTable.table.tableName,
        // Paired with mailBucket.grantPullerSearch below: journal text, flush segments.
        [SEARCH_VARIABLE]: SEARCH_S3_SEGMENTS,
        // Paired with ephemeralStorageSize below.
        POPVAULT_SPOOL_DIR: SPOOL_DIR,
        // Paired with secrets.grantRead below: the one secret this function may read.
        [MAILBOX_VARIABLE]: Stack.of(this).toJsonString(settings),
      };
      checkEnvironmentSize(mailbox.id, {
        ...environment,
        POPVAULT_BUCKET: DEPLOY_TIME_VALUE,
        POPVAULT_TABLE: DEPLOY_TIME_VALUE,
        [MAILBOX_VARIABLE]: JSON.stringify(
          mailboxSettingsInput(
            mailbox,
            Token.isUnresolved(secret.secret.secretArn)
              ? DEPLOY_TIME_VALUE
              : secret.secret.secretArn,
          ),
        ),
      });
      const fn = new NodeFunction(this, `Puller-${mailbox.id}`, {
        entry: PULLER_ENTRY,
        description: `pulls one mailbox (${mailbox.id}) per scheduled event into the archive`,
        memorySize: config.memoryMiB,
        timeout: Duration.seconds(config.timeoutSeconds),
        logRetention: config.logRetentionDays as logs.RetentionDays,
        ephemeralStorageSize: Size.mebibytes(spoolMiB([mailbox])),
        ...(config.maxConcurrency !== null ? { reservedConcurrentExecutions: 1 } : {}),
        async: {
          // An event that waited longer than the schedule's period is superseded by the next run.
          maxEventAge: Duration.seconds(
            Math.min(6 * 3600, Math.max(60, mailbox.schedule.minGapMinutes * 60)),
          ),
          onFailure: new destinations.SqsDestination(this.deadLetterQueue),
        },
        environment,
      });
      props.mailBucket.grantPullerWrite(fn.fn, mailbox.id);
      props.mailBucket.grantPullerSearch(fn.fn, mailbox.id);
      props.archiveTable.grantPullerWrite(fn.fn);
      props.secrets.grantRead(fn.fn, mailbox.id);
      byMailbox.set(mailbox.id, { mailbox, function: fn });
    }
    this.byMailbox = byMailbox;
  }
}

/**
 * Fails synth, naming the mailbox, when its function's environment would exceed Lambda's limit (the
 * deploy would fail much later with a less helpful message). `environment` has DEPLOY_TIME_VALUE in
 * place of values only known at deploy time.
 */
function checkEnvironmentSize(mailboxId: string, environment: Record<string, string>): void {
  let bytes = 0;
  for (const [name, value] of Object.entries(environment)) {
    bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  }
  if (bytes > LAMBDA_ENVIRONMENT_MAX_BYTES) {
    throw new Error(
      `mailbox ${mailboxId}: its puller's settings take about ${bytes} bytes of environment, over Lambda's ${LAMBDA_ENVIRONMENT_MAX_BYTES}; shorten "caPem" (trust only the issuing CA) or use "pinSha256" instead`,
    );
  }
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
