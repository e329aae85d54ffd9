/**
 * The chaos loop. Each run k of seed S is self-contained and drawn from SeededRandom.forRun(S, k): a
 * fresh mailbox on the real server gets the run's mail, one pull runs in a child process under the
 * run's fault, the invariant is checked, new mail may arrive, and clean pulls (in this process)
 * follow until the mailbox is drained, the invariant checked after each. After the last run, one
 * more clean pull of every mailbox, and then every message ever delivered must be archived exactly
 * once and every mailbox empty.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { localLeaseIdentity } from '../../functions/cli/run-identity.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';
import { Pop3Client } from '../../functions/core/pop3/client.js';
import type { PullOptions } from '../../functions/core/pull/pull-options.js';
import { runPull } from '../../functions/core/pull/pull-run.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  s3ClientFor,
} from '../support/aws-clients.js';
import { toWireForm } from '../support/dovecot.js';
import type { AwsEmulatorInfo } from '../support/emulators.js';
import type { LabServerName, Pop3Lab } from '../support/pop3-lab.js';
import { SeededRandom } from '../support/seeded-random.js';
import {
  checkMailbox,
  type MailboxLedger,
  messageIdOf,
  observeServer,
} from './archive-invariant.js';
import { type ArchiveLocation, type OpenedArchive, openArchive } from './chaos-archive.js';
import type { ChaosChildConfig } from './chaos-child.js';
import { type ChildResult, type DiskFull, startChild } from './chaos-child-process.js';
import { ChaosMail } from './chaos-mail.js';
import { ChaosTally } from './chaos-report.js';
import {
  describeFault,
  drawPlan,
  type Fault,
  type ProxyFault,
  type RunPlan,
} from './fault-plan.js';
import { FaultProxy } from './fault-proxy.js';

export interface ChaosOptions {
  runs: number;
  seed: number;
  /** Runs only these (by number), each alone: a replay, or the test suite's fixed list. */
  only: readonly number[] | null;
  archive: 'local' | 'aws';
  server: LabServerName;
  /** Stops starting new runs after this long (the final clean pull and checks still happen). */
  maxSeconds: number;
  /** Draw the disk-full fault (local archive only; needs `unshare --mount` and tmpfs). */
  diskFull: boolean;
  log(line: string): void;
}

export interface ChaosEnvironment {
  lab: Pop3Lab;
  aws: AwsEmulatorInfo | null;
}

/**
 * The chaos pulls' lease: a SIGKILLed local run's lease otherwise blocks its mailbox for the
 * default two minutes (until a dead holder can be taken over at once); 1.5 s keeps recovery quick
 * and still lets a run renew it several times, so a hung renewal can let it lapse.
 */
export const CHAOS_LEASE_TTL_MS = 1_500;
/** Shorter than any hang a storage fault draws (1-3 s), so a stalled session times out first. */
export const CHAOS_IDLE_TIMEOUT_MS = 1_000;
const PULL_BUDGET_MS = 30_000;
/** A child still alive this long after its hard deadline has outrun it. */
const WATCHDOG_GRACE_MS = 15_000;
const MAX_RECOVERY_PULLS = 8;

function proxyFault(fault: Fault): ProxyFault | null {
  switch (fault.kind) {
    case 'kill-at-byte':
    case 'kill-after-dele-reply':
    case 'kill-before-quit':
    case 'kill-after-quit-sent':
    case 'cut-at-byte':
    case 'stall-at-byte':
    case 'deliver-during-run':
      return fault;
    default:
      return null;
  }
}

export function replayCommand(options: ChaosOptions, run: number): string {
  return `npm run chaos -- --seed ${options.seed} --only ${run} --archive ${options.archive} --server ${options.server}`;
}

