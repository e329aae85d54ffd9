/**
 * Section 6: where the time of a local pull goes. The same in-process runPull (no CLI start-up) on
 * the same corpus, with the message parser and the storage each either real or replaced by one that
 * discards, so the cost of each is the difference between two rows measured in the same run:
 *
 *   parser   storage
 *   discard  discard        the POP3 client, spooling and hashing only
 *   real     discard        + MIME parsing
 *   discard  local archive  + Maildir files and SQLite, fsyncs included
 *   real     local archive  what `popvault pull --archive` does
 *
 *   npm run bench:breakdown -- --runs 3
 *   npm run bench:breakdown -- --runs 1 --only 'discard parser, discard' --profile /tmp/prof
 *     (one row, with a CPU profile of the pull alone; summarise it with bench/profile-top.ts)
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { openLocalArchive } from '../functions/cli/local-archive.js';
import type {
  MessageIndex,
  MessagePage,
  MessageRecord,
  PutMessageResult,
  RawObjectRef,
  RawPutInput,
  RawStore,
} from '../functions/core/archive/ports.js';
import { EMPTY_METADATA } from '../functions/core/message/empty-metadata.js';
import {
  createMessageParser,
  type MessageParser,
} from '../functions/core/message/message-parser.js';
import { runPull } from '../functions/core/pull/pull-run.js';
import { type DovecotInfo, startDovecot } from '../test/support/dovecot.js';
import { buildCorpus } from './corpus.js';
import {
  fixed,
  isMain,
  mb,
  progress,
  removeDirectory,
  removeUser,
  seedFresh,
  stats,
  syncDisks,
  table,
  workDirectory,
} from './lib.js';

/** Takes the bytes with no work at all; the metadata is settled once the sink has ended. */
function discardingParser(): MessageParser {
  const sink = new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  const metadata = new Promise<typeof EMPTY_METADATA>((resolve) => {
    sink.once('finish', () => resolve(EMPTY_METADATA));
    sink.once('close', () => resolve(EMPTY_METADATA));
  });
  return { sink, metadata, text: metadata.then(() => ({ body: '', truncated: false })) };
}

/** Acknowledges every put at once: no copy, no hash, no disk. */
class DiscardingRawStore implements RawStore {
  async put(input: RawPutInput): Promise<RawObjectRef> {
    return { key: `discarded/${input.sha256}`, sha256: input.sha256, octets: input.octets };
  }
  async get(): Promise<never> {
    throw new Error('discarded');
  }
  async has(): Promise<boolean> {
    return false;
  }
}

/** Acknowledges every record and lease at once; the pull run reads nothing back in delete mode. */
class DiscardingIndex implements MessageIndex {
  async putMessage(): Promise<PutMessageResult> {
    return { created: true };
  }
  async getMessage(): Promise<null> {
    return null;
  }
  async getMessages(): Promise<Map<string, MessageRecord>> {
    return new Map();
  }
  async markDeleted(): Promise<void> {}
  async listMessages(): Promise<MessagePage> {
    return { items: [], cursor: null };
  }
  async findByMessageId(): Promise<[]> {
    return [];
  }
  async listBySender(): Promise<MessagePage> {
    return { items: [], cursor: null };
  }
  async acquireLease(): Promise<boolean> {
    return true;
  }
  async releaseLease(): Promise<void> {}
  async leaseHolder(): Promise<null> {
    return null;
  }
  async putRun(): Promise<void> {}
  async listRuns(): Promise<[]> {
    return [];
  }
  async listMailboxes(): Promise<[]> {
    return [];
  }
  async getMailbox(): Promise<null> {
    return null;
  }
  async archivedPerDay(): Promise<[]> {
    return [];
  }
}

const VARIANTS = [
  { name: 'discard parser, discard storage', parser: false, storage: false },
  { name: 'real parser, discard storage', parser: true, storage: false },
  { name: 'discard parser, local archive', parser: false, storage: true },
  { name: 'real parser, local archive', parser: true, storage: true },
] as const;

export interface BreakdownResult {
  messages: number;
  octets: number;
  runs: number;
  seconds: Record<string, number[]>;
}

