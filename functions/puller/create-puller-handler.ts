import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { DynamoMessageIndex } from '../adapters/aws/dynamodb-message-index.js';
import { S3RawStore } from '../adapters/aws/s3-raw-store.js';
import { S3SearchObjects } from '../adapters/aws/s3-search-objects.js';
import type { SegmentFormat } from '../adapters/aws/search-flush.js';
import { type DocumentBuilder, SearchJournalIndex } from '../adapters/aws/search-journal.js';
import type { ArchiveReader, PullIndex, RawStore, RunRecord } from '../core/archive/ports.js';
import type { CredentialsProvider } from '../core/credentials/credentials-provider.js';
import {
  fromSecretsManager,
  providerFor,
  type SecretStringReader,
} from '../core/credentials/secret-sources.js';
import type { Pop3Client, Pop3ClientOptions } from '../core/pop3/client.js';
import type { MessageParser } from '../core/pull/message-spool.js';
import { parseScheduledEvent, ScheduledEventError } from '../core/pull/pull-event.js';
import { PULL_DEFAULTS, type PullOptions, type RunLogger } from '../core/pull/pull-options.js';
import type { AfterSession } from '../core/pull/pull-run.js';
import { runPull } from '../core/pull/pull-run.js';
import type { MailboxSettings } from '../core/settings/mailbox-settings.js';
import { pullOptionsFrom } from '../core/settings/pull-settings.js';
import type { PullerEnv } from './puller-env.js';
import { searchFlushStep } from './search-flush-step.js';

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
  /** How search documents and segments are made; used when env.search is on. */
  search?: PullerSearch;
}

/** The search parts the puller needs (functions/adapters/aws/sqlite-wasm-segments.ts in production). */
export interface PullerSearch {
  toDocument: DocumentBuilder;
  format: SegmentFormat;
}

/**
 * With search on, every record is preceded by its text in the journal, and the run ends with a
 * flush while it still holds the lease (README, "Search in AWS").
 */
function searchParts(
  deps: PullerDeps,
  index: PullIndex & Pick<ArchiveReader, 'listMessages'>,
  rawStore: RawStore,
  now: () => number,
): { index: PullIndex; afterSession?: (run: AfterSession) => Promise<void> } {
  if (deps.env.search !== true) return { index };
  if (deps.search === undefined) {
    throw new Error('the puller has search on (POPVAULT_SEARCH) but was built without its parts');
  }
  const objects = new S3SearchObjects(deps.s3, deps.env.bucketName);
  return {
    index: new SearchJournalIndex(index, objects, deps.search.toDocument),
    afterSession: searchFlushStep({
      objects,
      format: deps.search.format,
      now,
      logger: deps.logger,
      metrics: deps.metrics,
      records: index,
      backfill: { reader: index, rawStore, toDocument: deps.search.toDocument },
    }),
  };
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

/**
 * A Lambda run cannot be probed from another, so its lease is only ever freed by the run itself or
 * by expiry: a run that dies (out of memory, killed at its timeout) blocks its mailbox for at most
 * the lease's time to live after its last renewal. That is PULL_DEFAULTS.leaseTtlMs (2 minutes), or
 * the whole invocation's time when the function's timeout is shorter, so a lease never outlives by
 * more than its own length the invocation that took it. Reserved concurrency 1 per mailbox means no
 * second run starts while the first is alive in any case.
 */
export function lambdaLeaseTtlMs(remainingMs: number): number {
  return Math.max(1000, Math.min(PULL_DEFAULTS.leaseTtlMs, Math.floor(remainingMs)));
}

function pullOptions(
  mailbox: MailboxSettings,
  hardDeadline: number,
  leaseTtlMs: number,
): PullOptions {
  return { leaseTtlMs, ...pullOptionsFrom(mailbox), hardDeadline };
}

/**
 * Builds the handler of one mailbox's puller function. The mailbox (server, secret, policy, limits)
 * comes from the function's environment, fixed at synth; the event only triggers a run and must name
 * that same mailbox and nothing else. An event that does not is refused before any secret is read or
 * connection made, counted as RejectedEvents, and thrown (INVALID_EVENT) so the error alarm and the
 * dead-letter queue see it.
 *
 * Adapters and the credentials provider are created once per container (so an OAuth token is reused
 * across invocations). A run that needs a human throws too; a run that should simply be retried
 * later (server busy, lease held) returns normally.
 */
export function createPullerHandler(deps: PullerDeps) {
  const now = deps.now ?? Date.now;
  const { mailbox } = deps.env;
  const rawStore = new S3RawStore({ client: deps.s3, bucket: deps.env.bucketName });
  const search = searchParts(
    deps,
    new DynamoMessageIndex({ client: deps.dynamo, tableName: deps.env.tableName }),
    rawStore,
    now,
  );
  let provider: Promise<CredentialsProvider> | null = null;

  const credentials = (): Promise<CredentialsProvider> => {
    if (provider === null) {
      const loading = fromSecretsManager(deps.secrets, mailbox.secretId)
        .load()
        .then((secret) => providerFor(secret, deps.fetch ? { fetch: deps.fetch } : {}));
      // A secret that could not be read is read again next time (it may have just been set).
      loading.catch(() => {
        if (provider === loading) provider = null;
      });
      provider = loading;
    }
    return provider;
  };

  const { metrics } = deps;
  const refuse = (error: ScheduledEventError): never => {
    // The dimension is this function's mailbox, never the event's text: a forged event must not
    // create metric series (or alarms' blind spots) of its own choosing.
    metrics.addDimension('mailbox', mailbox.mailboxId);
    metrics.addMetric('RejectedEvents', 'Count', 1);
    metrics.publishStoredMetrics();
    deps.logger.error('scheduled event refused', { code: error.code, reason: error.message });
    throw error;
  };

  return async (event: unknown, context: LambdaContextLike): Promise<RunRecord> => {
    try {
      parseScheduledEvent(event, mailbox.mailboxId);
    } catch (error) {
      if (error instanceof ScheduledEventError) refuse(error);
      throw error;
    }
    const hardDeadline = now() + context.getRemainingTimeInMillis();
    const leaseTtlMs = lambdaLeaseTtlMs(context.getRemainingTimeInMillis());
    const run = await runPull(pullOptions(mailbox, hardDeadline, leaseTtlMs), {
      rawStore,
      ...search,
      credentials: await credentials(),
      createParser: deps.createParser,
      spoolDirectory: deps.env.spoolDirectory,
      now,
      newRunId: randomUUID,
      logger: deps.logger,
      ...(deps.connect ? { connect: deps.connect } : {}),
    });
    metrics.addDimension('mailbox', mailbox.mailboxId);
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
    if (run.errorKind === 'credentials') {
      metrics.addMetric('CredentialFailures', 'Count', 1);
    }
    metrics.publishStoredMetrics();
    if (run.outcome === 'failed') throw new PullFailedError(run);
    return run;
  };
}
