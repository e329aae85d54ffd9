/**
 * `npm run bench`: every benchmark of the issue in one command, as markdown on stdout (progress on
 * stderr). bench/install-packages.sh runs first and installs Dovecot and mpop when missing.
 *
 *   npm run bench                      # 3 runs of everything (about 7 minutes on 2 vCPUs)
 *   npm run bench -- --runs 5
 *   npm run bench -- --sections 1,5    # only retrieval and query latency
 *
 * Sections: 1 retrieval + local archive vs mpop and the ceiling, 2 S3 + DynamoDB with and without
 * storage latency, 3 memory, 4 cold start of the bundles, 5 query API latency, 6 where the time of a
 * local pull goes (the breakdown behind section 1), 7 the same pull on every real POP3 server the
 * tests run (Dovecot, Courier, Cyrus, Mailutils), popvault vs mpop, and their LIST sizes.
 *
 * One Dovecot and one pair of emulators serve every section. Each figure is a median of --runs runs
 * with min and max; every comparison alternates its contenders within the same run.
 */
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { startDovecot } from '../test/support/dovecot.js';
import { startAwsEmulators } from '../test/support/emulators.js';
import { type ColdStartResult, coldStartBench, renderColdStart } from './cold-start.js';
import { buildCorpus, CORPUS_ARGS } from './corpus.js';
import { fixed, percentile, progress, REPO_ROOT, stats, table } from './lib.js';
import { renderStorage, type StorageResult, storageLatencyBench } from './pull-bench.js';
import { type MemoryCase, memoryBench, renderMemory } from './pull-memory.js';
import { type QueryResult, queryLatencyBench, renderQuery } from './query-latency.js';
import { type RetrievalResult, renderRetrieval, retrievalBench } from './retrieval-bench.js';
import { LABS, renderServerMatrix, serverMatrixBench } from './server-matrix.js';
import { breakdownBench, renderBreakdown } from './time-breakdown.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    sections: { type: 'string', default: '1,2,3,4,5,6,7' },
    'server-messages': { type: 'string', default: '300' },
    'server-mb': { type: 'string', default: '20' },
    ...CORPUS_ARGS,
    requests: { type: 'string', default: '500' },
    'archive-messages': { type: 'string', default: '10000' },
  },
});
const runs = Number(values.runs);
if (!Number.isSafeInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
const sections = new Set(values.sections.split(',').map(Number));

function quiet(command: string, args: string[], trim = true): string {
  try {
    const out = execFileSync(command, args, { encoding: 'utf8', cwd: REPO_ROOT });
    return trim ? out.trim() : out;
  } catch {
    return 'unknown';
  }
}

function dovecotVersion(): string {
  const onPath = quiet('dovecot', ['--version']);
  return onPath === 'unknown' ? quiet('/usr/sbin/dovecot', ['--version']) : onPath;
}

function header(): string {
  // Uncommitted changes are named, so a figure can be traced to the code it measured.
  // Untrimmed: a porcelain line starts with its status columns, the first one often a space.
  const dirty = quiet('git', ['status', '--porcelain', '--untracked-files=no'], false)
    .split('\n')
    .filter((line) => line.trim() !== '' && line !== 'unknown')
    .map((line) => line.slice(3));
  const commit = `${quiet('git', ['rev-parse', '--short', 'HEAD'])}${dirty.length === 0 ? '' : ` + uncommitted changes to ${dirty.join(', ')}`}`;
  const args = process.argv.slice(2).join(' ');
  return [
    `## popvault benchmarks, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
    '',
    `- command: \`npm run bench${args ? ` -- ${args}` : ''}\` (as root)`,
    `- commit: ${commit}`,
    `- machine: ${cpus().length} vCPUs (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 1024 ** 3)} GiB, Linux ${release()}`,
    `- node ${process.version}; Dovecot ${dovecotVersion()}; ${quiet('mpop', ['--version']).split('\n')[0]}`,
    '- everything on loopback and on this disk; Dovecot, the emulators and the clients share the CPUs',
  ].join('\n');
}

function say(text: string): void {
  process.stdout.write(`${text}\n\n`);
}

if (process.getuid?.() !== 0) {
  throw new Error('npm run bench needs root: it starts Dovecot, which switches users itself.');
}

const corpus = buildCorpus(values);

say(header());
const started = performance.now();
const needsServers = [1, 2, 3, 4, 6].some((s) => sections.has(s));
const dovecot = needsServers ? await startDovecot({ lockSession: false }) : null;
const emulators = [2, 3, 4].some((s) => sections.has(s)) ? await startAwsEmulators() : null;
let retrieval: RetrievalResult | null = null;
let storage: StorageResult | null = null;
let memory: MemoryCase[] | null = null;
let coldStart: ColdStartResult | null = null;
let query: QueryResult | null = null;
try {
  if (sections.has(1) && dovecot) {
    progress('section 1: retrieval + local archive');
    retrieval = await retrievalBench({ dovecot: dovecot.info, corpus, runs });
    say(renderRetrieval(retrieval));
  }
  if (sections.has(2) && dovecot && emulators) {
    progress('section 2: S3 + DynamoDB with and without latency');
    storage = await storageLatencyBench({
      dovecot: dovecot.info,
      aws: emulators.info,
      corpus,
      runs,
    });
    say(renderStorage(storage));
  }
  if (sections.has(3) && dovecot && emulators) {
    progress('section 3: memory');
    memory = await memoryBench({ dovecot: dovecot.info, aws: emulators.info, corpus, runs });
    say(renderMemory(memory, runs));
  }
  if (sections.has(4) && dovecot && emulators) {
    progress('section 4: cold start');
    coldStart = await coldStartBench({ dovecot: dovecot.info, aws: emulators.info, runs });
    say(renderColdStart(coldStart));
  }
  if (sections.has(5)) {
    progress('section 5: query API latency');
    query = await queryLatencyBench({
      messages: Number(values['archive-messages']),
      requests: Number(values.requests),
      runs,
    });
    say(renderQuery(query));
  }
  if (sections.has(6) && dovecot) {
    progress('section 6: where the time of a local pull goes');
    say(renderBreakdown(await breakdownBench({ dovecot: dovecot.info, corpus, runs })));
  }
  if (sections.has(7)) {
    progress('section 7: every real POP3 server');
    const serverCorpus = buildCorpus({
      messages: values['server-messages'],
      mb: values['server-mb'],
    });
    say(
      renderServerMatrix(
        await serverMatrixBench({
          servers: Object.keys(LABS) as Array<keyof typeof LABS>,
          corpus: serverCorpus,
          runs,
        }),
      ),
    );
  }
} finally {
  await emulators?.stop();
  await dovecot?.stop();
}

// The issue's targets in one place, each with the figure it is judged on.
const rows: string[][] = [];
const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
if (retrieval) {
  const ratio = (a: number[], b: number[]) => stats(a.map((v, i) => v / (b[i] as number))).median;
  const vsMpop = ratio(retrieval.wall.popvault, retrieval.wall.mpop);
  const vsCeiling = ratio(retrieval.wall.popvault, retrieval.wall.ceiling);
  rows.push([
    '1',
    'popvault wall / mpop wall (median of per-run ratios)',
    '<= 1.0',
    fixed(vsMpop),
    mark(vsMpop <= 1),
  ]);
  rows.push([
    '1',
    'popvault wall / ceiling wall',
    '<= 1.3',
    fixed(vsCeiling),
    mark(vsCeiling <= 1.3),
  ]);
}
if (storage) {
  const [base, slow] = Object.values(storage.seconds) as [number[], number[]];
  const share = stats(base.map((b, i) => (b / (slow[i] as number)) * 100)).median;
  rows.push([
    '2',
    'throughput with 20 ms storage latency, % of without',
    '>= 50%',
    `${share.toFixed(0)}%`,
    mark(share >= 50),
  ]);
}
if (memory) {
  for (const c of memory) {
    const rss = stats(c.rssMb).median;
    rows.push([
      '3',
      `peak RSS, ${c.name}, ${c.loader === 'tsx' ? 'under tsx' : 'bundled'}`,
      `<= ${c.target} MB`,
      `${rss.toFixed(0)} MB`,
      c.loader === 'bundle' ? mark(rss <= c.target) : 'context: the target is for the bundle',
    ]);
  }
}
if (coldStart) {
  const puller = coldStart.bundles.find((b) => b.name === 'puller');
  if (puller) {
    const mib = puller.bytes / 1024 / 1024;
    rows.push([
      '4',
      'puller bundle, minified',
      '<= 1.5 MiB',
      `${fixed(mib)} MiB (${puller.bytes} bytes)`,
      mark(mib <= 1.5),
    ]);
  }
  for (const v of coldStart.variants) {
    const first = stats(v.puller.map((i) => i.eventsMs[0] as number)).median;
    rows.push([
      '4',
      `puller first event after import, ${v.label}`,
      '< 300 ms',
      `${first.toFixed(0)} ms`,
      mark(first < 300),
    ]);
  }
}
if (query) {
  for (const where of ['in-process', 'http'] as const) {
    for (const kind of ['first page', 'message'] as const) {
      const p50 = stats(query.runs.map((r) => percentile(r[where][kind], 50))).median;
      const p99 = stats(query.runs.map((r) => percentile(r[where][kind], 99))).median;
      const label = `${kind === 'first page' ? 'list 50' : 'one message'}, ${where === 'http' ? 'HTTP to serve' : 'in-process'}`;
      rows.push([
        '5',
        `${label}: p50 / p99`,
        '< 10 / < 50 ms',
        `${fixed(p50)} / ${fixed(p99)} ms`,
        mark(p50 < 10 && p99 < 50),
      ]);
    }
  }
}
say(
  [
    '### Targets at a glance',
    '',
    table(['#', 'figure (median of runs)', 'target', 'measured', 'verdict'], rows),
    '',
    `Total time: ${fixed((performance.now() - started) / 1000 / 60, 1)} min.`,
  ].join('\n'),
);
