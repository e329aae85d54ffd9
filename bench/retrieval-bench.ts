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
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSync } from 'esbuild';
import { freshBundle } from '../functions/cli/cli-bundle.mjs';
import { type DovecotInfo, maildirMessageCount, startDovecot } from '../test/support/dovecot.js';
import { buildCorpus, CORPUS_ARGS } from './corpus.js';
import {
  atMost,
  describeFailure,
  fixed,
  isMain,
  mb,
  PEAK_RSS_IMPORT,
  POPVAULT_CLI,
  peakRssMb,
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
  workDirectory,
} from './lib.js';

/** The lab notes' ceiling: about 64 commands in flight. */
export const CEILING_WINDOW = 64;
/** The user mpop runs as (it, like getmail, is not meant to deliver as root). */
const NOBODY = {
  uid: Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim()),
  gid: Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim()),
};

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

export interface Outcome {
  wall: number;
  machineCpu?: number;
  inside?: number;
  rssMb?: number;
}

export interface Workspace {
  dir: string;
  caFile: string;
  ceilingScript: string;
  /** When set, popvault runs under --cpu-prof and writes its profiles here (slower: not for timing). */
  cpuProfileDir?: string;
}

function mpopVersion(): string {
  try {
    const first = execFileSync('mpop', ['--version'], { encoding: 'utf8' }).split('\n')[0];
    return (first ?? 'mpop').replace('mpop version', 'mpop');
  } catch {
    throw new Error(
      'mpop is not installed: run `npm run bench` (it installs it) or `apt-get install mpop`.',
    );
  }
}

/** Where a client reaches a server over implicit TLS (a Dovecot of this bench, or any Pop3Lab). */
export interface TlsServer {
  host: string;
  tlsPort: number;
  caPem: string;
}

export function prepare(server: Pick<TlsServer, 'caPem'>, name = 'retrieval'): Workspace {
  const dir = workDirectory(name);
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, server.caPem, { mode: 0o644 });
  // mpop runs as nobody, who must reach its Maildir and the CA file through every parent directory.
  const reach = spawnSync(
    'setpriv',
    [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, '--clear-groups', 'test', '-r', caFile],
    { stdio: 'ignore' },
  );
  if (reach.status !== 0) {
    throw new Error(
      `the user nobody cannot read ${caFile}: mpop runs as nobody and delivers into ${dir}; ` +
        'give the directories above the repository search permission (chmod o+x) or move the repository',
    );
  }
  // A plain node process, like the C client it is compared with: no TypeScript loader to start.
  const ceilingScript = join(dir, 'ceiling-reader.mjs');
  buildSync({
    entryPoints: [join(REPO_ROOT, 'bench', 'ceiling-reader.ts')],
    outfile: ceilingScript,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
  });
  return { dir, caFile, ceilingScript };
}

function filesIn(dir: string): number {
  return ['new', 'cur'].reduce((n, sub) => n + readdirSync(join(dir, sub)).length, 0);
}

async function runPopvault(
  ws: Workspace,
  dovecot: DovecotInfo,
  user: string,
  expected: number,
): Promise<Outcome> {
  const archive = join(ws.dir, `archive-${user}`);
  try {
    const result = await runTimed(
      process.execPath,
      [
        // Prints the process's peak RSS at exit; costs nothing measurable.
        '--import',
        PEAK_RSS_IMPORT,
        ...(ws.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${ws.cpuProfileDir}`] : []),
        POPVAULT_CLI,
        'pull',
        '--host',
        dovecot.host,
        '--port',
        String(dovecot.tlsPort),
        '--ca',
        ws.caFile,
        '--user',
        user,
        '--archive',
        archive,
        '--json',
      ],
      { cwd: REPO_ROOT, env: { ...process.env, POPVAULT_PASSWORD: dovecot.password } },
    );
    if (result.code !== 0) throw describeFailure('popvault pull', result);
    const run = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as {
      outcome: string;
      startedAt: string;
      endedAt: string;
      counts: { stored: number; deleted: number };
    };
    if (
      run.outcome !== 'success' ||
      run.counts.stored !== expected ||
      run.counts.deleted !== expected
    ) {
      throw new Error(`popvault did not archive and delete everything: ${result.stdout}`);
    }
    return {
      wall: result.seconds,
      inside: (Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000,
      rssMb: peakRssMb(result.stderr) ?? undefined,
    };
  } finally {
    removeDirectory(archive);
  }
}

export async function runMpop(
  ws: Workspace,
  dovecot: TlsServer & { password: string },
  user: string,
  expected: number,
): Promise<Outcome> {
  // Everything mpop touches belongs to nobody, as a user's own mail setup would.
  const home = join(ws.dir, `mpop-${user}`);
  const maildir = join(home, 'Maildir');
  for (const dir of [home, maildir, ...['tmp', 'new', 'cur'].map((d) => join(maildir, d))]) {
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, NOBODY.uid, NOBODY.gid);
  }
  const rc = join(home, 'mpoprc');
  writeFileSync(
    rc,
    [
      'account bench',
      `host ${dovecot.host}`,
      `port ${dovecot.tlsPort}`,
      'tls on',
      'tls_starttls off',
      `tls_trust_file ${ws.caFile}`,
      'auth user',
      `user ${user}`,
      `password ${dovecot.password}`,
      'pipelining on',
      'keep off',
      `delivery maildir ${maildir}`,
      `uidls_file ${join(home, 'uidls')}`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  // mpop refuses a config file with a password that is not its user's own, mode 0600.
  chownSync(rc, NOBODY.uid, NOBODY.gid);
  try {
    const result = await runTimed(
      'setpriv',
      [
        `--reuid=${NOBODY.uid}`,
        `--regid=${NOBODY.gid}`,
        '--clear-groups',
        'mpop',
        '-q',
        '-C',
        rc,
        'bench',
      ],
      { cwd: home, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home } },
    );
    if (result.code !== 0) throw describeFailure('mpop', result);
    const delivered = filesIn(maildir);
    if (delivered !== expected) {
      throw new Error(`mpop delivered ${delivered} of ${expected} messages`);
    }
    return { wall: result.seconds };
  } finally {
    removeDirectory(home);
  }
}

async function runCeiling(
  ws: Workspace,
  dovecot: DovecotInfo,
  user: string,
  expected: number,
  dele: boolean,
): Promise<Outcome> {
  const result = await runTimed(
    process.execPath,
    [
      '--import',
      PEAK_RSS_IMPORT,
      ws.ceilingScript,
      JSON.stringify({
        host: dovecot.host,
        port: dovecot.tlsPort,
        caFile: ws.caFile,
        user,
        password: dovecot.password,
        window: CEILING_WINDOW,
        dele,
      }),
    ],
    { cwd: ws.dir },
  );
  if (result.code !== 0) throw describeFailure('ceiling reader', result);
  const read = JSON.parse(result.stdout) as { messages: number; seconds: number };
  if (read.messages !== expected) {
    throw new Error(`the ceiling reader counted ${read.messages} of ${expected} messages`);
  }
  return {
    wall: result.seconds,
    inside: read.seconds,
    rssMb: peakRssMb(result.stderr) ?? undefined,
  };
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
