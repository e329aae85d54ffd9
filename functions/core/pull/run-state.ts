import type { RunCounts, RunRecord, RunSession } from '../archive/ports.js';
import { classifyError } from '../errors/popvault-error.js';
import { PULL_DEFAULTS } from './pull-options.js';
import {
  countEvent,
  isProgress,
  NO_COUNTS,
  type PullProgress,
  type RunEvent,
} from './run-counts.js';

/** What a run has found so far: its counts, failures, why it stopped, and the error that ended it. */
export class RunState {
  #counts: RunCounts = { ...NO_COUNTS };
  readonly #onProgress: ((event: PullProgress) => void) | undefined;
  readonly failures: RunRecord['failures'] = [];
  stopReason: string | null = null;
  /** The first error that ends the run; later ones are consequences of it. */
  fatal: unknown = null;
  /** Set once logged in. */
  session: RunSession | null = null;

  constructor(onProgress?: (event: PullProgress) => void) {
    this.#onProgress = onProgress;
  }

  /** The counts so far: the events noted, reduced. */
  get counts(): RunCounts {
    return this.#counts;
  }

  /** Counts an event, and reports it if it is progress. */
  note(event: RunEvent): void {
    this.#counts = countEvent(this.#counts, event);
    if (isProgress(event)) this.#onProgress?.(event);
  }

  fail(messageKey: string, err: unknown): void {
    this.note({ kind: 'failed' });
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
