import type { PullProgress } from '../core/pull/pull-run.js';

type Out = NodeJS.WritableStream & { isTTY?: boolean };

export interface ProgressReporter {
  onProgress: (event: PullProgress) => void;
  done(): void;
}

const BAR_WIDTH = 24;
/** Redraw at most this often: a terminal repaint per message would cost more than the message. */
const REDRAW_MS = 100;

function mb(octets: number): string {
  return (octets / 1024 / 1024).toFixed(1);
}

/**
 * On a terminal: one line redrawn in place (messages and bytes done / total, rate, ETA). Elsewhere: a
 * plain line at start and every 10% so logs stay readable. Null: silent (for --json).
 */
export function createProgressReporter(
  out: Out | null,
  now: () => number = Date.now,
): ProgressReporter {
  if (!out) return { onProgress() {}, done() {} };
  const tty = out.isTTY === true;
  let total = 0;
  let totalOctets = 0;
  let done = 0;
  let doneOctets = 0;
  let started = now();
  let lastDraw = 0;
  let lastDecile = -1;
  let drawn = false;

  const line = (): string => {
    const seconds = Math.max(0.001, (now() - started) / 1000);
    const rate = doneOctets / seconds;
    const left =
      totalOctets > doneOctets && rate > 0 ? Math.round((totalOctets - doneOctets) / rate) : 0;
    const share = total === 0 ? 1 : done / total;
    const bar = '#'.repeat(Math.round(share * BAR_WIDTH)).padEnd(BAR_WIDTH, '.');
    return `[${bar}] ${done}/${total} messages  ${mb(doneOctets)}/${mb(totalOctets)} MB  ${mb(rate)} MB/s  ETA ${left}s`;
  };

  return {
    onProgress(event) {
      if (event.kind === 'listed') {
        total = event.toRetrieve;
        totalOctets = event.octets;
        started = now();
        out.write(
          `${event.messages} messages on the server, ${event.toRetrieve} to retrieve (${mb(event.octets)} MB)\n`,
        );
        return;
      }
      if (event.kind !== 'retrieved') return;
      done += 1;
      doneOctets += event.octets;
      if (tty) {
        if (now() - lastDraw < REDRAW_MS && done < total) return;
        lastDraw = now();
        out.write(`\r${line()}`);
        drawn = true;
      } else {
        const decile = total === 0 ? 10 : Math.floor((done / total) * 10);
        if (decile !== lastDecile) {
          lastDecile = decile;
          out.write(`${line()}\n`);
        }
      }
    },
    done() {
      if (drawn) out.write(`\r${line()}\n`);
    },
  };
}
