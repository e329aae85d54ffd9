/**
 * What a chaos run counts and prints: runs and pulls, faults by kind (drawn, and how often they
 * struck before the pull ended), messages delivered / archived / lost / duplicated, the slowest
 * recovery, and every violation with the command that replays its run alone.
 */
import type { Fault, FaultKind } from './fault-plan.js';

export interface Violation {
  run: number;
  message: string;
  replay: string;
}

export class ChaosTally {
  runs = 0;
  pulls = 0;
  delivered = 0;
  deliveredBetween = 0;
  archived = 0;
  lost = 0;
  duplicated = 0;
  seconds = 0;
  stoppedEarly: string | null = null;
  readonly faults = new Map<FaultKind, { drawn: number; struck: number }>();
  readonly outcomes = new Map<string, number>();
  readonly violations: Violation[] = [];
  slowest: { run: number; pulls: number; seconds: number } | null = null;
  mostPulls: { run: number; pulls: number; seconds: number } | null = null;

  constructor(readonly options: { seed: number; archive: string; server: string }) {}

  recordFault(fault: Fault, fired: string | null, outcomes: string[]): void {
    this.runs += 1;
    const entry = this.faults.get(fault.kind) ?? { drawn: 0, struck: 0 };
    entry.drawn += 1;
    if (fired !== null) entry.struck += 1;
    this.faults.set(fault.kind, entry);
    for (const outcome of outcomes)
      this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
  }

  recordRecovery(run: number, pulls: number, seconds: number): void {
    if (this.slowest === null || seconds > this.slowest.seconds)
      this.slowest = { run, pulls, seconds };
    if (this.mostPulls === null || pulls > this.mostPulls.pulls)
      this.mostPulls = { run, pulls, seconds };
  }

  violation(run: number, message: string, replay: string): void {
    this.violations.push({ run, message, replay });
  }

  get ok(): boolean {
    return this.violations.length === 0 && this.lost === 0 && this.duplicated === 0;
  }

  format(): string {
    const lines = [
      `chaos: seed ${this.options.seed}, archive ${this.options.archive}, server ${this.options.server}`,
      `runs: ${this.runs} (pulls: ${this.pulls}, ${this.seconds.toFixed(0)} s)${this.stoppedEarly ? ` - ${this.stoppedEarly}` : ''}`,
      'faults by kind (drawn / struck before the pull ended):',
      ...[...this.faults.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(
          ([kind, { drawn, struck }]) =>
            `  ${kind.padEnd(24)} ${String(drawn).padStart(5)} / ${struck}`,
        ),
      'faulted pulls ended:',
      ...[...this.outcomes.entries()]
        .sort(([, a], [, b]) => b - a)
        .map(([outcome, count]) => `  ${outcome.padEnd(40)} ${count}`),
      `messages: delivered ${this.delivered} (${this.deliveredBetween} of them between runs), archived ${this.archived}, lost ${this.lost}, duplicated ${this.duplicated}`,
      this.slowest === null
        ? 'slowest recovery: none'
        : `slowest recovery: ${this.slowest.seconds.toFixed(1)} s (run ${this.slowest.run}, ${this.slowest.pulls} clean pull(s)); most pulls: ${this.mostPulls?.pulls} (run ${this.mostPulls?.run})`,
      `violations: ${this.violations.length}`,
    ];
    const replays = new Set<string>();
    for (const v of this.violations.slice(0, 50)) {
      lines.push(`  run ${v.run}: ${v.message}`);
      replays.add(v.replay);
    }
    for (const replay of replays) lines.push(`  replay: ${replay}`);
    return lines.join('\n');
  }
}
