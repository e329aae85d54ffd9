import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type {
  MessageIndex,
  MessageMetadata,
  RawStore,
} from '../../functions/core/archive/ports.js';
import { EMPTY_METADATA } from '../../functions/core/message/empty-metadata.js';
import type { MessageParser } from '../../functions/core/pull/message-spool.js';
import type { PullOptions } from '../../functions/core/pull/pull-options.js';
import type { PullDeps } from '../../functions/core/pull/pull-run.js';
import type { ScriptedServer } from './scripted-pop3-server.js';

export { EMPTY_METADATA };

/** Counts what it is fed and extracts nothing: for tests about the run, not about parsing. */
export function countingParser(): MessageParser {
  let resolve: (m: MessageMetadata) => void = () => {};
  const metadata = new Promise<MessageMetadata>((r) => {
    resolve = r;
  });
  const sink = new Writable({
    write(_chunk, _enc, callback) {
      callback();
    },
    final(callback) {
      resolve({ ...EMPTY_METADATA });
      callback();
    },
  });
  return { sink, metadata, text: metadata.then(() => ({ body: '', truncated: false })) };
}

/** A clock the test moves; `tick` is added on every read when set, to model time passing per step. */
export class TestClock {
  constructor(
    public ms = Date.parse('2026-11-27T00:00:00Z'),
    public tick = 0,
  ) {}
  readonly now = (): number => {
    const value = this.ms;
    this.ms += this.tick;
    return value;
  };
  advanceDays(days: number): void {
    this.ms += days * 24 * 60 * 60 * 1000;
  }
}

let runCounter = 0;

export function pullDeps(
  over: Partial<PullDeps> & { rawStore: RawStore; index: MessageIndex },
  clock = new TestClock(),
): PullDeps {
  return {
    credentials: { get: async () => ({ user: 'alice', password: 'wonderland' }) },
    createParser: countingParser,
    spoolDirectory: mkdtempSync(join(tmpdir(), 'popvault-spool-')),
    now: clock.now,
    newRunId: () => `run-${++runCounter}`,
    ...over,
  };
}

export function scriptedPull(
  server: ScriptedServer,
  now: number,
  over: Partial<PullOptions> = {},
): PullOptions {
  return {
    mailboxId: 'mbx-1',
    server: {
      host: server.host,
      port: server.port,
      tls: 'none',
      insecure: true,
      idleTimeoutMs: 5_000,
    },
    policy: { kind: 'delete' },
    hardDeadline: now + 10 * 60_000,
    ...over,
  };
}

/**
 * Wraps a port so chosen methods fail (or do something else) while the rest delegate to the real
 * adapter. A Proxy rather than Object.create: adapters keep state in private fields, which only the
 * real instance can reach.
 */
export function withFaults<T extends object>(inner: T, overrides: Partial<T>): T {
  return new Proxy(inner, {
    get(target, prop) {
      if (Object.hasOwn(overrides, prop)) return overrides[prop as keyof T];
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
