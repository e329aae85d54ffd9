/**
 * The puller's search flush as the pull run's afterSession step: flush the mailbox's pending
 * documents into a segment (functions/adapters/aws/search-flush.ts) while the run holds the lease,
 * and report how it went in the log (and, when it fails or is skipped, in the metrics). A failure is reported here and swallowed:
 * the mail is archived already, and the pending documents wait for the next run.
 */
import type { S3SearchObjects } from '../adapters/aws/s3-search-objects.js';
import { type BackfillDeps, backfillSearch } from '../adapters/aws/search-backfill.js';
import { flushSearch, type SegmentFormat } from '../adapters/aws/search-flush.js';
import type { PullIndex } from '../core/archive/ports.js';
import { classifyError } from '../core/errors/popvault-error.js';
import type { RunLogger } from '../core/pull/pull-options.js';
import type { AfterSession } from '../core/pull/pull-run.js';
import type { RunMetrics } from './create-puller-handler.js';

/**
 * A flush is not started with less time than this left before the function's end: dying mid-flush
 * loses nothing, but it would also lose the run record written after it.
 */
export const FLUSH_MIN_REMAINING_MS = 20_000;

export interface SearchFlushStepDeps {
  objects: S3SearchObjects;
  format: SegmentFormat;
  now: () => number;
  logger: RunLogger;
  metrics: RunMetrics;
  /** The index: a pending document is indexed only while its record holds its bytes. */
  records: Pick<PullIndex, 'getMessages'>;
  /** Reading back the text of mail archived before search; absent, nothing is read back. */
  backfill?: Omit<BackfillDeps, 'objects' | 'onFailure'>;
}

export function searchFlushStep(deps: SearchFlushStepDeps): (run: AfterSession) => Promise<void> {
  const { logger, metrics, now } = deps;
  // A finished backfill stays finished (only this mailbox's puller writes its state), so a warm
  // container stops paying the state's LIST and GET on every run once it has seen it done.
  const backfill = { done: false };
  return async ({ mailboxId, runId, startedAt, leaseSignal, hardDeadline }) => {
    const started = now();
    if (hardDeadline - started < FLUSH_MIN_REMAINING_MS) {
      logger.warn('too little time left to flush the search index; it is flushed next run', {
        mailboxId,
        runId,
      });
      metrics.addMetric('SearchFlushesSkipped', 'Count', 1);
      return;
    }
    if (!backfill.done) {
      backfill.done = await backfillStep(deps, { mailboxId, runId, startedAt }, leaseSignal);
    }
    try {
      const report = await flushSearch(mailboxId, deps, leaseSignal);
      const durationMs = now() - started;
      // The figures of a flush that worked go to the log only. As metrics they were three series
      // per mailbox, $0.90 a month each mailbox (CloudWatch bills each series that gets data), for
      // what Logs Insights finds in this line. Failures and skips stay metrics: a healthy month
      // sends none, and the failures have an alarm (infra/constructs/archive-alarms.ts).
      logger.info('search index flushed', { mailboxId, runId, durationMs, ...report });
      if (report.unreadable > 0) {
        logger.warn('pending search documents that were not documents were dropped', {
          mailboxId,
          unreadable: report.unreadable,
        });
      }
    } catch (error) {
      logger.error('search flush failed; the pending documents wait for the next run', {
        mailboxId,
        runId,
        errorCode: classifyError(error).code,
      });
      metrics.addMetric('SearchFlushFailures', 'Count', 1);
    }
  };
}

/**
 * Before the flush, so the flush indexes what it journals. Its failure is logged and the flush goes
 * on: the state was saved after each page, and the next run continues. True once nothing is left.
 */
async function backfillStep(
  deps: SearchFlushStepDeps,
  run: { mailboxId: string; runId: string; startedAt: number },
  leaseSignal: AbortSignal,
): Promise<boolean> {
  const { logger, backfill } = deps;
  if (backfill === undefined) return true;
  const { mailboxId, runId } = run;
  try {
    const report = await backfillSearch(
      run,
      {
        ...backfill,
        objects: deps.objects,
        onFailure: (record, message) =>
          logger.warn(
            'an archived message could not be read back for search; it stays unsearchable',
            {
              mailboxId,
              messageKey: record.messageKey,
              reason: message,
            },
          ),
      },
      leaseSignal,
    );
    if (report.journalled + report.failed > 0) {
      logger.info('read back archived mail for search', { mailboxId, runId, ...report });
    }
    return report.done;
  } catch (error) {
    logger.error('reading back archived mail for search failed; the next run continues', {
      mailboxId,
      runId,
      errorCode: classifyError(error).code,
    });
    // Counted with the flush failures: either way, mail is not becoming searchable.
    deps.metrics.addMetric('SearchFlushFailures', 'Count', 1);
    return false;
  }
}
