import type { MessageRecord } from '../archive/ports.js';
import type { PullOptions, ServerPolicy } from './pull-options.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** One message as LIST and UIDL gave it. */
export interface ListedMessage {
  msg: number;
  uidl: string | null;
  octets: number;
}

/** The per-message and per-run limits a plan respects. */
export type RetrievalCaps = Pick<
  PullOptions,
  'maxMessageBytes' | 'oversize' | 'maxMessagesPerRun' | 'maxBytesPerRun'
>;

export type RetrievalStop = 'budget-messages' | 'budget-octets';

export interface RetrievalPlan {
  /** Messages to RETR, in listing order. */
  toRetrieve: ListedMessage[];
  /** Their listed octets together. */
  plannedOctets: number;
  /** Messages already archived under a record: DELE them now if `deletable`. */
  alreadyArchived: Array<{ msg: number; messageKey: string; deletable: boolean }>;
  /** Messages over the size limit, left on the server. */
  oversize: ListedMessage[];
  /** Why some messages wait for a later run, if any do. */
  stopReason: RetrievalStop | null;
}

/**
 * Whether the policy lets a message be deleted now: `archivedAt` is when its record was written
 * (epoch ms), null for one being archived by this run.
 */
export function deletable(policy: ServerPolicy, archivedAt: number | null, now: number): boolean {
  if (policy.kind === 'delete') return true;
  if (policy.kind === 'keep') return false;
  return (archivedAt ?? now) + policy.days * DAY_MS <= now;
}

/**
 * Decides, from the listing and the records already in the index, what this run retrieves, what it
 * may delete without retrieving, and what waits. Pure: no I/O, the clock passed in.
 */
export function planRetrieval(
  listed: readonly ListedMessage[],
  known: ReadonlyMap<string, MessageRecord>,
  policy: ServerPolicy,
  caps: RetrievalCaps,
  now: number,
): RetrievalPlan {
  const uidlCounts = new Map<string, number>();
  for (const m of listed)
    if (m.uidl !== null) uidlCounts.set(m.uidl, (uidlCounts.get(m.uidl) ?? 0) + 1);
  const plan: RetrievalPlan = {
    toRetrieve: [],
    plannedOctets: 0,
    alreadyArchived: [],
    oversize: [],
    stopReason: null,
  };
  for (const m of listed) {
    const record = m.uidl === null ? undefined : known.get(m.uidl);
    // A UIDL listed twice may name two different messages: retrieve both and let the hash decide.
    const duplicate = m.uidl !== null && (uidlCounts.get(m.uidl) ?? 0) > 1;
    if (record && !duplicate) {
      const archivedAt = Date.parse(record.archivedAt);
      plan.alreadyArchived.push({
        msg: m.msg,
        messageKey: record.messageKey,
        deletable: deletable(policy, archivedAt, now),
      });
      continue;
    }
    if (
      caps.maxMessageBytes !== undefined &&
      m.octets > caps.maxMessageBytes &&
      caps.oversize !== 'store'
    ) {
      plan.oversize.push(m);
      continue;
    }
    if (caps.maxMessagesPerRun !== undefined && plan.toRetrieve.length >= caps.maxMessagesPerRun) {
      plan.stopReason ??= 'budget-messages';
      continue;
    }
    if (
      caps.maxBytesPerRun !== undefined &&
      plan.plannedOctets + m.octets > caps.maxBytesPerRun &&
      plan.toRetrieve.length > 0
    ) {
      plan.stopReason ??= 'budget-octets';
      continue;
    }
    plan.plannedOctets += m.octets;
    plan.toRetrieve.push(m);
  }
  return plan;
}

/**
 * The most octets the next message may have, counted as they arrive: the message size limit (when
 * oversize mail is to be skipped) and what is left of the per-run byte cap (the first message may
 * pass the cap alone, as when the run is planned from LIST).
 */
export function receiveLimit(
  caps: RetrievalCaps,
  received: { messages: number; octets: number },
): number {
  let limit = Number.POSITIVE_INFINITY;
  if (caps.maxMessageBytes !== undefined && caps.oversize !== 'store') {
    limit = caps.maxMessageBytes;
  }
  if (caps.maxBytesPerRun !== undefined && received.messages > 0) {
    limit = Math.min(limit, Math.max(0, caps.maxBytesPerRun - received.octets));
  }
  return limit;
}
