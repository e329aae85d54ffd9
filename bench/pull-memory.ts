/**
 * `npm run bench:memory` (and section 3 of `npm run bench`): peak RSS of a pull process (its own
 * process, so nothing else is counted) archiving (1) one 100 MB message and (2) the 2,000-message
 * corpus, from Dovecot into the S3 and DynamoDB emulators. Needs root (Dovecot).
 *
 * The peak is the child's VmHWM, printed at its exit by peak-rss.mjs: the child's own
 * resourceUsage().maxRSS would include this process's memory image (the corpus and the 100 MB
 * message it holds), because ru_maxrss survives the spawn.
 *
 * The pull runs two ways: under tsx, as the test harness (and the `popvault` CLI when its bundle is
 * stale) load TypeScript, and as one esbuild bundle run by plain node with the puller's NODE_OPTIONS,
 * as Lambda runs it. The targets are for the second; the first adds the loader.
 *
 *   npm run bench:memory -- --runs 3 [--loaders bundle]
 *   POPVAULT_BENCH_MEMORY_SAMPLE=1 npm run bench:memory   (also: what the sampled peak was made of)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { buildSync } from 'esbuild';
import { PULLER_NODE_OPTIONS } from '../infra/constructs/lambda-node-options.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../test/support/aws-clients.js';
import { type DovecotInfo, startDovecot } from '../test/support/dovecot.js';
import { type AwsEmulatorInfo, startAwsEmulators } from '../test/support/emulators.js';
import type { ChildConfig } from '../test/support/pull-child.js';
import { buildCorpus } from './corpus.js';
import {
  atMost,
  fixed,
  isMain,
  mb,
  PEAK_RSS_IMPORT,
  peakRssMb,
  progress,
  REPO_ROOT,
  removeDirectory,
  removeUser,
  seedFresh,
  stats,
  syncDisks,
  table,
  verdict,
  workDirectory,
} from './lib.js';

export type Loader = 'tsx' | 'bundle';

interface ChildRun {
  maxRssMb: number;
  stored: number;
  seconds: number;
}

async function pullInChild(
  dovecot: DovecotInfo,
  aws: AwsEmulatorInfo,
  messages: Buffer[],
  command: string[],
): Promise<ChildRun> {
  const user = seedFresh(dovecot, 'mem', messages);
  const spoolDirectory = mkdtempSync(join(tmpdir(), 'popvault-mem-'));
  const config: ChildConfig = {
    aws,
    bucket: await createTestBucket(s3ClientFor(aws)),
    table: await createTestTable(dynamoClientFor(aws)),
    spoolDirectory,
    options: {
      mailboxId: user,
      server: { host: dovecot.host, port: dovecot.tlsPort, tls: 'implicit', ca: dovecot.caPem },
      policy: { kind: 'delete' },
      hardDeadline: Date.now() + 30 * 60_000,
    },
    user,
    password: dovecot.password,
  };
  try {
    const started = performance.now();
    const [bin, ...args] = command as [string, ...string[]];
    const child = spawn(bin, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, POPVAULT_CHILD_CONFIG: JSON.stringify(config), NODE_NO_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-20_000);
    });
    const exited = once(child, 'close');
    type Done = { kind: 'done'; stored: number; outcome: string };
    let done: Done | null = null;
    for await (const line of createInterface({ input: child.stdout })) {
      const event = JSON.parse(line) as { kind: string } | Done;
      if (event.kind === 'done') done = event as Done;
    }
    await exited;
    if (done === null) throw new Error(`pull child exited without a summary\n${stderr}`);
    if (done.outcome !== 'success' || done.stored !== messages.length) {
      throw new Error(`pull child failed: ${JSON.stringify(done)}\n${stderr}`);
    }
    // Not the child's own maxRssKb: ru_maxrss starts from this process's image (see peak-rss.mjs).
    const breakdown = /popvault-bench-memory-at-peak (.*)/.exec(stderr)?.[1];
    if (breakdown !== undefined) progress(`memory at the sampled peak: ${breakdown}`);
    const maxRssMb = peakRssMb(stderr);
    if (maxRssMb === null) throw new Error(`pull child printed no peak RSS\n${stderr}`);
    return { maxRssMb, stored: done.stored, seconds: (performance.now() - started) / 1000 };
  } finally {
    rmSync(spoolDirectory, { recursive: true, force: true });
    removeUser(dovecot, user);
    syncDisks();
  }
}

/** pull-child.ts as Lambda would load it: one minified ESM file, CommonJS deps via createRequire. */
function bundlePullChild(dir: string): string {
  const outfile = join(dir, 'pull-child.mjs');
  buildSync({
    entryPoints: [join(REPO_ROOT, 'test', 'support', 'pull-child.ts')],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    banner: {
      js: "import { createRequire as __benchRequire } from 'node:module'; const require = __benchRequire(import.meta.url);",
    },
  });
  return outfile;
}

