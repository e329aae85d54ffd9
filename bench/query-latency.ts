/**
 * Section 5: query API latency on a 10,000-message local archive, in-process (`app.request` on the
 * app `popvault serve` builds) and over real HTTP to a `popvault serve` process on loopback.
 *
 * The archive is built directly through the local adapters (LocalRawStore.put and
 * SqliteMessageIndex.putMessage) from generated records, skipping POP3 and parsing: the requests
 * measured read only the index, and a pull of 10,000 messages would only make the set-up slow. For
 * the same reason the build turns SQLite's per-commit fsync off on its own connection; `serve` opens
 * the file as users' archives are opened.
 *
 * Requests: the first page of a mailbox (`?limit=50`), a later page (a cursor taken from walking the
 * whole mailbox), one message's metadata (`/messages/{id}`), ids drawn at random, and the viewer's
 * chart of messages per day over a year (`/activity?days=366`). Each kind runs
 * after a warm-up that is not counted; the kinds are interleaved so that drift affects each alike.
 */

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { LocalRawStore } from '../functions/adapters/local/local-raw-store.js';
import { SqliteMessageIndex } from '../functions/adapters/local/sqlite-message-index.js';
import { ensureApiToken } from '../functions/cli/local-archive.js';
import type { MessageRecord } from '../functions/core/archive/ports.js';
import { PARSER_VERSION } from '../functions/core/message/parser-version.js';
import { createQueryApp } from '../functions/query-api/create-query-app.js';
import { encodeMessageRef } from '../functions/query-api/params.js';
import { prng } from './corpus.js';
import {
  below,
  fixed,
  isMain,
  POPVAULT_CLI,
  percentile,
  progress,
  REPO_ROOT,
  removeDirectory,
  stats,
  table,
  verdict,
  workDirectory,
} from './lib.js';

// The API's mailbox ids are plain (letters, digits, '.', '_', '-').
const MAILBOX_ID = 'bench-archive';
/** Raw puts in flight while building: each fsyncs a file and a directory. */
const BUILD_CONCURRENCY = 32;

const WORDS =
  'invoice meeting report quarterly travel update project review draft offer order receipt newsletter family photos schedule contract'.split(
    ' ',
  );

/** One small message and the record the parser would have made of it. */
function generated(i: number): { raw: Buffer; record: Omit<MessageRecord, 'rawKey'> } {
  // A generator per message: the workers below reach messages in no fixed order.
  const random = prng(20261127 * 7919 + i);
  const pick = () => WORDS[Math.floor(random() * WORDS.length)] as string;
  const subject = `${pick()} ${pick()} ${pick()} #${i}`;
  const sender = `sender${Math.floor(random() * 400)}@example.${['com', 'org', 'net'][i % 3]}`;
  // Three years of mail, so listings sort on a realistic spread of dates.
  const date = new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 3 * 365 * 86_400_000));
  const body = `${Array.from({ length: 20 + Math.floor(random() * 40) }, pick).join(' ')}\n`.repeat(
    3,
  );
  const raw = Buffer.from(
    `From: Sender <${sender}>\nTo: archive@example.com\nSubject: ${subject}\nDate: ${date.toUTCString()}\nMessage-ID: <q.${i}@bench>\n\n${body}`,
  );
  const attachments = Array.from(
    { length: random() < 0.2 ? 1 + Math.floor(random() * 3) : 0 },
    (_, n) => ({
      filename: `file-${i}-${n}.pdf`,
      contentType: 'application/pdf',
      octets: 10_000 + Math.floor(random() * 500_000),
      sha256: createHash('sha256').update(`${i}/${n}`).digest('hex'),
    }),
  );
  return {
    raw,
    record: {
      mailboxId: MAILBOX_ID,
      messageKey: `uidl-${String(i).padStart(6, '0')}`,
      uidl: `uidl-${String(i).padStart(6, '0')}`,
      messageId: `q.${i}@bench`,
      from: [{ address: sender, name: 'Sender' }],
      to: [{ address: 'archive@example.com', name: '' }],
      cc: random() < 0.3 ? [{ address: `cc${i % 50}@example.com`, name: 'Copy' }] : [],
      addressesTruncated: false,
      subject,
      dateHeader: date.toUTCString(),
      date: date.toISOString(),
      attachments,
      attachmentsTruncated: false,
      snippet: body.slice(0, 200),
      parseError: null,
      parserVersion: PARSER_VERSION,
      textTruncated: false,
      octets: raw.length,
      sha256: createHash('sha256').update(raw).digest('hex'),
      archivedAt: new Date(date.getTime() + 60_000).toISOString(),
      runId: `run-${Math.floor(i / 500)}`,
      deletedFromServerAt: new Date(date.getTime() + 120_000).toISOString(),
    },
  };
}

