import type { PullIndex, RawStore, RunOutcome, RunRecord } from '../archive/ports.js';
import { type ClassifiedError, classifyError } from '../errors/popvault-error.js';
import { Pop3Client, type Pop3ClientOptions } from '../pop3/client.js';
import { Pop3Error } from '../pop3/errors.js';
import { listedSizesSuspect } from '../pop3/listed-size.js';
import { LeaseError } from './lease-error.js';
import { acquireLease, type LeaseIdentity, LeaseKeeper } from './lease-keeper.js';
import { listMessages } from './list-messages.js';
import type { MessageParser } from './message-spool.js';
import { PersistenceQueue } from './persistence-queue.js';
import { planRetrieval, type RetrievalPlan } from './plan-retrieval.js';
import {
  type CredentialsSource,
  PULL_DEFAULTS,
  type PullOptions,
  type RunLogger,
  SILENT_LOGGER,
} from './pull-options.js';
import { type Archived, dele, retrieveAll, type SessionContext } from './retrieve-messages.js';
import { RunState } from './run-state.js';

export type { LeaseIdentity } from './lease-keeper.js';

export interface PullDeps {
  rawStore: RawStore;
  index: PullIndex;
  credentials: CredentialsSource;
  createParser: () => MessageParser;
  /** Where large messages are spooled before upload (a Lambda's /tmp). */
  spoolDirectory: string;
  now: () => number;
  newRunId: () => string;
  logger?: RunLogger;
  /** Opens the POP3 session; tests inject faults here. */
  connect?: (options: Pop3ClientOptions) => Promise<Pop3Client>;
  /**
   * Where a lease holder can be probed (a local run: same machine, same boot), who this run is in
   * the lease and how to tell that another holder is dead. Absent in AWS, where a lease is only
   * ever freed by its holder or by expiry.
   */
  leaseIdentity?: LeaseIdentity;
  /** Progress for a terminal or a test: no message content, only keys and sizes. */
  onProgress?: (event: PullProgress) => void;
  /**
   * Work that needs the mailbox's single writer, done after the POP3 session while the run still
   * holds the lease (in AWS: the search flush, functions/adapters/aws/search-flush.ts). Skipped
   * when the lease was lost. Mail is archived and the session over by then, so its failure is
   * logged and changes nothing about the run: not its outcome, not a DELE.
   */
  afterSession?: (run: AfterSession) => Promise<void>;
}

export interface AfterSession {
  mailboxId: string;
  runId: string;
  /** Epoch ms the run started at, before its lease: every record it archived is from after this. */
  startedAt: number;
  /** Aborted if the lease is lost meanwhile: stop before writing anything another run may own. */
  leaseSignal: AbortSignal;
  /** Epoch ms by which the run must be over (PullOptions.hardDeadline). */
  hardDeadline: number;
}

import type { PullProgress } from './run-counts.js';

export type { PullProgress } from './run-counts.js';

/**
 * One pull of one mailbox:
 * lease -> connect -> UIDL + LIST -> decide -> RETR with persistence overlapping retrieval ->
 * DELE each message only after its raw object and index record are both acknowledged -> QUIT ->
 * mark records deleted-from-server -> release the lease -> run record.
 *
 * Every step is idempotent: raw keys are content-addressed and records are created conditionally, so
 * a run that dies anywhere is completed by the next one with nothing lost and nothing stored twice.
 */
export async function runPull(options: PullOptions, deps: PullDeps): Promise<RunRecord> {
  const logger = deps.logger ?? SILENT_LOGGER;
  const runId = deps.newRunId();
  const startedAt = deps.now();
  const state = new RunState(deps.onProgress);
  const { mailboxId } = options;
  const finish = (outcome: RunOutcome, error: ClassifiedError | null): Promise<RunRecord> =>
    recordRun({ mailboxId, runId, startedAt, outcome, error, state }, deps, logger);

  const ttlMs = options.leaseTtlMs ?? PULL_DEFAULTS.leaseTtlMs;
  const identity = deps.leaseIdentity;
  const terms = { mailboxId, owner: identity?.ownerFor(runId) ?? runId, ttlMs };
  const taken = await acquireLease(deps.index, terms, startedAt, identity);
  if (taken === null) {
    const held = new LeaseError(
      'LEASE_HELD',
      `another run holds the lease on mailbox ${mailboxId}; it ends, or expires within ${ttlMs / 1000} s of that run dying`,
    );
    return finish('retry-later', classifyError(held));
  }
  if (taken.previousOwner !== undefined) {
    logger.warn('took over the lease of a run that is no longer alive', {
      mailboxId,
      previousOwner: taken.previousOwner,
    });
    state.note({ kind: 'lease-taken-over', previousOwner: taken.previousOwner });
  }
  const keeper = new LeaseKeeper(deps.index, terms, deps.now, logger);
  try {
    await session(options, deps, runId, state, logger, keeper.signal);
  } catch (err) {
    state.fatal ??= err;
  } finally {
    await afterSession(options, deps, { runId, startedAt }, keeper.signal, logger);
    await keeper.release();
  }
  const err = state.fatal;
  if (err !== null) {
    if (err instanceof Pop3Error && err.code === 'AUTH_FAILED') deps.credentials.invalidate?.();
    const failure = classifyError(err);
    return finish(failure.temporary ? 'retry-later' : 'failed', failure);
  }
  return finish(state.counts.failed > 0 || state.stopReason !== null ? 'partial' : 'success', null);
}

