/**
 * Section 7: the same pull on every real POP3 server the test suite runs (Dovecot, Courier, Cyrus,
 * GNU Mailutils), popvault against mpop, so a regression on one server shows. Each server is the
 * test suite's lab (test/support/*-lab.ts): its own config, users and TLS certificate on loopback.
 * For every run and server, each client gets a fresh account holding the same corpus, delivered the
 * way that server takes mail, and pulls it over implicit TLS in delete mode; the order of the clients
 * rotates from run to run.
 *
 * It also measures what item 4 of the issue needs: how far each server's LIST sizes are from the
 * octets it serves, on the same corpus.
 *
 *   npm run bench:servers -- --runs 3 --messages 300 --mb 20
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pop3Client } from '../functions/core/pop3/client.js';
import { listedSizeAgrees } from '../functions/core/pop3/listed-size.js';
import { startCourierLab } from '../test/support/courier-lab.js';
import { startCyrusLab } from '../test/support/cyrus-lab.js';
import { startDovecotLab } from '../test/support/dovecot-lab.js';
import { startMailutilsLab } from '../test/support/mailutils-lab.js';
import type { LabAccount, LabServerName, Pop3Lab } from '../test/support/pop3-lab.js';
import { buildCorpus } from './corpus.js';
import {
  describeFailure,
  fixed,
  isMain,
  mb,
  POPVAULT_CLI,
  progress,
  REPO_ROOT,
  removeDirectory,
  runTimed,
  stats,
  table,
} from './lib.js';
import { type Outcome, prepare, runMpop, type Workspace } from './retrieval-clients.js';

export const LABS: Record<LabServerName, () => Promise<Pop3Lab>> = {
  dovecot: startDovecotLab,
  courier: startCourierLab,
  cyrus: startCyrusLab,
  mailutils: startMailutilsLab,
};

type Client = 'popvault' | 'popvault --no-pipelining' | 'mpop';
const CLIENTS: readonly Client[] = ['popvault', 'popvault --no-pipelining', 'mpop'];

export interface ListingDeviation {
  messages: number;
  /** LIST size equal to the octets served. */
  exact: number;
  /** Octets served minus octets listed: largest, and summed over the corpus. */
  maxShort: number;
  maxOver: number;
  totalServed: number;
  totalListed: number;
  /** Messages outside the tolerance of functions/core/pop3/listed-size.ts. */
  outsideTolerance: number;
}

export interface ServerResult {
  server: LabServerName;
  version: string;
  wall: Record<Client, number[]>;
  listing: ListingDeviation;
}

export interface MatrixResult {
  messages: number;
  octets: number;
  runs: number;
  servers: ServerResult[];
}

async function runPopvault(
  ws: Workspace,
  lab: Pop3Lab,
  account: LabAccount,
  expected: number,
  pipelining: boolean,
): Promise<Outcome> {
  const archive = join(ws.dir, `archive-${account.user}`);
  try {
    const result = await runTimed(
      process.execPath,
      [
        POPVAULT_CLI,
        'pull',
        '--host',
        lab.host,
        '--port',
        String(lab.tlsPort),
        '--ca',
        ws.caFile,
        '--user',
        account.user,
        '--archive',
        archive,
        ...(pipelining ? [] : ['--no-pipelining']),
        '--json',
      ],
      { cwd: REPO_ROOT, env: { ...process.env, POPVAULT_PASSWORD: account.password } },
    );
    if (result.code !== 0) throw describeFailure('popvault pull', result);
    const run = JSON.parse(result.stdout.trim().split('\n').pop() ?? '') as {
      outcome: string;
      counts: { stored: number; deleted: number };
    };
    if (run.outcome !== 'success' || run.counts.deleted !== expected) {
      throw new Error(`popvault did not archive and delete everything: ${result.stdout}`);
    }
    return { wall: result.seconds };
  } finally {
    removeDirectory(archive);
  }
}

/** LIST against what the server's own store says RETR serves, message by message. */
async function measureListing(lab: Pop3Lab, corpus: readonly Buffer[]): Promise<ListingDeviation> {
  const account = await lab.createUser();
  await lab.deliver(account, corpus);
  const client = await Pop3Client.connect({
    host: lab.host,
    port: lab.tlsPort,
    tls: 'implicit',
    ca: lab.caPem,
    credentials: { user: account.user, password: account.password },
  });
  // Mailutils rewrites its files at the first UIDL; listing through the client first makes
  // stored() describe what every later session serves.
  await client.uidl();
  const listed = await client.list();
  await client.quit();
  const served = await lab.stored(account);
  const deviation: ListingDeviation = {
    messages: listed.length,
    exact: 0,
    maxShort: 0,
    maxOver: 0,
    totalServed: 0,
    totalListed: 0,
    outsideTolerance: 0,
  };
  for (const [i, entry] of listed.entries()) {
    const bytes = served[i] ?? Buffer.alloc(0);
    const short = bytes.length - entry.octets;
    let lineEnds = 0;
    for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) lineEnds += 1;
    if (short === 0) deviation.exact += 1;
    deviation.maxShort = Math.max(deviation.maxShort, short);
    deviation.maxOver = Math.max(deviation.maxOver, -short);
    deviation.totalServed += bytes.length;
    deviation.totalListed += entry.octets;
    if (!listedSizeAgrees(entry.octets, bytes.length, lineEnds)) deviation.outsideTolerance += 1;
  }
  return deviation;
}

