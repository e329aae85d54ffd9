import { ArchiveError } from '../archive/errors.js';
import type { Pop3Client } from '../pop3/client.js';
import { Pop3ServerError } from '../pop3/errors.js';
import { listedSizeAgrees } from '../pop3/listed-size.js';
import {
  SpoolDiskBudget,
  type SpooledMessage,
  SpoolLimitError,
  spoolMessage,
} from './message-spool.js';
import { persistMessage } from './persist-message.js';
import type { PersistenceQueue } from './persistence-queue.js';
import {
  deletable,
  type ListedMessage,
  type RetrievalPlan,
  receiveLimit,
} from './plan-retrieval.js';
import { PULL_DEFAULTS, type PullOptions, type RunLogger } from './pull-options.js';
import type { PullDeps } from './pull-run.js';
import type { RunState } from './run-state.js';

/** A message archived and safe to DELE, with the index key its record lives under. */
export interface Archived {
  msg: number;
  messageKey: string;
}

/** What the parts of one session share. */
export interface SessionContext {
  options: PullOptions;
  deps: PullDeps;
  runId: string;
  state: RunState;
  logger: RunLogger;
  client: Pop3Client;
  /** DELEs sent, each resolving to what it deleted, or null when it failed. */
  deletions: Array<Promise<Archived | null>>;
  queue: PersistenceQueue;
  spools: Set<SpooledMessage>;
}

/** DELE, as a promise of what it deleted: a -ERR is this message's failure, recorded. */
export function dele(ctx: SessionContext, item: Archived): Promise<Archived | null> {
  return ctx.client.dele(item.msg).then(
    () => item,
    (err: unknown) => {
      // A -ERR is this message's problem; a dead session is the run's, reported once as its error.
      if (err instanceof Pop3ServerError) ctx.state.fail(item.messageKey, err);
      return null;
    },
  );
}

/**
 * RETR each planned message, spool it, and hand it to the persistence queue; DELE follows a
 * message's persistence, never precedes it. Ends early at the time budget, at a fatal error, or at
 * a message whose body cannot be skipped ('without-quit').
 */
export async function retrieveAll(
  ctx: SessionContext,
  plan: RetrievalPlan,
): Promise<'done' | 'without-quit'> {
  const { options, deps, state, client } = ctx;
  const budget = Math.max(0, options.hardDeadline - deps.now());
  const reserve =
    options.finishReserveMs ??
    Math.max(PULL_DEFAULTS.minFinishReserveMs, budget * PULL_DEFAULTS.finishReserveShare);
  const retrieveUntil = options.hardDeadline - reserve;
  const spoolDisk = new SpoolDiskBudget(options.spoolDiskOctets ?? PULL_DEFAULTS.spoolDiskOctets);
  const byMsg = new Map(plan.toRetrieve.map((m) => [m.msg, m]));
  for await (const item of client.retrieveMany(plan.toRetrieve.map((m) => m.msg))) {
    const listed = byMsg.get(item.msg) as ListedMessage;
    const label = listed.uidl ?? `#${item.msg}`;
    if (item.error) {
      state.fail(label, item.error);
      continue;
    }
    if (deps.now() >= retrieveUntil) {
      state.stopReason = 'budget-time';
      item.body.destroy();
      break;
    }
    if (state.fatal !== null) {
      item.body.destroy();
      break;
    }
    const spooled = await spool(ctx, item.body, listed, label, spoolDisk);
    if (spooled === 'skipped') continue;
    if (spooled === 'without-quit') return 'without-quit';
    retrieved(ctx, listed, spooled, label);
    ctx.spools.add(spooled);
    const held =
      spooled.source.kind === 'buffer' ? spooled.octets : PULL_DEFAULTS.spoolFilePersistOctets;
    ctx.queue.add(persist(ctx, listed, spooled), held, () => {
      ctx.spools.delete(spooled);
      return spooled.cleanup();
    });
    await ctx.queue.whenRoom();
  }
  return 'done';
}

/** Spools one body; a message stopped at a limit is a failure, and may end the session. */
async function spool(
  ctx: SessionContext,
  body: Parameters<typeof spoolMessage>[0],
  listed: ListedMessage,
  label: string,
  disk: SpoolDiskBudget,
): Promise<SpooledMessage | 'skipped' | 'without-quit'> {
  const { options, deps, state, logger } = ctx;
  const limit = receiveLimit(options, {
    messages: state.counts.retrieved,
    octets: state.counts.octets,
  });
  try {
    return await spoolMessage(body, {
      directory: deps.spoolDirectory,
      memoryLimitOctets: PULL_DEFAULTS.memorySpoolOctets,
      parser: deps.createParser(),
      maxOctets: limit,
      drainLimitOctets:
        limit + (options.overLimitDrainOctets ?? PULL_DEFAULTS.overLimitDrainOctets),
      disk,
    });
  } catch (err) {
    if (!(err instanceof SpoolLimitError)) throw err;
    // The octets received are what count, whatever LIST said: the message stays on the server.
    state.note({ kind: 'stopped-at-limit', octets: err.octets });
    state.fail(label, err);
    logger.warn('message stopped at a limit while it arrived; left on the server', {
      mailboxId: options.mailboxId,
      msg: listed.msg,
      listedOctets: listed.octets,
      receivedOctets: err.octets,
      errorCode: err.code,
    });
    if (err.drained) return 'skipped';
    // Its body cannot be skipped: end the session here, without QUIT, which deletes nothing.
    state.stopReason = 'message-over-limit';
    ctx.client.close();
    return 'without-quit';
  }
}

/** Counts a message received whole, and checks its size against LIST. */
function retrieved(
  ctx: SessionContext,
  listed: ListedMessage,
  spooled: SpooledMessage,
  label: string,
): void {
  const { state } = ctx;
  if (state.session && !listedSizeAgrees(listed.octets, spooled.octets, spooled.lineEnds)) {
    state.session.sizeMismatches += 1;
    // Numbers and sizes only: never the message's content or headers.
    ctx.logger.warn('octets received disagree with the size LIST gave', {
      mailboxId: ctx.options.mailboxId,
      msg: listed.msg,
      listedOctets: listed.octets,
      receivedOctets: spooled.octets,
    });
  }
  state.note({ kind: 'retrieved', messageKey: label, octets: spooled.octets });
}

/**
 * Persists one message, then, only once its raw object and index record are both acknowledged,
 * sends its DELE if the policy allows. A failure leaves it on the server; a systemic one ends the run.
 */
async function persist(
  ctx: SessionContext,
  listed: ListedMessage,
  spooled: SpooledMessage,
): Promise<void> {
  const { options, deps, state } = ctx;
  const result = await persistMessage(listed, spooled, {
    rawStore: deps.rawStore,
    index: deps.index,
    mailboxId: options.mailboxId,
    runId: ctx.runId,
    now: deps.now,
  });
  if (!result.ok) {
    state.fail(result.label, result.error);
    if (result.error instanceof ArchiveError && result.error.systemic) state.fatal ??= result.error;
    return;
  }
  if (result.created) {
    state.note(
      result.variant
        ? { kind: 'stored-variant' }
        : { kind: 'stored', messageKey: result.messageKey, octets: spooled.octets },
    );
  } else {
    state.note({ kind: 'already-stored' });
  }
  if (deletable(options.policy, null, deps.now())) {
    ctx.deletions.push(dele(ctx, { msg: listed.msg, messageKey: result.messageKey }));
  }
}
