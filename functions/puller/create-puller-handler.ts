import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoMessageIndex } from '../core/archive/dynamodb-message-index.js';
import type { RunRecord } from '../core/archive/ports.js';
import { S3RawStore } from '../core/archive/s3-raw-store.js';
import type { CredentialsProvider } from '../core/credentials/credentials-provider.js';
import {
  fromSecretsManager,
  providerFor,
  type SecretStringReader,
} from '../core/credentials/secret-sources.js';
import type { Pop3Client, Pop3ClientOptions } from '../core/pop3/client.js';
import type { MessageParser } from '../core/pull/message-spool.js';
import { type PullEvent, parsePullEvent } from '../core/pull/pull-event.js';
import type { PullOptions, RunLogger } from '../core/pull/pull-options.js';
import { runPull } from '../core/pull/pull-run.js';
import type { PullerEnv } from './puller-env.js';

/** The subset of Powertools Metrics used here. */
export interface RunMetrics {
  addDimension(name: string, value: string): void;
  addMetric(name: string, unit: 'Count' | 'Bytes' | 'Milliseconds', value: number): void;
  publishStoredMetrics(): void;
}

export interface PullerDeps {
  env: PullerEnv;
  s3: S3Client;
  dynamo: DynamoDBClient;
  secrets: SecretStringReader;
  logger: RunLogger;
  metrics: RunMetrics;
  createParser: () => MessageParser;
  now?: () => number;
  fetch?: typeof fetch;
  connect?: (options: Pop3ClientOptions) => Promise<Pop3Client>;
}

export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** A run that needs a human (bad credentials, permanent server error, storage denied). */
export class PullFailedError extends Error {
  override name = 'PullFailedError';
  readonly code: string;
  constructor(run: RunRecord) {
    super(`pull of mailbox ${run.mailboxId} failed: ${run.errorCode}: ${run.errorMessage}`);
    this.code = run.errorCode ?? 'FAILED';
  }
}

function pullOptions(event: PullEvent, hardDeadline: number): PullOptions {
  return {
    mailboxId: event.mailboxId,
    server: {
      host: event.host,
      port: event.port,
      tls: event.tls,
      insecure: event.insecure,
      pipelining: event.pipelining,
      ...(event.caPem ? { ca: event.caPem } : {}),
      ...(event.pinSha256 ? { pinSha256: event.pinSha256 } : {}),
    },
    policy: event.policy,
    ...(event.maxMessageOctets ? { maxMessageOctets: event.maxMessageOctets } : {}),
    oversize: event.oversize,
    ...(event.maxMessagesPerRun ? { maxMessagesPerRun: event.maxMessagesPerRun } : {}),
    ...(event.maxOctetsPerRun ? { maxOctetsPerRun: event.maxOctetsPerRun } : {}),
    hardDeadline,
  };
}

/**
 * Builds the puller's handler. Adapters and credential providers are created once per container (so an
 * OAuth token is reused across invocations); each invocation validates its event, runs one pull, and
 * reports metrics. A run that needs a human throws, so Lambda's error metric and the DLQ see it; a run
 * that should simply be retried later (server busy, lease held) returns normally.
 */
export function createPullerHandler(deps: PullerDeps) {
  const now = deps.now ?? Date.now;
  const rawStore = new S3RawStore({ client: deps.s3, bucket: deps.env.bucketName });
  const index = new DynamoMessageIndex({ client: deps.dynamo, tableName: deps.env.tableName });
  const providers = new Map<string, Promise<CredentialsProvider>>();

  const credentialsFor = (secretId: string): Promise<CredentialsProvider> => {
    let provider = providers.get(secretId);
    if (!provider) {
      provider = fromSecretsManager(deps.secrets, secretId)
        .load()
        .then((secret) => providerFor(secret, deps.fetch ? { fetch: deps.fetch } : {}));
      // A secret that could not be read is read again next time (it may have just been set).
      provider.catch(() => providers.delete(secretId));
      providers.set(secretId, provider);
    }
    return provider;
  };

  return async (event: unknown, context: LambdaContextLike): Promise<RunRecord> => {
    const request = parsePullEvent(event);
    const hardDeadline = now() + context.getRemainingTimeInMillis();
    const provider = await credentialsFor(request.secretId);
    const run = await runPull(pullOptions(request, hardDeadline), {
      rawStore,
      index,
      credentials: provider,
      createParser: deps.createParser,
      spoolDirectory: deps.env.spoolDirectory,
      now,
      newRunId: randomUUID,
      logger: deps.logger,
      ...(deps.connect ? { connect: deps.connect } : {}),
    });
    const { metrics } = deps;
    metrics.addDimension('mailbox', request.mailboxId);
    metrics.addMetric('MessagesStored', 'Count', run.counts.stored);
    metrics.addMetric('BytesRetrieved', 'Bytes', run.counts.octets);
    metrics.addMetric('MessagesDeleted', 'Count', run.counts.deleted);
    metrics.addMetric('MessageFailures', 'Count', run.counts.failed);
    metrics.addMetric('RemainingOnServer', 'Count', run.counts.remainingOnServer);
    if (run.session !== null) {
      metrics.addMetric('ListSizeMismatches', 'Count', run.session.sizeMismatches);
      if (run.session.sizesSuspect) metrics.addMetric('SizesSuspectRuns', 'Count', 1);
    }
    metrics.addMetric(
      'RunDuration',
      'Milliseconds',
      Date.parse(run.endedAt) - Date.parse(run.startedAt),
    );
    metrics.addMetric(
      run.outcome === 'retry-later' ? 'RunsRetryLater' : 'RunsCompleted',
      'Count',
      1,
    );
    if (run.outcome === 'success' || run.outcome === 'partial')
      metrics.addMetric('SuccessfulRuns', 'Count', 1);
    if (run.errorCode === 'AUTH_FAILED' || run.errorCode?.startsWith('TOKEN_')) {
      metrics.addMetric('CredentialFailures', 'Count', 1);
    }
    metrics.publishStoredMetrics();
    if (run.outcome === 'failed') throw new PullFailedError(run);
    return run;
  };
}
