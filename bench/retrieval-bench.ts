/**
 * Section 1: retrieval + local archive. The same corpus, reseeded identically before every run, is
 * pulled in delete mode over implicit TLS by
 * - `popvault pull` (the real CLI process) into a fresh local archive (Maildir files + SQLite),
 * - mpop (pipelining, `keep off`) delivering to a Maildir, as `nobody`, TLS verified against the CA,
 * - the ceiling reader (bench/ceiling-reader.ts) as a plain node process, bytes discarded, without
 *   and with DELE (popvault and mpop both make Dovecot expunge at QUIT; the reader alone does not),
 * all outputs on the repository's disk. The order of the clients rotates from run to run so drift
 * on the machine (page cache, a noisy neighbour) affects each alike.
 *
 *   npm run bench:retrieval -- --runs 3
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { freshBundle } from '../functions/cli/cli-bundle.mjs';
import { type DovecotInfo, maildirMessageCount, startDovecot } from '../test/support/dovecot.js';
import { buildCorpus, CORPUS_ARGS } from './corpus.js';
import {
  atMost,
  describeFailure,
  fixed,
  isMain,
  mb,
  POPVAULT_CLI,
  progress,
  REPO_ROOT,
  removeDirectory,
  removeUser,
  runTimed,
  type Stats,
  seedFresh,
  stats,
  syncDisks,
  table,
  verdict,
} from './lib.js';
import {
  CEILING_WINDOW,
  mpopVersion,
  type Outcome,
  prepare,
  runCeiling,
  runMpop,
  runPopvault,
  type Workspace,
} from './retrieval-clients.js';

type Client = 'popvault' | 'mpop' | 'ceiling' | 'ceiling+dele';
const CLIENTS: readonly Client[] = ['popvault', 'mpop', 'ceiling', 'ceiling+dele'];

export interface RetrievalResult {
  messages: number;
  octets: number;
  runs: number;
  mpopVersion: string;
  /** Spawn to exit, per client, in run order. */
  wall: Record<Client, number[]>;
  /** popvault: the run record's startedAt..endedAt; the reader: connect..QUIT reply. */
  inside: Partial<Record<Client, number[]>>;
  /** Peak RSS (VmHWM) of the node processes. */
  rssMb: Partial<Record<Client, number[]>>;
  /** CPU seconds the whole machine spent during the run (/proc/stat): client, Dovecot, kernel. */
  machineCpu: Record<Client, number[]>;
  /** `popvault pull --help`: what starting the CLI costs before any mail moves. */
  cliStart: number[];
  /** Whether the CLI ran from its prebuilt bundle (functions/cli/cli-bundle.mjs) or through tsx. */
  cliFromBundle: boolean;
}

/**
 * CPU seconds spent so far by every CPU, busy states only (user, nice, system, irq, softirq, steal).
 * With two CPUs shared by client, server and kernel, a client's wall time is bounded below by half of
 * all the CPU its run needs, so this says how much work each client causes, wherever it runs.
 */
function machineCpuSeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = cpu.trim().split(/\s+/).map(Number);
  const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((n, t) => n + (t ?? 0), 0);
  return ticks / 100;
}

async function runClient(
  client: Client,
  ws: Workspace,
  dovecot: DovecotInfo,
  corpus: Buffer[],
): Promise<Outcome> {
  const user = seedFresh(dovecot, client.replace('+', '-'), corpus);
  try {
    let outcome: Outcome;
    const cpuBefore = machineCpuSeconds();
    if (client === 'popvault') outcome = await runPopvault(ws, dovecot, user, corpus.length);
    else if (client === 'mpop') outcome = await runMpop(ws, dovecot, user, corpus.length);
    else outcome = await runCeiling(ws, dovecot, user, corpus.length, client === 'ceiling+dele');
    outcome.machineCpu = machineCpuSeconds() - cpuBefore;
    const left = maildirMessageCount(dovecot, user);
    const expectedLeft = client === 'ceiling' ? corpus.length : 0;
    if (left !== expectedLeft) {
      throw new Error(`${client} left ${left} messages on the server, expected ${expectedLeft}`);
    }
    return outcome;
  } finally {
    removeUser(dovecot, user);
    syncDisks();
  }
}