/** Runs deps.afterSession while the lease is held; a failure is logged, never raised. */
async function afterSession(
  options: PullOptions,
  deps: PullDeps,
  run: { runId: string; startedAt: number },
  leaseSignal: AbortSignal,
  logger: RunLogger,
): Promise<void> {
  if (deps.afterSession === undefined || leaseSignal.aborted) return;
  const { mailboxId, hardDeadline } = options;
  const { runId } = run;
  try {
    await deps.afterSession({ mailboxId, ...run, leaseSignal, hardDeadline });
  } catch (err) {
    logger.error('the work after the session failed; the archived mail is unaffected', {
      mailboxId,
      runId,
      errorCode: classifyError(err).code,
    });
  }
}

/** Builds the run record, writes it (a failed write is logged, not raised) and logs the run's end. */
async function recordRun(
  run: {
    mailboxId: string;
    runId: string;
    startedAt: number;
    outcome: RunOutcome;
    error: ClassifiedError | null;
    state: RunState;
  },
  deps: PullDeps,
  logger: RunLogger,
): Promise<RunRecord> {
  const { mailboxId, runId, outcome, error, state } = run;
  const record: RunRecord = {
    mailboxId,
    runId,
    startedAt: new Date(run.startedAt).toISOString(),
    endedAt: new Date(deps.now()).toISOString(),
    outcome,
    counts: state.counts,
    stopReason: state.stopReason,
    errorCode: error?.code ?? null,
    ...(error === null ? {} : { errorKind: error.kind }),
    errorMessage: error === null ? null : error.message.slice(0, 1000),
    failures: state.failures,
    session:
      state.session === null
        ? null
        : {
            ...state.session,
            sizesSuspect: listedSizesSuspect(state.session.sizeMismatches, state.counts.retrieved),
          },
  };
  try {
    await deps.index.putRun(record);
  } catch (putErr) {
    logger.error('could not write the run record', {
      mailboxId,
      runId,
      errorCode: classifyError(putErr).code,
    });
  }
  logger.info('pull run finished', {
    mailboxId,
    runId,
    outcome,
    ...state.counts,
    stopReason: state.stopReason,
  });
  return record;
}

/**
 * The session, in order: log in, list, plan, DELE what is already archived, retrieve with
 * persistence overlapping, wait for every write, then QUIT once every DELE is in. Any failure
 * drops the connection without QUIT, which deletes nothing.
 */
async function session(
  options: PullOptions,
  deps: PullDeps,
  runId: string,
  state: RunState,
  logger: RunLogger,
  leaseSignal: AbortSignal,
): Promise<void> {
  // A lost lease ends the run as LEASE_LOST, whatever the dropped connection raises after it.
  const leaseLost = (): void => {
    state.fatal ??= leaseSignal.reason;
  };
  leaseSignal.addEventListener('abort', leaseLost, { once: true });
  const client = await openSession(options, deps, state, logger);
  leaseSignal.addEventListener('abort', () => client.close(), { once: true });
  // A lease lost while logging in was signalled before that listener: drop the session now, unlisted.
  if (leaseSignal.aborted) client.close();
  const ctx: SessionContext = {
    options,
    deps,
    runId,
    state,
    logger,
    client,
    deletions: [],
    queue: new PersistenceQueue(
      {
        concurrency: options.persistConcurrency ?? PULL_DEFAULTS.persistConcurrency,
        memoryOctets: PULL_DEFAULTS.persistMemoryOctets,
      },
      (persisting, heldOctets) => state.note({ kind: 'waiting', persisting, heldOctets }),
    ),
    spools: new Set(),
  };
  let quitDone = false;
  try {
    const plan = await listAndPlan(ctx);
    const ended = await retrieveAll(ctx, plan);
    await ctx.queue.drain();
    if (ended === 'without-quit') return;
    if (state.fatal !== null) throw state.fatal;
    await quitAndMarkDeleted(ctx, () => {
      quitDone = true;
    });
  } finally {
    // Persistence still running after a failure must finish (or fail) before its spool goes away.
    await ctx.queue.settle();
    if (!quitDone) {
      // Dropping the connection without QUIT deletes nothing: the safe end of any failure.
      client.close();
      state.note({ kind: 'ended-without-quit' });
    }
    await Promise.all([...ctx.spools].map((s) => s.cleanup()));
  }
}

