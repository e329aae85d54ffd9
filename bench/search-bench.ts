/**
 * Local full-text search on a 10,000-message archive: index size, build cost, and query latency
 * (p50/p99) of `SqliteMessageIndex.search` (what `popvault search` and GET /search call, records
 * joined back) and of the whole API route in-process (`app.request('/search?...')`).
 *
 * The archive is built through SqliteMessageIndex.putMessage(record, text), the pull run's own write
 * (record and FTS5 row in one transaction), from generated mail: no POP3 and no raw files, since
 * search reads only the index. Text sizes are long-tailed like real mail: most bodies are a few
 * hundred words, one in ten is several thousand, a few reach MAX_INDEXED_TEXT_LENGTH. Words follow
 * a Zipf-like spread over a 30,000-word vocabulary (so some are in most messages and most in few),
 * with accented words, and one message in twenty in Japanese or Chinese.
 *
 *   npm run bench:search -- [--messages 10000] [--requests 200]
 */
import { statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { SqliteMessageIndex } from '../functions/adapters/local/sqlite-message-index.js';
import type { MessageRecord, RawStore } from '../functions/core/archive/ports.js';
import { MAX_INDEXED_TEXT_LENGTH } from '../functions/core/message/message-limits.js';
import { PARSER_VERSION } from '../functions/core/message/parser-version.js';
import type { MessageText } from '../functions/core/search/search-ports.js';
import { parseSearchQuery } from '../functions/core/search/search-query.js';
import { createQueryApp } from '../functions/query-api/create-query-app.js';
import { prng } from './corpus.js';
import {
  below,
  fixed,
  isMain,
  percentile,
  progress,
  removeDirectory,
  table,
  verdict,
  workDirectory,
} from './lib.js';

const MAILBOXES = ['personal', 'work', 'lists'];
const VOCABULARY = 30_000;
const COMMON =
  'the a to of and in for is on that with this be you it at as are we from your have'.split(' ');
const ACCENTED = ['résumé', 'café', 'Zürich', 'façade', 'naïve', 'Ångström', 'jalapeño', 'Grüße'];
const CJK = [
  '会議の資料を確認してください',
  '明日の予定を変更しました',
  '请把发票发给财务部门',
  '项目进度报告已经上传',
];

/** A synthetic word for rank r: pronounceable, distinct, longer for rarer words. */
function word(rank: number): string {
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'ber', 'dan', 'gor', 'pel'];
  let out = '';
  let n = rank + 12;
  while (n > 0) {
    out += syllables[n % syllables.length];
    n = Math.floor(n / syllables.length);
  }
  return out;
}

/** A Zipf-like draw: rank r with probability about 1/r. */
function zipf(random: () => number): number {
  return Math.min(VOCABULARY - 1, Math.floor(Math.exp(random() * Math.log(VOCABULARY))) - 1);
}

function bodyWords(random: () => number): number {
  const roll = random();
  if (roll < 0.005) return MAX_INDEXED_TEXT_LENGTH; // cut at the limit
  if (roll < 0.1) return 1000 + Math.floor(random() * 5000);
  return 30 + Math.floor(random() * 400);
}

function bodyOf(i: number, random: () => number): string {
  if (i % 20 === 7) return `${CJK[i % CJK.length]}。${CJK[(i + 1) % CJK.length]}。`;
  const parts: string[] = [];
  let length = 0;
  const target = bodyWords(random);
  for (let n = 0; n < target && length < MAX_INDEXED_TEXT_LENGTH; n++) {
    const roll = random();
    const next =
      roll < 0.4
        ? (COMMON[Math.floor(random() * COMMON.length)] as string)
        : roll < 0.402
          ? (ACCENTED[Math.floor(random() * ACCENTED.length)] as string)
          : word(zipf(random));
    parts.push(next);
    length += next.length + 1;
  }
  return parts.join(' ').slice(0, MAX_INDEXED_TEXT_LENGTH);
}