export async function breakdownBench(options: {
  dovecot: DovecotInfo;
  corpus: Buffer[];
  runs: number;
  /** Only the variants whose name includes this (for a --cpu-prof of one row). */
  only?: string;
  /** Writes a V8 CPU profile of each runPull alone (no corpus or seeding) into this directory. */
  profileDirectory?: string;
}): Promise<BreakdownResult> {
  const { dovecot, corpus, runs } = options;
  const chosen = VARIANTS.filter(
    (v) => options.only === undefined || v.name.includes(options.only),
  );
  const dir = workDirectory('breakdown');
  const result: BreakdownResult = {
    messages: corpus.length,
    octets: corpus.reduce((n, m) => n + m.length, 0),
    runs,
    seconds: Object.fromEntries(VARIANTS.map((v) => [v.name, []])),
  };
  try {
    for (let run = 0; run < runs; run += 1) {
      const order = chosen.map(
        (_, i) => chosen[(i + run) % chosen.length] as (typeof VARIANTS)[number],
      );
      for (const variant of order) {
        const user = seedFresh(dovecot, 'breakdown', corpus);
        const archiveDir = `${dir}/archive-${user}`;
        const archive = variant.storage ? await openLocalArchive(archiveDir) : null;
        try {
          const profiler = options.profileDirectory === undefined ? null : new Session();
          if (profiler !== null) {
            profiler.connect();
            await profiler.post('Profiler.enable');
            await profiler.post('Profiler.start');
          }
          const started = performance.now();
          const cpuBefore = process.cpuUsage();
          let waits = 0;
          const record = await runPull(
            {
              mailboxId: 'breakdown',
              server: {
                host: dovecot.host,
                port: dovecot.tlsPort,
                tls: 'implicit',
                ca: dovecot.caPem,
              },
              policy: { kind: 'delete' },
              // As `popvault pull --archive` runs (the default otherwise).
              ...(archive ? { persistConcurrency: archive.persistConcurrency } : {}),
              hardDeadline: Date.now() + 30 * 60_000,
            },
            {
              rawStore: archive?.rawStore ?? new DiscardingRawStore(),
              index: archive?.index ?? new DiscardingIndex(),
              credentials: { get: async () => ({ user, password: dovecot.password }) },
              createParser: variant.parser ? createMessageParser : discardingParser,
              spoolDirectory: dir,
              now: Date.now,
              newRunId: randomUUID,
              onProgress: (event) => {
                if (event.kind === 'waiting') waits += 1;
              },
            },
          );
          const seconds = (performance.now() - started) / 1000;
          const cpu = process.cpuUsage(cpuBefore);
          if (profiler !== null) {
            const { profile } = await profiler.post('Profiler.stop');
            const name = `${variant.name.replace(/[^a-z]+/g, '-')}-${run + 1}.cpuprofile`;
            writeFileSync(`${options.profileDirectory}/${name}`, JSON.stringify(profile));
            profiler.disconnect();
          }
          if (record.outcome !== 'success' || record.counts.deleted !== corpus.length) {
            throw new Error(`breakdown run did not finish: ${JSON.stringify(record)}`);
          }
          result.seconds[variant.name]?.push(seconds);
          progress(
            `breakdown run ${run + 1}/${runs} ${variant.name}: ${fixed(seconds)} s (this process's CPU: ${fixed(cpu.user / 1e6)} s user, ${fixed(cpu.system / 1e6)} s system; retrieval waited for storage ${waits} times)`,
          );
        } finally {
          archive?.close();
          removeDirectory(archiveDir);
          removeUser(dovecot, user);
          syncDisks();
        }
      }
    }
    return result;
  } finally {
    removeDirectory(dir);
  }
}

export function renderBreakdown(r: BreakdownResult): string {
  const median = (name: string) => stats(r.seconds[name] ?? []).median;
  const base =
    (r.seconds[VARIANTS[0].name]?.length ?? 0) > 0 ? median(VARIANTS[0].name) : Number.NaN;
  const rows = VARIANTS.filter((v) => (r.seconds[v.name]?.length ?? 0) > 0).map((v) => {
    const s = stats(r.seconds[v.name] ?? []);
    return [
      v.name,
      fixed(s.median),
      fixed(s.min),
      fixed(s.max),
      v === VARIANTS[0] ? '-' : `+${fixed(s.median - base)}`,
    ];
  });
  return [
    `### 6. Where the time of a local pull goes (in-process runPull, ${r.messages} messages, ${fixed(mb(r.octets), 1)} MB, ${r.runs} runs)`,
    '',
    table(['parser, storage', 'median s', 'min s', 'max s', 'vs. both discarded'], rows),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      profile: { type: 'string' },
    },
  });
  const corpus = buildCorpus();
  const dovecot = await startDovecot({ lockSession: false });
  try {
    const result = await breakdownBench({
      dovecot: dovecot.info,
      corpus,
      runs: Number(values.runs),
      ...(values.only === undefined ? {} : { only: values.only }),
      ...(values.profile === undefined ? {} : { profileDirectory: values.profile }),
    });
    console.log(renderBreakdown(result));
  } finally {
    await dovecot.stop();
  }
}
