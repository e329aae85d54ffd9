import type {
  MessageIndex,
  MessageMetadata,
  MessageRecord,
  RawStore,
  RunCounts,
  RunOutcome,
  RunRecord,
  RunSession,
} from '../archive/ports.js';
import { EMPTY_METADATA } from '../message/empty-metadata.js';
import { Pop3Client, type Pop3ClientOptions } from '../pop3/client.js';
import { Pop3Error, Pop3ProtocolError, Pop3ServerError } from '../pop3/errors.js';
import { listedSizeAgrees, listedSizesSuspect } from '../pop3/listed-size.js';
import {
  type MessageParser,
  SpoolDiskBudget,
  type SpooledMessage,
  SpoolLimitError,
  spoolMessage,
} from './message-spool.js';
import {
  type CredentialsSource,
  PULL_DEFAULTS,
  type PullOptions,
  type RunLogger,
  SILENT_LOGGER,
} from './pull-options.js';

export interface PullDeps {
  rawStore: RawStore;
  index: MessageIndex;
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
}

export interface LeaseIdentity {
  /** The lease owner this run writes (it must contain the run id, so every run's is unique). */
  ownerFor(runId: string): string;
  /** True only when the owner's process is certainly gone; false when unsure. */
  isProvablyDead(owner: string): boolean;
}

export type PullProgress =
  | { kind: 'listed'; messages: number; toRetrieve: number; octets: number }
  | { kind: 'retrieved'; messageKey: string; octets: number }
  | { kind: 'stored'; messageKey: string; octets: number }
  /** Retrieval waits for storage: this many messages, holding this much memory, are being persisted. */
  | { kind: 'waiting'; persisting: number; heldOctets: number }
  | { kind: 'quit'; deleted: number }
  /** The mailbox's lease was held by a run proved dead, and this run took it over. */
  | { kind: 'lease-taken-over'; previousOwner: string };

interface ListedMessage {
  msg: number;
  uidl: string | null;
  octets: number;
}

/** A message archived and safe to DELE, with the index key its record lives under. */
interface Archived {
  msg: number;
  messageKey: string;
}

/**
 * The run's own reasons to end as "try again later". POP3 and credential errors carry their own
 * `temporary` flag (Pop3Error, CredentialsError), so they are not listed again here.
 */
const RUN_RETRY_LATER_CODES = new Set(['LEASE_HELD', 'LEASE_LOST']);

function retryLater(err: unknown): boolean {
  if (err && typeof err === 'object' && 'temporary' in err && typeof err.temporary === 'boolean') {
    return err.temporary;
  }
  return RUN_RETRY_LATER_CODES.has(errorCode(err));
}

const DAY_MS = 24 * 60 * 60 * 1000;