function generated(i: number): { record: MessageRecord; text: MessageText } {
  const random = prng(1515 * 7919 + i);
  const date = new Date(Date.UTC(2023, 0, 1) + Math.floor(random() * 3 * 365 * 86_400_000));
  const subject = Array.from({ length: 3 + Math.floor(random() * 5) }, () =>
    word(zipf(random)),
  ).join(' ');
  const body = bodyOf(i, random);
  const attachments =
    random() < 0.2
      ? [
          {
            filename: `${word(zipf(random))}-${i}.pdf`,
            contentType: 'application/pdf',
            octets: 50_000,
            sha256: '0'.repeat(64),
          },
        ]
      : [];
  const record: MessageRecord = {
    mailboxId: MAILBOXES[i % MAILBOXES.length] as string,
    messageKey: `uidl-${String(i).padStart(6, '0')}`,
    uidl: `uidl-${String(i).padStart(6, '0')}`,
    messageId: `<s.${i}@bench>`,
    from: [{ address: `${word(i % 400)}@example.com`, name: word((i * 7) % 400) }],
    to: [{ address: 'me@example.net', name: '' }],
    cc: [],
    addressesTruncated: false,
    subject,
    dateHeader: date.toUTCString(),
    date: date.toISOString(),
    attachments,
    attachmentsTruncated: false,
    snippet: body.slice(0, 256),
    parseError: null,
    parserVersion: PARSER_VERSION,
    textTruncated: body.length >= MAX_INDEXED_TEXT_LENGTH,
    octets: body.length + 600,
    sha256: '0'.repeat(64),
    rawKey: `bench/${i}`,
    archivedAt: date.toISOString(),
    runId: 'bench',
    deletedFromServerAt: null,
  };
  return { record, text: { body, truncated: record.textTruncated } };
}

/** Search never reads raw messages; a store that has none says so if anything tries. */
const NO_RAW: RawStore = {
  put: async () => {
    throw new Error('the search bench stores no raw messages');
  },
  get: async () => {
    throw new Error('the search bench stores no raw messages');
  },
  has: async () => false,
};

interface Built {
  path: string;
  seconds: number;
  textOctets: number;
}

async function build(directory: string, count: number): Promise<Built> {
  const path = join(directory, 'index.sqlite');
  const database = new Database(path);
  const index = new SqliteMessageIndex({ database });
  // The build's own connection only: 10,000 commits need not each wait for the disk.
  database.pragma('synchronous = OFF');
  const started = performance.now();
  let textOctets = 0;
  for (let start = 0; start < count; start += 256) {
    const batch = Array.from({ length: Math.min(256, count - start) }, (_, n) =>
      generated(start + n),
    );
    for (const { text } of batch) textOctets += Buffer.byteLength(text.body);
    await Promise.all(batch.map(({ record, text }) => index.putMessage(record, text)));
  }
  const seconds = (performance.now() - started) / 1000;
  database.pragma('wal_checkpoint(TRUNCATE)');
  index.close();
  database.close();
  return { path, seconds, textOctets };
}

/** The queries measured: what people type, from the cheapest to the most work for FTS5. */
const QUERIES: ReadonlyArray<[string, string]> = [
  ['common word', 'the'],
  ['mid-frequency word', word(40)],
  ['rare word', word(9000)],
  ['two words', `${word(12)} ${word(30)}`],
  ['phrase', `"${word(3)} ${word(5)}"`],
  ['field: subject', `subject:${word(20)}`],
  ['field: from', `from:${word(7)}`],
  ['attachment name', `attachment:pdf ${word(25)}`],
  ['prefix', `${word(15).slice(0, 4)}*`],
  ['negation', `${word(10)} -${word(11)}`],
  ['filters', `${word(9)} has:attachment after:2024-01-01 before:2025-01-01`],
  ['accent-folded', 'resume cafe'],
  ['CJK', '会議'],
];

interface Timings {
  perQuery: Map<string, number[]>;
  all: number[];
  /** CPU time of this process per query: what the query costs, whatever else the machine runs. */
  cpu: number[];
}

function emptyTimings(): Timings {
  return { perQuery: new Map(QUERIES.map(([name]) => [name, []])), all: [], cpu: [] };
}

/**
 * Each query through each runner in turn, so that the machine's load (shared CPUs) falls on both
 * alike; a warm-up round is not counted.
 */
async function measure(
  runners: ReadonlyArray<(q: string) => Promise<void>>,
  requests: number,
): Promise<Timings[]> {
  const out = runners.map(emptyTimings);
  for (const [, q] of QUERIES) for (const run of runners) await run(q);
  for (let i = 0; i < requests; i++) {
    for (const [name, q] of QUERIES) {
      for (const [r, run] of runners.entries()) {
        const timings = out[r] as Timings;
        const cpuBefore = process.cpuUsage();
        const started = performance.now();
        await run(q);
        const ms = performance.now() - started;
        const used = process.cpuUsage(cpuBefore);
        timings.perQuery.get(name)?.push(ms);
        timings.all.push(ms);
        timings.cpu.push((used.user + used.system) / 1000);
      }
    }
  }
  return out;
}