/** Logs in, and records what the session is like. */
async function openSession(
  options: PullOptions,
  deps: PullDeps,
  state: RunState,
  logger: RunLogger,
): Promise<Pop3Client> {
  const credentials = await deps.credentials.get();
  const connect = deps.connect ?? ((o: Pop3ClientOptions) => Pop3Client.connect(o));
  const client = await connect({
    ...options.server,
    credentials,
    // The run's clock is injectable; the socket timer runs on the wall clock, so pass the time left.
    deadline: Date.now() + (options.hardDeadline - deps.now()) - PULL_DEFAULTS.sessionMarginMs,
  });
  state.session = { utf8: client.utf8Mode, sizeMismatches: 0, sizesSuspect: false };
  if (client.utf8Mode === 'refused') {
    logger.warn(
      'the server lists UTF8 but refused it: mail with raw UTF-8 headers may be served altered',
      { mailboxId: options.mailboxId },
    );
  }
  return client;
}

/** Lists the mailbox, plans the run and sends DELE for what is archived already. */
async function listAndPlan(ctx: SessionContext): Promise<RetrievalPlan> {
  const { options, deps, state, logger, client } = ctx;
  const { mailboxId, policy } = options;
  const hasUidl = !client.capabilities.supported || client.capabilities.has('UIDL');
  const noUidl = (): Error =>
    new Pop3Error(
      'CAPABILITY_MISSING',
      `policy "${policy.kind}" needs a server with UIDL to recognise messages across runs, and ${options.server.host} has none; use policy "delete"`,
    );
  if (policy.kind !== 'delete' && !hasUidl) throw noUidl();
  if (policy.kind !== 'delete' && client.capabilities.expiresImmediately) {
    logger.warn(
      'the server announces EXPIRE 0: it deletes retrieved mail itself, so keep cannot hold',
      { mailboxId },
    );
  }
  const listing = await listMessages(client, hasUidl, policy.kind === 'delete', noUidl);
  const listed = listing.messages;
  state.note({ kind: 'server-listed', messages: listing.serverCount });
  for (const bad of listing.unusable) state.fail(bad.key, bad.error);
  if (listing.capped) {
    state.stopReason ??= 'listing-capped';
    logger.warn('the listing has more entries than are read in one run; the rest wait', {
      mailboxId,
      listed: listing.serverCount,
      kept: listed.length,
    });
  }
  const uidls = new Set<string>();
  for (const m of listed) if (m.uidl !== null) uidls.add(m.uidl);
  const known = await deps.index.getMessages(mailboxId, [...uidls]);
  const plan = planRetrieval(listed, known, policy, options, deps.now());
  for (const archived of plan.alreadyArchived) {
    state.note({ kind: 'already-stored' });
    if (archived.deletable) ctx.deletions.push(dele(ctx, archived));
  }
  for (const m of plan.oversize) {
    state.note({ kind: 'oversize' });
    logger.warn('message over the size limit left on the server', {
      mailboxId,
      msg: m.msg,
      octets: m.octets,
    });
  }
  if (plan.stopReason !== null) state.stopReason ??= plan.stopReason;
  state.note({
    kind: 'listed',
    messages: listed.length,
    toRetrieve: plan.toRetrieve.length,
    octets: plan.plannedOctets,
  });
  return plan;
}

/** Every DELE is in; only now may QUIT commit them (RFC 1939 s.6). */
async function quitAndMarkDeleted(ctx: SessionContext, quitDone: () => void): Promise<void> {
  const { options, deps, state, logger, client } = ctx;
  const archived: Archived[] = [];
  for (const done of await Promise.all(ctx.deletions)) if (done) archived.push(done);
  await client.quit();
  quitDone();
  state.note({ kind: 'quit', deleted: archived.length });
  if (archived.length === 0) return;
  // The mail is archived and gone from the server; a missing flag costs nothing, so no failure.
  await deps.index
    .markDeleted(
      options.mailboxId,
      archived.map((a) => a.messageKey),
      new Date(deps.now()).toISOString(),
    )
    .catch((err: unknown) => {
      logger.warn('could not mark records deleted-from-server', {
        mailboxId: options.mailboxId,
        errorCode: classifyError(err).code,
      });
    });
}