export function bigMessage(): Buffer {
  const line = `${'0123456789'.repeat(7)}abcdef\n`;
  return Buffer.from(
    `From: a@example.com\nSubject: 100 MB\n\n${line.repeat(Math.ceil((100 * 1024 * 1024) / line.length))}`,
  );
}

export interface MemoryCase {
  name: string;
  messages: number;
  loader: Loader;
  target: number;
  rssMb: number[];
  seconds: number[];
}

export async function memoryBench(options: {
  dovecot: DovecotInfo;
  aws: AwsEmulatorInfo;
  corpus: Buffer[];
  runs: number;
  loaders?: readonly Loader[];
}): Promise<MemoryCase[]> {
  const { dovecot, aws, corpus, runs } = options;
  const loaders = options.loaders ?? ['tsx', 'bundle'];
  const dir = workDirectory('memory');
  try {
    const commands: Record<Loader, string[]> = {
      tsx: [
        process.execPath,
        '--import',
        'tsx',
        '--import',
        PEAK_RSS_IMPORT,
        'test/support/pull-child.ts',
      ],
      // With the deployed puller's NODE_OPTIONS (lambda-node-options.ts), as Lambda runs it.
      bundle: [
        process.execPath,
        ...PULLER_NODE_OPTIONS.split(' '),
        '--import',
        PEAK_RSS_IMPORT,
        bundlePullChild(dir),
      ],
    };
    const big = [bigMessage()];
    const inputs = [
      { name: 'one 100 MB message', messages: big, target: 160 },
      {
        name: `${corpus.length}-message corpus (${fixed(mb(corpus.reduce((n, m) => n + m.length, 0)), 1)} MB)`,
        messages: corpus,
        target: 150,
      },
    ];
    const cases: MemoryCase[] = inputs.flatMap((input) =>
      loaders.map((loader) => ({
        name: input.name,
        messages: input.messages.length,
        loader,
        target: input.target,
        rssMb: [],
        seconds: [],
      })),
    );
    for (let run = 0; run < runs; run += 1) {
      for (const [i, input] of inputs.entries()) {
        // Alternate the loaders from run to run, as every comparison here does.
        const order = run % 2 === 0 ? loaders : [...loaders].reverse();
        for (const loader of order) {
          const measured = await pullInChild(dovecot, aws, input.messages, commands[loader]);
          const entry = cases[i * loaders.length + loaders.indexOf(loader)] as MemoryCase;
          entry.rssMb.push(measured.maxRssMb);
          entry.seconds.push(measured.seconds);
          progress(
            `memory run ${run + 1}/${runs} ${input.name} (${loader}): ${measured.maxRssMb.toFixed(0)} MB, ${fixed(measured.seconds)} s`,
          );
        }
      }
    }
    return cases;
  } finally {
    removeDirectory(dir);
  }
}

export function renderMemory(cases: MemoryCase[], runs: number): string {
  const loaderName: Record<Loader, string> = {
    tsx: 'under tsx (as the tests and the CLI from source load it)',
    bundle: "esbuild bundle, plain node, the puller's NODE_OPTIONS (as Lambda)",
  };
  const rows = cases.map((c) => {
    const rss = stats(c.rssMb);
    return [
      c.name,
      loaderName[c.loader],
      String(c.messages),
      `${rss.median.toFixed(0)} MB`,
      `${rss.min.toFixed(0)}-${rss.max.toFixed(0)} MB`,
      fixed(stats(c.seconds).median),
      // The targets are for the code as Lambda runs it; tsx's loader is shown for context.
      c.loader === 'bundle'
        ? verdict(atMost(c.target, ' MB'), rss.median)
        : `context (bundled: ${atMost(c.target, ' MB').text})`,
    ];
  });
  return [
    `### 3. Memory: peak RSS of the pull process (S3 + DynamoDB emulators, ${runs} runs)`,
    '',
    table(
      [
        'pull',
        'how the code is loaded',
        'messages',
        'peak RSS median',
        'min-max',
        'wall s median (incl. process start)',
        'target',
      ],
      rows,
    ),
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '1' }, loaders: { type: 'string' } },
  });
  const runs = Number(values.runs);
  const loaders = values.loaders?.split(',') as Loader[] | undefined;
  const corpus = buildCorpus();
  const dovecot = await startDovecot({ lockSession: false });
  const emulators = await startAwsEmulators();
  try {
    const cases = await memoryBench({
      dovecot: dovecot.info,
      aws: emulators.info,
      corpus,
      runs,
      ...(loaders === undefined ? {} : { loaders }),
    });
    console.log(renderMemory(cases, runs));
  } finally {
    await emulators.stop();
    await dovecot.stop();
  }
}