function errorCode(err: unknown): string {
  if (err instanceof Pop3Error) return err.code;
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string')
    return err.code;
  return 'INTERNAL_ERROR';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A storage failure that will fail every message alike (access denied, no such bucket or table). */
function isSystemic(err: unknown): boolean {
  return Boolean(err && typeof err === 'object' && 'systemic' in err && err.systemic === true);
}

class RunState {
  readonly counts: RunCounts = {
    listed: 0,
    retrieved: 0,
    stored: 0,
    alreadyStored: 0,
    deleted: 0,
    skipped: 0,
    failed: 0,
    octets: 0,
    remainingOnServer: 0,
  };
  readonly failures: RunRecord['failures'] = [];
  stopReason: string | null = null;
  fatal: unknown = null;
  /** Set once logged in. */
  session: RunSession | null = null;
  /** Drops the POP3 session without QUIT; set once the session is open. */
  abort: () => void = () => {};

  fail(messageKey: string, err: unknown): void {
    this.counts.failed += 1;
    if (this.failures.length < PULL_DEFAULTS.maxFailuresRecorded) {
      this.failures.push({
        messageKey,
        errorCode: errorCode(err),
        message: errorMessage(err).slice(0, 500),
      });
    }
  }
}

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
  const state = new RunState();
  const { mailboxId } = options;
  const finish = async (outcome: RunOutcome, err: unknown): Promise<RunRecord> => {
    const record: RunRecord = {
      mailboxId,
      runId,
      startedAt: new Date(startedAt).toISOString(),
      endedAt: new Date(deps.now()).toISOString(),
      outcome,
      counts: state.counts,
      stopReason: state.stopReason,
      errorCode: err === null ? null : errorCode(err),
      errorMessage: err === null ? null : errorMessage(err).slice(0, 1000),
      failures: state.failures,
      session:
        state.session === null
          ? null
          : {
              ...state.session,
              sizesSuspect: listedSizesSuspect(
                state.session.sizeMismatches,
                state.counts.retrieved,
              ),
            },
    };
    try {
      await deps.index.putRun(record);
    } catch (putErr) {
      logger.error('could not write the run record', {
        mailboxId,
        runId,
        errorCode: errorCode(putErr),
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
  };

  const leaseTtlMs = options.leaseTtlMs ?? PULL_DEFAULTS.leaseTtlMs;
  const identity = deps.leaseIdentity;
  const lease = { mailboxId, owner: identity?.ownerFor(runId) ?? runId, ttlMs: leaseTtlMs };
  let leased = await deps.index.acquireLease({ ...lease, now: startedAt });
  if (!leased && identity !== undefined) {
    // A holder proved dead on this machine (killed, crashed, rebooted away) cannot renew or use
    // its lease: waiting for it to expire only locks the mailbox for nothing.
    const holder = await deps.index.leaseHolder(mailboxId);
    if (holder !== null && identity.isProvablyDead(holder.owner)) {
      leased = await deps.index.acquireLease({
        ...lease,
        now: startedAt,
        takeOverFrom: holder.owner,
      });
      if (leased) {
        logger.warn('took over the lease of a run that is no longer alive', {
          mailboxId,
          previousOwner: holder.owner,
        });
        deps.onProgress?.({ kind: 'lease-taken-over', previousOwner: holder.owner });
      }
    }
  }
  if (!leased) {
    const held = Object.assign(
      new Error(
        `another run holds the lease on mailbox ${mailboxId}; it ends, or expires within ${leaseTtlMs / 1000} s of that run dying`,
      ),
      { code: 'LEASE_HELD' },
    );
    return finish('retry-later', held);
  }
  const renewal = setInterval(() => {
    deps.index.acquireLease({ ...lease, now: deps.now() }).then(
      (held) => {
        if (held) return;
        // Another run took the mailbox over (we stalled past the lease): stop without QUIT, which
        // deletes nothing, rather than race it.
        const lost = Object.assign(
          new Error(`the lease on mailbox ${mailboxId} was lost to another run`),
          {
            code: 'LEASE_LOST',
          },
        );
        state.fatal ??= lost;
        state.abort();
      },
      (err: unknown) => {
        logger.warn('could not renew the lease; retrying', {
          mailboxId,
          errorCode: errorCode(err),
        });
      },
    );
  }, leaseTtlMs / 3);
  renewal.unref();

  try {
    await session(options, deps, runId, state, logger);
  } catch (err) {
    state.fatal ??= err;
  } finally {
    clearInterval(renewal);
    await deps.index.releaseLease(mailboxId, lease.owner).catch((err: unknown) => {
      logger.warn('could not release the lease; it will expire by itself', {
        mailboxId,
        errorCode: errorCode(err),
      });
    });
  }
  const err = state.fatal;
  if (err !== null) {
    if (err instanceof Pop3Error && err.code === 'AUTH_FAILED') deps.credentials.invalidate?.();
    return finish(retryLater(err) ? 'retry-later' : 'failed', err);
  }
  return finish(state.counts.failed > 0 || state.stopReason !== null ? 'partial' : 'success', null);
}

async function session(
  options: PullOptions,
  deps: PullDeps,
  runId: string,
  state: RunState,
  logger: RunLogger,
): Promise<void> {
  const { mailboxId, policy } = options;
  const counts = state.counts;
  const budget = Math.max(0, options.hardDeadline - deps.now());
  const reserve =
    options.finishReserveMs ??
    Math.max(PULL_DEFAULTS.minFinishReserveMs, budget * PULL_DEFAULTS.finishReserveShare);
  const retrieveUntil = options.hardDeadline - reserve;

  const credentials = await deps.credentials.get();
  const connect = deps.connect ?? ((o: Pop3ClientOptions) => Pop3Client.connect(o));
  const client = await connect({
    ...options.server,
    credentials,
    // The run's clock is injectable; the socket timer runs on the wall clock, so pass the time left.
    deadline: Date.now() + (options.hardDeadline - deps.now()) - PULL_DEFAULTS.sessionMarginMs,
  });
  state.abort = () => client.close();
  const sessionRecord: RunSession = {
    utf8: client.utf8Mode,
    sizeMismatches: 0,
    sizesSuspect: false,
  };
  state.session = sessionRecord;
  if (client.utf8Mode === 'refused') {
    logger.warn(
      'the server lists UTF8 but refused it: mail with raw UTF-8 headers may be served altered',
      { mailboxId },
    );
  }
  let quitDone = false;
  let endedWithoutQuit = false;
  const spoolDisk = new SpoolDiskBudget(options.spoolDiskOctets ?? PULL_DEFAULTS.spoolDiskOctets);
  const spools = new Set<SpooledMessage>();
  const inFlight = new Set<Promise<void>>();
  let memoryHeld = 0;
  const persistConcurrency = options.persistConcurrency ?? PULL_DEFAULTS.persistConcurrency;
  try {
    const hasUidl = !client.capabilities.supported || client.capabilities.has('UIDL');
    const noUidl = (): Error =>
      Object.assign(
        new Error(
          `policy "${policy.kind}" needs a server with UIDL to recognise messages across runs, and ${options.server.host} has none; use policy "delete"`,
        ),
        { code: 'CAPABILITY_MISSING' },
      );
    if (policy.kind !== 'delete' && !hasUidl) throw noUidl();
    if (policy.kind !== 'delete' && client.capabilities.expiresImmediately) {
      logger.warn(
        'the server announces EXPIRE 0: it deletes retrieved mail itself, so keep cannot hold',
        {
          mailboxId,
        },
      );
    }
    const listing = await listMessages(client, hasUidl, policy.kind === 'delete', noUidl);
    const listed = listing.messages;
    counts.listed = listing.serverCount;
    for (const bad of listing.unusable) state.fail(bad.key, bad.error);
    if (listing.capped) {
      state.stopReason ??= 'listing-capped';
      logger.warn('the listing has more entries than are read in one run; the rest wait', {
        mailboxId,
        listed: listing.serverCount,
        kept: listed.length,
      });
    }

    const uidlCounts = new Map<string, number>();
    for (const m of listed)
      if (m.uidl !== null) uidlCounts.set(m.uidl, (uidlCounts.get(m.uidl) ?? 0) + 1);
    const known = await deps.index.getMessages(mailboxId, [...uidlCounts.keys()]);

    const deletable = (record: MessageRecord | null): boolean => {
      if (policy.kind === 'delete') return true;
      if (policy.kind === 'keep') return false;
      const archivedAt = record ? Date.parse(record.archivedAt) : deps.now();
      return archivedAt + policy.days * DAY_MS <= deps.now();
    };

    const archived: Archived[] = [];
    const dele = (item: Archived): Promise<Archived | null> =>
      client.dele(item.msg).then(
        () => item,
        (err: unknown) => {
          // A -ERR is this message's problem; a dead session is the run's, reported once as its error.
          if (err instanceof Pop3ServerError) state.fail(item.messageKey, err);
          return null;
        },
      );
    const deletions: Array<Promise<Archived | null>> = [];
    const toRetrieve: ListedMessage[] = [];
    let plannedOctets = 0;
    for (const m of listed) {
      const record = m.uidl === null ? undefined : known.get(m.uidl);
      // A UIDL listed twice may name two different messages: retrieve both and let the hash decide.
      const duplicate = m.uidl !== null && (uidlCounts.get(m.uidl) ?? 0) > 1;
      if (record && !duplicate) {
        counts.alreadyStored += 1;
        if (deletable(record)) deletions.push(dele({ msg: m.msg, messageKey: record.messageKey }));
        continue;
      }
      if (
        options.maxMessageBytes !== undefined &&
        m.octets > options.maxMessageBytes &&
        options.oversize !== 'store'
      ) {
        counts.skipped += 1;
        logger.warn('message over the size limit left on the server', {
          mailboxId,
          msg: m.msg,
          octets: m.octets,
        });
        continue;
      }
      if (
        options.maxMessagesPerRun !== undefined &&
        toRetrieve.length >= options.maxMessagesPerRun
      ) {
        state.stopReason ??= 'budget-messages';
        continue;
      }
      if (
        options.maxBytesPerRun !== undefined &&
        plannedOctets + m.octets > options.maxBytesPerRun &&
        toRetrieve.length > 0
      ) {
        state.stopReason ??= 'budget-octets';
        continue;
      }
      plannedOctets += m.octets;
      toRetrieve.push(m);
    }

    const byMsg = new Map(toRetrieve.map((m) => [m.msg, m]));
    deps.onProgress?.({
      kind: 'listed',
      messages: listed.length,
      toRetrieve: toRetrieve.length,
      octets: plannedOctets,
    });
    for await (const item of client.retrieveMany(toRetrieve.map((m) => m.msg))) {
      const listedMessage = byMsg.get(item.msg) as ListedMessage;
      const label = listedMessage.uidl ?? `#${item.msg}`;
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
      const limit = receiveLimit(options, counts);
      let spooled: SpooledMessage;
      try {
        spooled = await spoolMessage(item.body, {
          directory: deps.spoolDirectory,
          memoryLimitOctets: PULL_DEFAULTS.memorySpoolOctets,
          parser: deps.createParser(),
          maxOctets: limit,
          drainLimitOctets:
            limit + (options.overLimitDrainOctets ?? PULL_DEFAULTS.overLimitDrainOctets),
          disk: spoolDisk,
        });
      } catch (err) {
        if (!(err instanceof SpoolLimitError)) throw err;
        // The octets received are what count, whatever LIST said: the message stays on the server.
        counts.octets += err.octets;
        state.fail(label, err);
        logger.warn('message stopped at a limit while it arrived; left on the server', {
          mailboxId,
          msg: item.msg,
          listedOctets: listedMessage.octets,
          receivedOctets: err.octets,
          errorCode: err.code,
        });
        if (!err.drained) {
          // Its body cannot be skipped: end the session here, without QUIT, which deletes nothing.
          state.stopReason = 'message-over-limit';
          endedWithoutQuit = true;
          client.close();
          break;
        }
        continue;
      }
      spools.add(spooled);
      counts.retrieved += 1;
      if (!listedSizeAgrees(listedMessage.octets, spooled.octets, spooled.lineEnds)) {
        sessionRecord.sizeMismatches += 1;
        // Numbers and sizes only: never the message's content or headers.
        logger.warn('octets received disagree with the size LIST gave', {
          mailboxId,
          msg: item.msg,
          listedOctets: listedMessage.octets,
          receivedOctets: spooled.octets,
        });
      }
      counts.octets += spooled.octets;
      deps.onProgress?.({ kind: 'retrieved', messageKey: label, octets: spooled.octets });
      const held =
        spooled.source.kind === 'buffer' ? spooled.octets : PULL_DEFAULTS.spoolFilePersistOctets;
      memoryHeld += held;
      const task = persist(listedMessage, spooled, options, deps, runId, state)
        .then((messageKey) => {
          if (messageKey !== null && deletable(null))
            deletions.push(dele({ msg: item.msg, messageKey }));
        })
        .finally(() => {
          spools.delete(spooled);
          inFlight.delete(task);
          memoryHeld -= held;
          return spooled.cleanup();
        });
      inFlight.add(task);
      while (
        inFlight.size >= persistConcurrency ||
        (memoryHeld > PULL_DEFAULTS.persistMemoryOctets && inFlight.size > 0)
      ) {
        deps.onProgress?.({ kind: 'waiting', persisting: inFlight.size, heldOctets: memoryHeld });
        await Promise.race(inFlight);
      }
    }
    await Promise.all(inFlight);
    if (endedWithoutQuit) return;
    if (state.fatal !== null) throw state.fatal;

    // Every DELE is in; only now may QUIT commit them (RFC 1939 s.6).
    for (const done of await Promise.all(deletions)) if (done) archived.push(done);
    await client.quit();
    quitDone = true;
    deps.onProgress?.({ kind: 'quit', deleted: archived.length });
    counts.deleted = archived.length;
    counts.remainingOnServer = counts.listed - archived.length;
    if (archived.length > 0) {
      // The mail is archived and gone from the server; a missing flag costs nothing, so no failure.
      await deps.index
        .markDeleted(
          mailboxId,
          archived.map((a) => a.messageKey),
          new Date(deps.now()).toISOString(),
        )
        .catch((err: unknown) => {
          logger.warn('could not mark records deleted-from-server', {
            mailboxId,
            errorCode: errorCode(err),
          });
        });
    }
  } finally {
    // Persistence still running after a failure must finish (or fail) before its spool goes away.
    await Promise.allSettled([...inFlight]);
    if (!quitDone) {
      // Dropping the connection without QUIT deletes nothing: the safe end of any failure.
      client.close();
      counts.remainingOnServer = counts.listed;
    }
    await Promise.all([...spools].map((s) => s.cleanup()));
  }
}

/**
 * The most octets the next message may have, counted as they arrive: the message size limit (when
 * oversize mail is to be skipped) and what is left of the per-run byte cap (the first message may
 * pass the cap alone, as when the run is planned from LIST).
 */
function receiveLimit(options: PullOptions, counts: RunCounts): number {
  let limit = Number.POSITIVE_INFINITY;
  if (options.maxMessageBytes !== undefined && options.oversize !== 'store') {
    limit = options.maxMessageBytes;
  }
  if (options.maxBytesPerRun !== undefined && counts.retrieved > 0) {
    limit = Math.min(limit, Math.max(0, options.maxBytesPerRun - counts.octets));
  }
  return limit;
}

interface ListedMailbox {
  /** Messages this run may retrieve or delete. */
  messages: ListedMessage[];
  /** Messages the server listed, malformed lines and entries past the cap included. */
  serverCount: number;
  /** Lines that did not parse: each message named is left alone, and recorded as a failure. */
  unusable: Array<{ key: string; error: Pop3ProtocolError }>;
  /** Some entries were past the listing cap (MAX_LISTING_ENTRIES) and wait for a later run. */
  capped: boolean;
}

async function listMessages(
  client: Pop3Client,
  hasUidl: boolean,
  uidlOptional: boolean,
  noUidl: () => Error,
): Promise<ListedMailbox> {
  // UIDL goes first (both are pipelined, so it costs nothing): GNU Mailutils pop3d 3.15 adds an
  // X-UIDL header to a message the first time it lists its UIDL, and serves and lists it with that
  // header from then on; a LIST sent before the UIDL would give sizes 55-57 octets short of what
  // RETR then serves.
  const uids = hasUidl
    ? client.uidListing().catch((err: unknown) => {
        // A server without CAPA may still lack UIDL: delete mode can do without it, the others
        // get the same clear refusal as when CAPA says so.
        if (err instanceof Pop3Error && err.code === 'COMMAND_FAILED') {
          if (uidlOptional) return null;
          throw noUidl();
        }
        throw err;
      })
    : Promise.resolve(null);
  const [scan, uidList] = await Promise.all([client.scanListing(), uids]);
  const unusable: ListedMailbox['unusable'] = [];
  const excluded = new Set<number>();
  for (const [verb, listing] of [
    ['LIST', scan],
    ['UIDL', uidList],
  ] as const) {
    if (listing === null) continue;
    for (const bad of listing.malformed) {
      if (bad.msg !== null) excluded.add(bad.msg);
      unusable.push({
        key: bad.msg === null ? verb : `#${bad.msg}`,
        error: new Pop3ProtocolError('PROTOCOL_VIOLATION', `malformed ${verb} line ${bad.line}`),
      });
    }
    // Lines past the ones kept are counted, not listed: they are failures all the same.
    const unkept = listing.malformedCount - listing.malformed.length;
    if (unkept > 0) {
      unusable.push({
        key: verb,
        error: new Pop3ProtocolError(
          'PROTOCOL_VIOLATION',
          `${unkept} more malformed ${verb} lines`,
        ),
      });
    }
  }
  const uidOf = new Map((uidList?.entries ?? []).map((u) => [u.msg, u.uid]));
  const uidsComplete = uidList === null || uidList.dropped === 0;
  const messages: ListedMessage[] = [];
  for (const s of scan.entries) {
    if (excluded.has(s.msg)) continue;
    const uidl = uidOf.get(s.msg) ?? null;
    // Past the UIDL cap a message's id is unknown, not absent: leave it for a later run.
    if (uidl === null && !uidsComplete) continue;
    messages.push({ msg: s.msg, octets: s.octets, uidl });
  }
  return {
    messages,
    serverCount: scan.entries.length + scan.dropped + scan.malformedCount,
    unusable,
    capped: scan.dropped > 0 || !uidsComplete,
  };
}

/**
 * Uploads the raw bytes, then writes the index record. Returns the key of the record that now
 * describes these exact bytes (so the message may be deleted), or null if anything failed.
 */
async function persist(
  listed: ListedMessage,
  spooled: SpooledMessage,
  options: PullOptions,
  deps: PullDeps,
  runId: string,
  state: RunState,
): Promise<string | null> {
  const label = listed.uidl ?? `sha256:${spooled.sha256}`;
  try {
    const raw = await deps.rawStore.put({
      mailboxId: options.mailboxId,
      sha256: spooled.sha256,
      octets: spooled.octets,
      source: spooled.source,
    });
    const metadata = await spooled.metadata.catch(
      (err: unknown): MessageMetadata => ({
        ...EMPTY_METADATA,
        parseError: `parser failed: ${errorMessage(err).slice(0, 200)}`,
      }),
    );
    const record: MessageRecord = {
      ...metadata,
      mailboxId: options.mailboxId,
      messageKey: label,
      uidl: listed.uidl,
      octets: spooled.octets,
      sha256: spooled.sha256,
      rawKey: raw.key,
      archivedAt: new Date(deps.now()).toISOString(),
      runId,
      deletedFromServerAt: null,
    };
    const first = await deps.index.putMessage(record);
    if (first.created) {
      state.counts.stored += 1;
      deps.onProgress?.({ kind: 'stored', messageKey: label, octets: spooled.octets });
      return label;
    }
    if (first.existing.sha256 === spooled.sha256) {
      state.counts.alreadyStored += 1;
      return first.existing.messageKey;
    }
    // The UIDL already names other bytes (a reused or duplicated UIDL): keep both, apart.
    const variantKey = `${label}#sha256:${spooled.sha256}`;
    const second = await deps.index.putMessage({ ...record, messageKey: variantKey });
    if (second.created) state.counts.stored += 1;
    else state.counts.alreadyStored += 1;
    return variantKey;
  } catch (err) {
    state.fail(label, err);
    if (isSystemic(err)) state.fatal ??= err;
    return null;
  }
}