/** The archive directory's layout is the CLI's (openLocalArchive): mail/ and index.sqlite. */
async function buildArchive(
  directory: string,
  count: number,
): Promise<{ ids: string[]; seconds: number }> {
  const started = performance.now();
  const store = new LocalRawStore({ directory: join(directory, 'mail') });
  const database = new Database(join(directory, 'index.sqlite'));
  const index = new SqliteMessageIndex({ database });
  // The build's own connection only: 10,000 commits need not each wait for the disk.
  database.pragma('synchronous = OFF');
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const { raw, record } = generated(i);
      const ref = await store.put({
        mailboxId: MAILBOX_ID,
        sha256: record.sha256,
        octets: record.octets,
        source: { kind: 'buffer', data: raw },
      });
      await index.putMessage({ ...record, rawKey: ref.key });
      ids.push(encodeMessageRef(record));
    }
  };
  await Promise.all(Array.from({ length: BUILD_CONCURRENCY }, worker));
  index.close();
  database.close();
  return { ids, seconds: (performance.now() - started) / 1000 };
}

type Kind = 'first page' | 'later page' | 'message' | 'chart';
const KINDS: readonly Kind[] = ['first page', 'later page', 'message', 'chart'];

interface Target {
  request(path: string): Promise<{ status: number; body: string }>;
}

async function measure(
  target: Target,
  paths: Record<Kind, () => string>,
  requests: number,
  warmup: number,
): Promise<Record<Kind, number[]> & { first: number }> {
  const out = { 'first page': [], 'later page': [], message: [], chart: [], first: 0 } as Record<
    Kind,
    number[]
  > & { first: number };
  const timed = async (kind: Kind): Promise<number> => {
    const t = performance.now();
    const response = await target.request(paths[kind]());
    const ms = performance.now() - t;
    if (response.status !== 200)
      throw new Error(`${kind}: ${response.status} ${response.body.slice(0, 300)}`);
    return ms;
  };
  out.first = await timed('first page');
  for (let i = 0; i < warmup; i += 1) for (const kind of KINDS) await timed(kind);
  for (let i = 0; i < requests; i += 1) {
    for (const kind of KINDS) out[kind].push(await timed(kind));
  }
  return out;
}

type Measured = Record<Kind, number[]> & { first: number };
type Where = 'in-process' | 'http';

export interface QueryResult {
  messages: number;
  requests: number;
  buildSeconds: number;
  /** One entry per run. */
  runs: Record<Where, Measured>[];
}