export interface SearchBenchResult {
  messages: number;
  built: Built;
  indexOctets: number;
  searchOctets: number;
  index: Timings;
  api: Timings;
  hits: Map<string, number>;
  /** os.loadavg() when the measurement ended: how busy the machine was. */
  load: number[];
}

function searchTableOctets(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db
      .prepare("SELECT SUM(pgsize) AS octets FROM dbstat WHERE name LIKE 'search_%'")
      .all() as Array<{ octets: number | null }>;
    return rows[0]?.octets ?? 0;
  } catch {
    return Number.NaN; // dbstat not compiled in
  } finally {
    db.close();
  }
}

export async function searchBench(messages: number, requests: number): Promise<SearchBenchResult> {
  const directory = workDirectory('search');
  try {
    progress(`building a ${messages}-message archive`);
    const built = await build(directory, messages);
    const index = new SqliteMessageIndex({ path: built.path });
    const app = createQueryApp({ index, store: NO_RAW, search: index });
    const hits = new Map<string, number>();
    for (const [name, q] of QUERIES) {
      const page = await index.search({
        mailboxIds: MAILBOXES,
        query: parseSearchQuery(q),
        limit: 20,
        cursor: null,
      });
      hits.set(name, page.items.length);
    }
    progress(`measuring ${requests} x ${QUERIES.length} queries`);
    const [viaIndex, viaApi] = (await measure(
      [
        async (q) => {
          await index.search({
            mailboxIds: MAILBOXES,
            query: parseSearchQuery(q),
            limit: 20,
            cursor: null,
          });
        },
        async (q) => {
          const res = await app.request(`/search?q=${encodeURIComponent(q)}&limit=20`);
          if (res.status !== 200) throw new Error(`${q}: ${res.status} ${await res.text()}`);
          await res.arrayBuffer();
        },
      ],
      requests,
    )) as [Timings, Timings];
    index.close();
    return {
      messages,
      built,
      indexOctets: statSync(built.path).size,
      searchOctets: searchTableOctets(built.path),
      index: viaIndex,
      api: viaApi,
      hits,
      load: loadavg(),
    };
  } finally {
    if (process.env.KEEP_BENCH_DB === undefined) removeDirectory(directory);
    else progress(`kept ${directory}`);
  }
}

const P99_TARGET = below(50, ' ms');
const mib = (octets: number) => fixed(octets / 1024 / 1024, 1);

export function renderSearch(result: SearchBenchResult): string {
  const rows = QUERIES.map(([name, q]) => {
    const times = result.index.perQuery.get(name) ?? [];
    const api = result.api.perQuery.get(name) ?? [];
    return [
      name,
      `\`${q}\``,
      String(result.hits.get(name) ?? 0),
      fixed(percentile(times, 50)),
      fixed(percentile(times, 99)),
      fixed(percentile(api, 99)),
    ];
  });
  const p99 = percentile(result.api.all, 99);
  return [
    `${result.messages} messages (${mib(result.built.textOctets)} MiB of indexed text), built in ${fixed(result.built.seconds, 1)} s (${fixed((result.built.seconds * 1000) / result.messages, 2)} ms a message, record and text in one transaction).`,
    `Index file ${mib(result.indexOctets)} MiB, of which the search tables ${mib(result.searchOctets)} MiB.`,
    '',
    table(
      ['query', 'q', 'hits (of 20)', 'search p50 ms', 'search p99 ms', 'GET /search p99 ms'],
      rows,
    ),
    '',
    `All queries: search p50 ${fixed(percentile(result.index.all, 50))} ms, p99 ${fixed(percentile(result.index.all, 99))} ms; GET /search in-process p50 ${fixed(percentile(result.api.all, 50))} ms, p99 ${fixed(p99)} ms (${verdict(P99_TARGET, p99)}).`,
    `CPU time per GET /search: p50 ${fixed(percentile(result.api.cpu, 50))} ms, p99 ${fixed(percentile(result.api.cpu, 99))} ms. Load average during the run: ${result.load.map((l) => fixed(l, 1)).join(' / ')} on ${cpus().length} CPUs.`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '10000' },
      requests: { type: 'string', default: '200' },
    },
  });
  const result = await searchBench(Number(values.messages), Number(values.requests));
  process.stdout.write(`${renderSearch(result)}\n`);
}
