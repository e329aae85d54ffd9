import type { RunCounts } from '../archive/ports.js';

export type PullProgress =
  | { kind: 'listed'; messages: number; toRetrieve: number; octets: number }
  | { kind: 'retrieved'; messageKey: string; octets: number }
  | { kind: 'stored'; messageKey: string; octets: number }
  /** Retrieval waits for storage: this many messages, holding this much memory, are being persisted. */
  | { kind: 'waiting'; persisting: number; heldOctets: number }
  | { kind: 'quit'; deleted: number }
  /** The mailbox's lease was held by a run proved dead, and this run took it over. */
  | { kind: 'lease-taken-over'; previousOwner: string };

/**
 * What a run notes as it goes: the progress it reports (PullProgress), and what it counts without
 * reporting it. The counts are these events reduced, so nothing else writes them.
 */
export type RunEvent =
  | PullProgress
  /** The server's own count: malformed lines and entries past the listing cap included. */
  | { kind: 'server-listed'; messages: number }
  | { kind: 'already-stored' }
  /** Over the size limit by LIST, left on the server. */
  | { kind: 'oversize' }
  | { kind: 'failed' }
  /** A message stopped at a limit while it arrived: its octets count, whatever LIST said. */
  | { kind: 'stopped-at-limit'; octets: number }
  /** A second record for bytes a reused UIDL already names (not reported as progress). */
  | { kind: 'stored-variant' }
  /** The session ended without QUIT: nothing was deleted. */
  | { kind: 'ended-without-quit' };

export const NO_COUNTS: RunCounts = {
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

/** The counts after one more event. */
export function countEvent(counts: RunCounts, event: RunEvent): RunCounts {
  switch (event.kind) {
    case 'server-listed':
      return { ...counts, listed: event.messages };
    case 'already-stored':
      return { ...counts, alreadyStored: counts.alreadyStored + 1 };
    case 'oversize':
      return { ...counts, skipped: counts.skipped + 1 };
    case 'failed':
      return { ...counts, failed: counts.failed + 1 };
    case 'stopped-at-limit':
      return { ...counts, octets: counts.octets + event.octets };
    case 'retrieved':
      return { ...counts, retrieved: counts.retrieved + 1, octets: counts.octets + event.octets };
    case 'stored':
    case 'stored-variant':
      return { ...counts, stored: counts.stored + 1 };
    case 'quit':
      return {
        ...counts,
        deleted: event.deleted,
        remainingOnServer: counts.listed - event.deleted,
      };
    case 'ended-without-quit':
      return { ...counts, remainingOnServer: counts.listed };
    case 'listed':
    case 'waiting':
    case 'lease-taken-over':
      return counts;
  }
}

const PROGRESS_KINDS: ReadonlySet<RunEvent['kind']> = new Set<PullProgress['kind']>([
  'listed',
  'retrieved',
  'stored',
  'waiting',
  'quit',
  'lease-taken-over',
]);

export function isProgress(event: RunEvent): event is PullProgress {
  return PROGRESS_KINDS.has(event.kind);
}