async function benchServer(
  name: LabServerName,
  corpus: Buffer[],
  runs: number,
): Promise<ServerResult> {
  const lab = await LABS[name]();
  const ws = prepare(lab, `servers-${name}`);
  try {
    const result: ServerResult = {
      server: name,
      version: lab.version,
      wall: { popvault: [], 'popvault --no-pipelining': [], mpop: [] },
      listing: await measureListing(lab, corpus),
    };
    for (let run = 0; run < runs; run += 1) {
      const order = CLIENTS.map((_, i) => CLIENTS[(i + run) % CLIENTS.length] as Client);
      for (const client of order) {
        const account = await lab.createUser();
        await lab.deliver(account, corpus);
        const outcome =
          client === 'mpop'
            ? await runMpop(ws, { ...lab, password: account.password }, account.user, corpus.length)
            : await runPopvault(ws, lab, account, corpus.length, client === 'popvault');
        const left = (await lab.stored(account)).length;
        if (left !== 0) throw new Error(`${client} left ${left} messages on ${name}`);
        result.wall[client].push(outcome.wall);
        progress(`servers ${name} run ${run + 1}/${runs} ${client}: ${fixed(outcome.wall)} s`);
      }
    }
    return result;
  } finally {
    removeDirectory(ws.dir);
    await lab.stop();
  }
}

export async function serverMatrixBench(options: {
  servers: readonly LabServerName[];
  corpus: Buffer[];
  runs: number;
}): Promise<MatrixResult> {
  const servers: ServerResult[] = [];
  for (const name of options.servers) {
    servers.push(await benchServer(name, options.corpus, options.runs));
  }
  return {
    messages: options.corpus.length,
    octets: options.corpus.reduce((n, m) => n + m.length, 0),
    runs: options.runs,
    servers,
  };
}

export function renderServerMatrix(r: MatrixResult): string {
  const median = (values: number[]): number => stats(values).median;
  const ratio = (a: number[], b: number[]): string =>
    fixed(stats(a.map((value, i) => value / (b[i] as number))).median);
  const timing = table(
    [
      'server',
      'popvault s',
      'popvault --no-pipelining s',
      'mpop s',
      'popvault / mpop',
      'no-pipelining / pipelining',
    ],
    r.servers.map((s) => [
      s.version,
      fixed(median(s.wall.popvault)),
      fixed(median(s.wall['popvault --no-pipelining'])),
      fixed(median(s.wall.mpop)),
      ratio(s.wall.popvault, s.wall.mpop),
      ratio(s.wall['popvault --no-pipelining'], s.wall.popvault),
    ]),
  );
  const listing = table(
    [
      'server',
      'LIST exact',
      'largest shortfall, octets',
      'largest excess, octets',
      'listed / served, whole corpus',
      'outside the tolerance',
    ],
    r.servers.map((s) => [
      s.version,
      `${s.listing.exact} of ${s.listing.messages}`,
      String(s.listing.maxShort),
      String(s.listing.maxOver),
      `${((s.listing.totalListed / s.listing.totalServed) * 100).toFixed(2)}%`,
      String(s.listing.outsideTolerance),
    ]),
  );
  return [
    `### 7. Every real server (${r.messages} messages, ${fixed(mb(r.octets), 1)} MB, ${r.runs} runs, delete mode, implicit TLS; medians of wall time, spawn to exit)`,
    '',
    timing,
    '',
    'LIST sizes against the octets each server serves for the same corpus (the tolerance of `functions/core/pop3/listed-size.ts`):',
    '',
    listing,
  ].join('\n');
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      servers: { type: 'string', default: 'dovecot,courier,cyrus,mailutils' },
      messages: { type: 'string', default: '300' },
      mb: { type: 'string', default: '20' },
    },
  });
  const corpus = buildCorpus(values);
  const servers = values.servers.split(',') as LabServerName[];
  for (const name of servers) {
    if (!(name in LABS))
      throw new Error(`--servers: unknown server ${name}; use ${Object.keys(LABS).join(',')}`);
  }
  const result = await serverMatrixBench({ servers, corpus, runs: Number(values.runs) });
  console.log(renderServerMatrix(result));
}
