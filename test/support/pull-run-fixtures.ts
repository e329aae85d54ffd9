/**
 * What pull-run tests set up around a run: an empty in-memory archive and a logger that keeps what
 * the run says. Kept apart from pull-test-kit.ts, which the chaos child process imports outside
 * vitest: the memory archive reaches vitest through pop3-test-kit.ts.
 */
import type { RunLogger } from '../../functions/core/pull/pull-options.js';
import { MemoryMessageIndex, MemoryRawStore } from './memory-archive.js';
import { TestClock } from './pull-test-kit.js';

/** An empty in-memory archive and a clock the test moves: what a pull run stores into. */
export function memoryArchive() {
  return {
    rawStore: new MemoryRawStore(),
    index: new MemoryMessageIndex(),
    clock: new TestClock(),
  };
}

export type LogLine = [level: string, message: string, attributes: Record<string, unknown>];

/** A run logger that keeps every line with its level, for tests of what a run says. */
export function recordingLogger(): RunLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const keep =
    (level: string) =>
    (msg: string, attributes: Record<string, unknown> = {}): void => {
      lines.push([level, msg, attributes]);
    };
  return { lines, info: keep('info'), warn: keep('warn'), error: keep('error') };
}
