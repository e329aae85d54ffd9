/**
 * What one chaos run does, drawn from its seeded generator before anything starts: how much mail is
 * in the mailbox, which single fault strikes the faulted pull, and how much new mail arrives before
 * the recovery pulls. Drawing the whole plan first keeps a run replayable from (seed, run number)
 * alone, whatever earlier runs did.
 */
import type { SeededRandom } from '../support/seeded-random.js';

export type Direction = 'client-to-server' | 'server-to-client';

/** Faults the TCP proxy between the pull and the POP3 server applies. */
export type ProxyFault =
  /** SIGKILL the pull once this many octets (both directions together) have passed. */
  | { kind: 'kill-at-byte'; offset: number }
  /** SIGKILL the pull as soon as the reply to its n-th DELE has been passed on. */
  | { kind: 'kill-after-dele-reply'; dele: number }
  /** SIGKILL the pull when it sends QUIT, before the server sees it: after every DELE's reply. */
  | { kind: 'kill-before-quit' }
  /** Pass QUIT to the server (which then expunges), withhold its reply, SIGKILL the pull. */
  | { kind: 'kill-after-quit-sent' }
  /** Close both connections once `offset` octets have passed in `direction`. */
  | { kind: 'cut-at-byte'; offset: number; direction: Direction }
  /** Stop passing anything on, both ways, once `offset` octets have passed in `direction`. */
  | { kind: 'stall-at-byte'; offset: number; direction: Direction }
  /** Deliver `messages` new messages once `offset` octets have passed (Dovecot only). */
  | { kind: 'deliver-during-run'; offset: number; messages: number };

export type StorageTarget =
  | 'raw-put'
  | 'multipart-part'
  | 'index-put'
  | 'mark-deleted'
  | 'lease-renewal'
  | 'run-record';

/** A storage call failing at once, or hanging `hangMs` and then failing as an SDK timeout would. */
export interface StorageFault {
  kind: 'storage-fail' | 'storage-hang';
  target: StorageTarget;
  /** Which call of that target fails (1 = the first). */
  call: number;
  hangMs: number;
}

export type Fault =
  | ProxyFault
  | StorageFault
  /** Two pulls of the same mailbox started together. */
  | { kind: 'concurrent-runs' }
  /** The local archive on a tmpfs of this many octets, in a private mount namespace. */
  | { kind: 'disk-full'; octets: number };

export type FaultKind = Fault['kind'];

export interface RunPlan {
  index: number;
  /** Sizes of the messages in the mailbox before the faulted pull. */
  initialSizes: number[];
  fault: Fault;
  /** New messages delivered after the faulted pull, before the first recovery pull. */
  deliveredBetween: number;
}

export interface PlanContext {
  archive: 'local' | 'aws';
  /** Delivery during a session is only drawn for Dovecot, whose Maildir takes a file at any time. */
  deliverDuringRun: boolean;
  diskFull: boolean;
}

/** Above S3RawStore's 5 MiB minimum part, so a multipart fault has two parts to strike. */
export const MULTIPART_MESSAGE_OCTETS = 5 * 1024 * 1024 + 300 * 1024;
/** Rough POP3 overhead of a session besides the messages themselves (greeting, login, listings). */
const SESSION_OVERHEAD_OCTETS = 300;
const PER_MESSAGE_OVERHEAD_OCTETS = 80;

function messageSize(random: SeededRandom): number {
  const roll = random.next();
  if (roll < 0.6) return random.int(150, 3_000);
  if (roll < 0.95) return random.int(3_000, 60_000);
  return random.int(60_000, 400_000);
}

export function drawPlan(random: SeededRandom, index: number, context: PlanContext): RunPlan {
  const kinds: FaultKind[] = [
    'kill-at-byte',
    'kill-at-byte',
    'kill-after-dele-reply',
    'kill-before-quit',
    'kill-after-quit-sent',
    'cut-at-byte',
    'stall-at-byte',
    'storage-fail',
    'storage-hang',
    'concurrent-runs',
  ];
  if (context.deliverDuringRun) kinds.push('deliver-during-run');
  if (context.diskFull && context.archive === 'local') kinds.push('disk-full');
  const kind = random.pick(kinds);
  const initialSizes = Array.from({ length: random.int(1, 12) }, () => messageSize(random));
  const sessionOctets = (): number =>
    SESSION_OVERHEAD_OCTETS +
    initialSizes.reduce((sum, size) => sum + size + PER_MESSAGE_OVERHEAD_OCTETS, 0);
  const direction = (): Direction => (random.chance(0.5) ? 'client-to-server' : 'server-to-client');
  const offsetIn = (d: Direction): number =>
    d === 'server-to-client'
      ? random.int(0, sessionOctets())
      : random.int(0, SESSION_OVERHEAD_OCTETS + initialSizes.length * 30);
  let fault: Fault;
  switch (kind) {
    case 'kill-at-byte':
      fault = { kind, offset: random.int(0, sessionOctets()) };
      break;
    case 'kill-after-dele-reply':
      fault = { kind, dele: random.int(1, initialSizes.length) };
      break;
    case 'cut-at-byte':
    case 'stall-at-byte': {
      const d = direction();
      fault = { kind, direction: d, offset: offsetIn(d) };
      break;
    }
    case 'deliver-during-run':
      fault = { kind, offset: random.int(0, sessionOctets()), messages: random.int(1, 3) };
      break;
    case 'storage-fail':
    case 'storage-hang': {
      const targets: StorageTarget[] = [
        'raw-put',
        'index-put',
        'mark-deleted',
        'lease-renewal',
        'run-record',
      ];
      if (context.archive === 'aws') targets.push('multipart-part');
      const target = random.pick(targets);
      if (target === 'multipart-part') initialSizes.push(MULTIPART_MESSAGE_OCTETS);
      // Raw and index puts happen once per message; a run renews its lease a few times; it marks
      // deleted and writes its record once (the first call is the one that matters).
      const calls =
        target === 'raw-put' || target === 'index-put'
          ? initialSizes.length
          : target === 'lease-renewal' || target === 'multipart-part'
            ? 2
            : 1;
      fault = { kind, target, call: random.int(1, calls), hangMs: random.int(1_000, 3_000) };
      break;
    }
    case 'disk-full':
      // Room for the empty index and part of the mail: it fills during a raw write or a commit.
      fault = {
        kind,
        octets:
          random.int(24, 96) * 1024 +
          random.int(
            0,
            initialSizes.reduce((a, b) => a + b, 0),
          ),
      };
      break;
    default:
      fault = { kind } as Fault;
  }
  const deliveredBetween = random.chance(0.5) ? random.int(1, 4) : 0;
  return { index, initialSizes, fault, deliveredBetween };
}

/** One line for the log and the report. */
export function describeFault(fault: Fault): string {
  const { kind, ...rest } = fault;
  const details = Object.entries(rest)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return details === '' ? kind : `${kind} ${details}`;
}
