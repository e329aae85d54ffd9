/**
 * The clients the retrieval bench (retrieval-bench.ts) and the server matrix (server-matrix.ts) run
 * against a server over implicit TLS, each checked to have taken every message:
 * - `popvault pull` (the real CLI process) into a fresh local archive (Maildir files + SQLite),
 * - mpop (pipelining, `keep off`) delivering to a Maildir, as `nobody`, TLS verified against the CA,
 * - the ceiling reader (bench/ceiling-reader.ts) as a plain node process, bytes discarded.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import type { DovecotInfo } from '../test/support/dovecot.js';
import {
  describeFailure,
  PEAK_RSS_IMPORT,
  POPVAULT_CLI,
  peakRssMb,
  REPO_ROOT,
  removeDirectory,
  runTimed,
  workDirectory,
} from './lib.js';

/** The lab notes' ceiling: about 64 commands in flight. */
export const CEILING_WINDOW = 64;
/** The user mpop runs as (it, like getmail, is not meant to deliver as root). */
const NOBODY = {
  uid: Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim()),
  gid: Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).trim()),
};

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

export function mpopVersion(): string {
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

export async function runPopvault(
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

export async function runCeiling(
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