/** `popvault serve` as a user starts it; resolves once it has printed its URL (it listens then). */
async function startServe(dir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const serve = spawn(process.execPath, [POPVAULT_CLI, 'serve', '--archive', dir, '--port', '0'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(serve, 'exit');
  const stop = async () => {
    if (serve.exitCode === null && serve.signalCode === null) serve.kill('SIGTERM');
    await exited;
  };
  try {
    const lines = createInterface({ input: serve.stdout });
    const [first] = (await Promise.race([
      once(lines, 'line'),
      exited.then(() => {
        throw new Error('popvault serve exited before it listened');
      }),
    ])) as [string];
    const url = /on (http:\/\/\S+)/.exec(first)?.[1];
    if (!url) throw new Error(`popvault serve said: ${first}`);
    // Drained, so a chatty server never blocks on a full pipe.
    lines.on('line', () => {});
    return { url, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function queryLatencyBench(options: {
  messages: number;
  requests: number;
  runs: number;
}): Promise<QueryResult> {
  const dir = workDirectory('query');
  try {
    progress(`query: building a ${options.messages}-message local archive`);
    const { ids, seconds: buildSeconds } = await buildArchive(dir, options.messages);
    const { token } = await ensureApiToken(dir);
    const headers = { authorization: `Bearer ${token}` };
    const random = prng(7);
    const listPath = `/mailboxes/${encodeURIComponent(MAILBOX_ID)}/messages?limit=50`;

    // In-process: the app serve builds (same adapters, same token check), on a fresh connection.
    const inProcess = async <T>(use: (target: Target) => Promise<T>): Promise<T> => {
      const index = new SqliteMessageIndex({ path: join(dir, 'index.sqlite') });
      const store = new LocalRawStore({ directory: join(dir, 'mail') });
      const app = createQueryApp({ index, store, auth: { bearerToken: token } });
      try {
        return await use({
          request: async (path) => {
            const response = await app.request(path, { headers });
            return { status: response.status, body: await response.text() };
          },
        });
      } finally {
        index.close();
      }
    };
    const overHttp = async <T>(use: (target: Target) => Promise<T>): Promise<T> => {
      const served = await startServe(dir);
      try {
        return await use({
          request: async (path) => {
            const response = await fetch(`${served.url}${path}`, { headers });
            return { status: response.status, body: await response.text() };
          },
        });
      } finally {
        await served.stop();
      }
    };

    // Cursors of every page, walked once, so "later page" requests land anywhere in the mailbox.
    const cursors = await inProcess(async (target) => {
      const found: string[] = [];
      for (let cursor: string | null = null; ; ) {
        const response = await target.request(
          cursor ? `${listPath}&cursor=${encodeURIComponent(cursor)}` : listPath,
        );
        if (response.status !== 200)
          throw new Error(`listing: ${response.status} ${response.body}`);
        const page = JSON.parse(response.body) as { nextCursor: string | null };
        if (page.nextCursor === null) return found;
        found.push(page.nextCursor);
        cursor = page.nextCursor;
      }
    });
    const paths: Record<Kind, () => string> = {
      'first page': () => listPath,
      'later page': () =>
        `${listPath}&cursor=${encodeURIComponent(cursors[Math.floor(random() * cursors.length)] as string)}`,
      message: () => `/messages/${ids[Math.floor(random() * ids.length)]}`,
      // The viewer's chart over the longest span: locally it reads every row of the mailbox.
      chart: () => `/mailboxes/${encodeURIComponent(MAILBOX_ID)}/activity?days=366`,
    };
    const warmup = Math.min(50, options.requests);
    const result: QueryResult = {
      messages: options.messages,
      requests: options.requests,
      buildSeconds,
      runs: [],
    };
    for (let run = 0; run < options.runs; run += 1) {
      const measured = {} as Record<Where, Measured>;
      const order: Where[] = run % 2 === 0 ? ['in-process', 'http'] : ['http', 'in-process'];
      for (const where of order) {
        const host = where === 'in-process' ? inProcess : overHttp;
        measured[where] = await host((target) => measure(target, paths, options.requests, warmup));
        progress(
          `query run ${run + 1}/${options.runs} ${where}: list p50 ${fixed(percentile(measured[where]['first page'], 50))} ms`,
        );
      }
      result.runs.push(measured);
    }
    return result;
  } finally {
    removeDirectory(dir);
  }
}

export function renderQuery(r: QueryResult): string {
  const rows: string[][] = [];
  const paths: Record<Kind, string> = {
    'first page': 'GET /mailboxes/{id}/messages?limit=50',
    'later page': 'GET /mailboxes/{id}/messages?limit=50&cursor=... (random page)',
    message: 'GET /messages/{id} (random message)',
    chart: 'GET /mailboxes/{id}/activity?days=366 (the viewer chart, longest span)',
  };
  const summary = (values: number[]) => {
    const s = stats(values);
    return { text: `${fixed(s.median)} (${fixed(s.min)}-${fixed(s.max)})`, median: s.median };
  };
  const labels: Record<Where, string> = {
    'in-process': 'in-process (app.request)',
    http: 'HTTP to popvault serve',
  };
  for (const where of ['in-process', 'http'] as const) {
    for (const kind of KINDS) {
      const p50 = summary(r.runs.map((run) => percentile(run[where][kind], 50)));
      const p99 = summary(r.runs.map((run) => percentile(run[where][kind], 99)));
      const max = summary(r.runs.map((run) => Math.max(...run[where][kind])));
      rows.push([
        labels[where],
        paths[kind],
        p50.text,
        p99.text,
        max.text,
        `p50 ${verdict(below(10, ' ms'), p50.median)}; p99 ${verdict(below(50, ' ms'), p99.median)}`,
      ]);
    }
  }
  const first = (where: Where) => summary(r.runs.map((run) => run[where].first)).text;
  return [
    `### 5. Query API latency on a ${r.messages}-message local archive (${r.runs.length} runs of ${r.requests} requests of each kind, after a warm-up; archive built in ${fixed(r.buildSeconds, 1)} s)`,
    '',
    "Milliseconds; each cell is the median over runs of that run's percentile (min-max over runs).",
    '',
    table(['where', 'request', 'p50 ms', 'p99 ms', 'max ms', 'target'], rows),
    '',
    `The first request of a run (first page, before the warm-up): ${first('in-process')} ms in-process, ${first('http')} ms over HTTP to a just-started serve.`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '10000' },
      requests: { type: 'string', default: '500' },
      runs: { type: 'string', default: '3' },
    },
  });
  const result = await queryLatencyBench({
    messages: Number(values.messages),
    requests: Number(values.requests),
    runs: Number(values.runs),
  });
  console.log(renderQuery(result));
}