export async function runChaos(options: ChaosOptions, env: ChaosEnvironment): Promise<ChaosTally> {
  const { lab } = env;
  const { log } = options;
  const work = mkdtempSync(join(tmpdir(), 'popvault-chaos-'));
  const tally = new ChaosTally(options);
  let location: ArchiveLocation;
  if (options.archive === 'local') {
    location = { kind: 'local', directory: join(work, 'archive') };
  } else {
    if (env.aws === null) throw new Error('--archive aws needs the emulators');
    const s3 = s3ClientFor(env.aws);
    const dynamo = dynamoClientFor(env.aws);
    location = {
      kind: 'aws',
      aws: env.aws,
      bucket: await createTestBucket(s3),
      table: await createTestTable(dynamo),
    };
    s3.destroy();
    dynamo.destroy();
  }
  const shared = await openArchive(location);
  const opened: OpenedArchive[] = [shared];
  const mailboxes: Array<{ ledger: MailboxLedger; archive: OpenedArchive; run: number }> = [];
  const started = Date.now();
  const indices =
    options.only === null ? Array.from({ length: options.runs }, (_, k) => k) : [...options.only];

  const cleanPull = async (ledger: MailboxLedger, archive: OpenedArchive) => {
    const run = await runPull(pullOptions(ledger, archive, lab), {
      rawStore: archive.rawStore,
      index: archive.index,
      credentials: { get: async () => ({ ...ledger.account }) },
      createParser: createMessageParser,
      spoolDirectory: work,
      now: Date.now,
      newRunId: randomUUID,
      leaseIdentity: localLeaseIdentity(),
    });
    tally.pulls += 1;
    return run;
  };

  try {
    for (const k of indices) {
      if ((Date.now() - started) / 1000 > options.maxSeconds) {
        tally.stoppedEarly = `stopped after ${options.maxSeconds} s, before run ${k}`;
        break;
      }
      const violationsBefore = tally.violations.length;
      try {
        const random = SeededRandom.forRun(options.seed, k);
        const plan = drawPlan(random, k, {
          archive: options.archive,
          deliverDuringRun: lab.name === 'dovecot',
          diskFull: options.diskFull,
        });
        const mail = new ChaosMail(random, options.seed, k);
        const ledger: MailboxLedger = {
          mailboxId: `chaos-${options.seed}-${k}`,
          account: await lab.createUser(),
          expected: new Map(),
        };
        await lab.deliver(
          ledger.account,
          plan.initialSizes.map((size) => mail.message(size)),
        );
        await settle(lab, ledger);

        let runLocation = location;
        let archive = shared;
        let diskFull: DiskFull | null = null;
        if (plan.fault.kind === 'disk-full') {
          const directory = join(work, `disk-full-${k}`);
          const copyTo = join(work, `disk-full-${k}-archive`);
          mkdirSync(directory, { mode: 0o700 });
          mkdirSync(copyTo, { mode: 0o700 });
          runLocation = { kind: 'local', directory };
          diskFull = { directory, octets: plan.fault.octets, copyTo };
        }
        const faultStarted = Date.now();
        const result = await faultedPull(plan, ledger, runLocation, diskFull, mail, work, lab);
        tally.pulls += plan.fault.kind === 'concurrent-runs' ? 2 : 1;
        if (diskFull !== null) {
          archive = await openArchive({ kind: 'local', directory: diskFull.copyTo });
          opened.push(archive);
        }
        mailboxes.push({ ledger, archive, run: k });
        tally.recordFault(plan.fault, result.fired, result.outcomes);
        const violations = (phase: string, found: string[]) => {
          for (const v of found) tally.violation(k, `${phase}: ${v}`, replayCommand(options, k));
        };
        for (const child of result.children)
          if (child.overran)
            violations('faulted pull', [
              `the pull was still running ${WATCHDOG_GRACE_MS / 1000} s past its hard deadline`,
            ]);
        violations(
          `after the fault (${describeFault(plan.fault)})`,
          (await checkMailbox(lab, archive, ledger)).violations,
        );

        if (plan.deliveredBetween > 0) {
          await lab.deliver(
            ledger.account,
            Array.from({ length: plan.deliveredBetween }, () =>
              mail.message(random.int(150, 5_000)),
            ),
          );
          await settle(lab, ledger);
          tally.deliveredBetween += plan.deliveredBetween;
        }
        let drained = false;
        let pulls = 0;
        while (!drained && pulls < MAX_RECOVERY_PULLS) {
          pulls += 1;
          const run = await cleanPull(ledger, archive);
          const state = await checkMailbox(lab, archive, ledger);
          violations(`recovery pull ${pulls}`, state.violations);
          drained = run.outcome === 'success' && state.onServer === 0;
          // A dead run's lease stands until it expires; no signal says when, so wait that long.
          if (run.outcome === 'retry-later' && run.errorCode === 'LEASE_HELD')
            await delay(CHAOS_LEASE_TTL_MS);
        }
        const seconds = (Date.now() - faultStarted) / 1000;
        if (!drained)
          violations('recovery', [
            `the mailbox was not drained after ${MAX_RECOVERY_PULLS} clean pulls`,
          ]);
        tally.recordRecovery(k, pulls, seconds);
        log(
          `run ${k}: ${describeFault(plan.fault)} -> ${result.fired ?? 'did not strike'}; ` +
            `${result.outcomes.join('+')}; drained after ${pulls} pull(s), ${seconds.toFixed(1)} s`,
        );
      } catch (error) {
        // The harness itself failed (a lab or emulator error): the run's invariant went unchecked,
        // which must not pass for a clean run.
        const message = error instanceof Error ? error.message : String(error);
        tally.violation(
          k,
          `the run could not be completed or checked: ${message}`,
          replayCommand(options, k),
        );
        log(`run ${k}: could not be completed or checked: ${message}`);
      }
      for (const v of tally.violations.slice(violationsBefore))
        log(`run ${k}: VIOLATION ${v.message}`);
      if (tally.violations.length > violationsBefore)
        log(`run ${k}: replay it alone with: ${replayCommand(options, k)}`);
    }

    // One clean pull of every mailbox, then everything delivered is archived exactly once.
    for (const { ledger, archive, run } of mailboxes) {
      await cleanPull(ledger, archive);
      const state = await checkMailbox(lab, archive, ledger);
      for (const v of state.violations)
        tally.violation(run, `final: ${v}`, replayCommand(options, run));
      if (state.onServer > 0)
        tally.violation(
          run,
          `final: ${state.onServer} message(s) still on the server`,
          replayCommand(options, run),
        );
      tally.delivered += ledger.expected.size;
      tally.archived += state.archived;
      tally.lost += state.lost.length;
      tally.duplicated += state.duplicated.length;
    }
  } finally {
    tally.seconds = (Date.now() - started) / 1000;
    for (const archive of opened) archive.close();
    rmSync(work, { recursive: true, force: true });
  }
  return tally;
}

