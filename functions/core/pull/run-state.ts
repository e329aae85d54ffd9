import type { RunCounts, RunRecord, RunSession } from '../archive/ports.js';
import { classifyError } from '../errors/popvault-error.js';
import { PULL_DEFAULTS } from './pull-options.js';

/** What a run has found so far: its counts, failures, why it stopped, and the error that ended it. */
export class RunState {
  readonly counts: RunCounts = {
    listed: 0,
    retrieved: 0,
    stored: 0,
    alreadyStored: 0,
    deleted: 0,
    skipped: 0,
    failed: 0,
    octets: 0,
    remainingOnServer: 0,
  };
  readonly failures: RunRecord['failures'] = [];
  stopReason: string | null = null;
  /** The first error that ends the run; later ones are consequences of it. */
  fatal: unknown = null;
  /** Set once logged in. */
  session: RunSession | null = null;

  fail(messageKey: string, err: unknown): void {
    this.counts.failed += 1;
    if (this.failures.length < PULL_DEFAULTS.maxFailuresRecorded) {
      const failure = classifyError(err);
      this.failures.push({
        messageKey,
        errorCode: failure.code,
        message: failure.message.slice(0, 500),
      });
    }
  }
}