export async function retrievalBench(options: {
  dovecot: DovecotInfo;
  corpus: Buffer[];
  runs: number;
  cpuProfileDir?: string;
}): Promise<RetrievalResult> {
  const { dovecot, corpus, runs } = options;
  const version = mpopVersion();
  const ws: Workspace = { ...prepare(dovecot), cpuProfileDir: options.cpuProfileDir };
  const result: RetrievalResult = {
    messages: corpus.length,
    octets: corpus.reduce((n, m) => n + m.length, 0),
    runs,
    mpopVersion: version,
    wall: { popvault: [], mpop: [], ceiling: [], 'ceiling+dele': [] },
    machineCpu: { popvault: [], mpop: [], ceiling: [], 'ceiling+dele': [] },
    inside: { popvault: [], ceiling: [], 'ceiling+dele': [] },
    rssMb: { popvault: [], ceiling: [], 'ceiling+dele': [] },
    cliStart: [],
    cliFromBundle: freshBundle() !== null,
  };
  try {
    // Warm-up, untimed: tsx's transform cache, the binaries in the page cache, Dovecot's processes.
    const warm = corpus.slice(0, 20);
    for (const client of CLIENTS) await runClient(client, ws, dovecot, warm);
    for (let run = 0; run < runs; run += 1) {
      const order = CLIENTS.map((_, i) => CLIENTS[(i + run) % CLIENTS.length] as Client);
      for (const client of order) {
        const outcome = await runClient(client, ws, dovecot, corpus);
        result.wall[client].push(outcome.wall);
        if (outcome.machineCpu !== undefined) result.machineCpu[client].push(outcome.machineCpu);
        if (outcome.inside !== undefined) result.inside[client]?.push(outcome.inside);
        if (outcome.rssMb !== undefined) result.rssMb[client]?.push(outcome.rssMb);
        progress(`retrieval run ${run + 1}/${runs} ${client}: ${fixed(outcome.wall)} s`);
      }
      const help = await runTimed(process.execPath, [POPVAULT_CLI, 'pull', '--help'], {
        cwd: REPO_ROOT,
      });
      if (help.code !== 0) throw describeFailure('popvault pull --help', help);
      result.cliStart.push(help.seconds);
    }
  } finally {
    removeDirectory(ws.dir);
  }
  return result;
}

const ratioStats = (a: readonly number[], b: readonly number[]): Stats =>
  stats(a.map((value, i) => value / (b[i] as number)));

export function renderRetrieval(r: RetrievalResult): string {
  const size = `${r.messages} messages, ${fixed(mb(r.octets), 1)} MB`;
  const row = (name: string, client: Client): string[] => {
    const wall = r.wall[client];
    const inside = r.inside[client];
    const rss = r.rssMb[client];
    const s = stats(wall);
    return [
      name,
      fixed(s.median),
      fixed(s.min),
      fixed(s.max),
      (r.messages / s.median).toFixed(0),
      fixed(mb(r.octets) / s.median, 1),
      inside && inside.length > 0 ? fixed(stats(inside).median) : '-',
      r.machineCpu[client].length > 0 ? fixed(stats(r.machineCpu[client]).median) : '-',
      rss && rss.length > 0 ? `${stats(rss).median.toFixed(0)} MB` : '-',
    ];
  };
  const clients = table(
    [
      'client',
      'median s',
      'min s',
      'max s',
      'msg/s',
      'MB/s',
      'inside the process, median s',
      'machine CPU s, median',
      'peak RSS, median',
    ],
    [
      row('popvault pull (CLI process, local archive)', 'popvault'),
      row(`${r.mpopVersion} (Maildir, as nobody)`, 'mpop'),
      row(`ceiling: pipelined reader, ${CEILING_WINDOW} in flight, no DELE`, 'ceiling'),
      row('ceiling + DELE of everything', 'ceiling+dele'),
    ],
  );
  const vsMpop = ratioStats(r.wall.popvault, r.wall.mpop);
  const vsCeiling = ratioStats(r.wall.popvault, r.wall.ceiling);
  const vsCeilingDele = ratioStats(r.wall.popvault, r.wall['ceiling+dele']);
  const start = stats(r.cliStart);
  const ratios = table(
    ['ratio (per run, then median)', 'median', 'min', 'max', 'target'],
    [
      [
        'popvault / mpop',
        fixed(vsMpop.median),
        fixed(vsMpop.min),
        fixed(vsMpop.max),
        verdict(atMost(1, 'x'), vsMpop.median),
      ],
      [
        'popvault / ceiling',
        fixed(vsCeiling.median),
        fixed(vsCeiling.min),
        fixed(vsCeiling.max),
        verdict(atMost(1.3, 'x'), vsCeiling.median),
      ],
      [
        'popvault / (ceiling + DELE), for context',
        fixed(vsCeilingDele.median),
        fixed(vsCeilingDele.min),
        fixed(vsCeilingDele.max),
        '-',
      ],
    ],
  );
  return [
    `### 1. Retrieval + local archive (${size}, ${r.runs} runs, delete mode, implicit TLS)`,
    '',
    clients,
    '',
    ratios,
    '',
    `Starting the CLI (\`popvault pull --help\`, spawn to exit): median ${fixed(start.median)} s (min ${fixed(start.min)}, max ${fixed(start.max)}); it is part of popvault's wall time above. The CLI ran ${r.cliFromBundle ? 'from its prebuilt bundle (dist/cli, built by npm ci)' : 'from the TypeScript sources through tsx (the bundle in dist/cli was missing or stale)'}.`,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      ...CORPUS_ARGS,
      // Profiles popvault (node --cpu-prof) into this directory; the times are then not comparable.
      'cpu-prof-dir': { type: 'string' },
    },
  });
  const corpus = buildCorpus(values);
  const dovecot = await startDovecot({ lockSession: false });
  try {
    const result = await retrievalBench({
      dovecot: dovecot.info,
      corpus,
      runs: Number(values.runs),
      cpuProfileDir: values['cpu-prof-dir'],
    });
    console.log(renderRetrieval(result));
  } finally {
    await dovecot.stop();
  }
}
