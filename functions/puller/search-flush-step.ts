/**
 * The puller's search flush as the pull run's afterSession step: flush the mailbox's pending
 * documents into a segment (functions/adapters/aws/search-flush.ts) while the run holds the lease,
 * and report how it went in the log (and, when it fails or is skipped, in the metrics). A failure is reported here and swallowed:
 * the mail is archived already, and the pending documents wait for the next run.
 */
import type { S3SearchObjects } from '../adapters/aws/s3-search-objects.js';
import { flushSearch, type SegmentFormat } from '../adapters/aws/search-flush.js';
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
}

export function searchFlushStep(deps: SearchFlushStepDeps): (run: AfterSession) => Promise<void> {
  const { logger, metrics, now } = deps;
  return async ({ mailboxId, runId, leaseSignal, hardDeadline }) => {
    const started = now();
    if (hardDeadline - started < FLUSH_MIN_REMAINING_MS) {
      logger.warn('too little time left to flush the search index; it is flushed next run', {
        mailboxId,
        runId,
      });
      metrics.addMetric('SearchFlushesSkipped', 'Count', 1);
      return;
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