/**
 * A server that rewrites a message the first time a session lists its UIDL (GNU Mailutils adds an
 * X-UIDL field when that session ends) serves different bytes from then on than its store held at
 * delivery. One session that lists UIDLs and quits (deleting nothing) fixes the bytes every later
 * session serves, so the store read afterwards says what the chaos pulls will be served. Dovecot
 * never rewrites, and is left alone so mail can also arrive mid-session.
 */
async function settle(lab: Pop3Lab, ledger: MailboxLedger): Promise<void> {
  if (lab.name !== 'dovecot') {
    const client = await Pop3Client.connect({
      host: lab.host,
      port: lab.tlsPort,
      tls: 'implicit',
      ca: lab.caPem,
      credentials: { ...ledger.account },
    });
    try {
      await client.uidl();
      await client.quit();
    } finally {
      client.close();
    }
  }
  await observeServer(lab, ledger);
}

function pullOptions(ledger: MailboxLedger, archive: OpenedArchive, lab: Pop3Lab): PullOptions {
  return {
    mailboxId: ledger.mailboxId,
    server: { host: lab.host, port: lab.tlsPort, tls: 'implicit', ca: lab.caPem },
    policy: { kind: 'delete' },
    hardDeadline: Date.now() + PULL_BUDGET_MS,
    leaseTtlMs: CHAOS_LEASE_TTL_MS,
    ...(archive.persistConcurrency === undefined
      ? {}
      : { persistConcurrency: archive.persistConcurrency }),
  };
}

interface FaultedResult {
  fired: string | null;
  outcomes: string[];
  children: ChildResult[];
}

async function faultedPull(
  plan: RunPlan,
  ledger: MailboxLedger,
  location: ArchiveLocation,
  diskFull: DiskFull | null,
  mail: ChaosMail,
  work: string,
  lab: Pop3Lab,
): Promise<FaultedResult> {
  const fault = plan.fault;
  const copies = fault.kind === 'concurrent-runs' ? 2 : 1;
  const deliveries: Promise<void>[] = [];
  const children = [];
  const proxies: FaultProxy[] = [];
  for (let i = 0; i < copies; i++) {
    let kill = (): void => {};
    const proxy = await FaultProxy.start(
      { host: lab.host, port: lab.plainPort },
      proxyFault(fault),
      {
        kill: () => kill(),
        deliver: (count) => {
          // Dovecot only (drawPlan): a Maildir file it serves as toWireForm says, read or not.
          const messages = Array.from({ length: count }, () => mail.message(400));
          for (const m of messages) {
            const id = messageIdOf(m);
            if (id !== null) ledger.expected.set(id, toWireForm(m));
          }
          deliveries.push(lab.deliver(ledger.account, messages));
        },
      },
    );
    proxies.push(proxy);
    const config: ChaosChildConfig = {
      archive: location,
      options: {
        mailboxId: ledger.mailboxId,
        server: {
          host: '127.0.0.1',
          port: proxy.port,
          tls: 'none',
          insecure: true,
          idleTimeoutMs: CHAOS_IDLE_TIMEOUT_MS,
        },
        policy: { kind: 'delete' },
        hardDeadline: Date.now() + PULL_BUDGET_MS,
        leaseTtlMs: CHAOS_LEASE_TTL_MS,
      },
      user: ledger.account.user,
      password: ledger.account.password,
      spoolDirectory: work,
      storageFault: fault.kind === 'storage-fail' || fault.kind === 'storage-hang' ? fault : null,
    };
    const child = await startChild(config, PULL_BUDGET_MS + WATCHDOG_GRACE_MS, diskFull);
    kill = child.kill;
    children.push(child);
  }
  const results = await Promise.all(children.map((c) => c.done));
  await Promise.all(deliveries);
  await Promise.all(proxies.map((p) => p.close()));
  const storageFired = results.flatMap((r) => r.storageFaults);
  let fired = proxies.map((p) => p.fired).find((f) => f !== null) ?? storageFired[0] ?? null;
  if (fault.kind === 'concurrent-runs') fired = 'two pulls started together';
  if (fault.kind === 'disk-full')
    fired =
      results[0] !== undefined && !['success', 'tmpfs-unavailable'].includes(results[0].outcome)
        ? `tmpfs of ${fault.octets} octets filled`
        : null;
  return {
    fired,
    outcomes: results.map((r) => (r.errorCode ? `${r.outcome}:${r.errorCode}` : r.outcome)),
    children: results,
  };
}
