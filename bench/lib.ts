/**
 * What every benchmark section shares: summary statistics, markdown tables with the targets
 * beside the figures, a work directory on the repository's disk, timed child processes, and the
 * seeding of a mailbox so that its writeback does not land inside the next measurement.
 */
import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type DovecotInfo, seedMailbox, uniqueUser } from '../test/support/dovecot.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** The popvault command as installed (`bin` in package.json), run as users run it. */
export const POPVAULT_CLI = join(REPO_ROOT, 'functions', 'cli', 'popvault.mjs');

/** `node --import` this to have a child print its own peak RSS at exit (see peak-rss.mjs). */
export const PEAK_RSS_IMPORT = join(REPO_ROOT, 'bench', 'peak-rss.mjs');

/** The peak RSS (MB) a child preloaded with PEAK_RSS_IMPORT printed, or null. */
export function peakRssMb(stderr: string): number | null {
  const kb = /popvault-bench-peak-rss-kb=(\d+)/.exec(stderr)?.[1];
  return kb === undefined ? null : Number(kb) / 1024;
}

export interface Stats {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function stats(values: readonly number[]): Stats {
  if (values.length === 0) throw new Error('no values to summarise');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return {
    median,
    min: sorted[0] as number,
    max: sorted[sorted.length - 1] as number,
    n: sorted.length,
  };
}

/** Nearest-rank percentile (p in 0..100): always a value that was actually measured. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('no values');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] as number;
}

export type Verdict = 'met' | 'missed';

/** A target from the issue, checked against a measured value. */
export interface Target {
  text: string;
  check: (value: number) => boolean;
}

export const atMost = (limit: number, unit: string): Target => ({
  text: `<= ${limit}${unit}`,
  check: (v) => v <= limit,
});
export const below = (limit: number, unit: string): Target => ({
  text: `< ${limit}${unit}`,
  check: (v) => v < limit,
});
export const atLeast = (limit: number, unit: string): Target => ({
  text: `>= ${limit}${unit}`,
  check: (v) => v >= limit,
});

export function verdict(target: Target, value: number): string {
  return `${target.text}: **${target.check(value) ? 'met' : 'missed'}**`;
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fixed = (value: number, digits = 2): string => value.toFixed(digits);
export const mb = (octets: number): number => octets / 1024 / 1024;

/** A directory of scratch space on the repository's disk (not a tmpfs /tmp), removed by the caller. */
export function workDirectory(name: string): string {
  const dir = join(REPO_ROOT, 'bench', '.work', `${name}-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

export function removeDirectory(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Flushes dirty pages to disk. Called after seeding a mailbox and after removing a run's output, so
 * the kernel's writeback of one run's 150 MB does not land inside the next run's measurement.
 */
export function syncDisks(): void {
  spawnSync('sync', { stdio: 'ignore' });
}

/** A fresh user holding `messages`, flushed to disk; every run of every tool gets its own. */
export function seedFresh(info: DovecotInfo, prefix: string, messages: Buffer[]): string {
  const user = uniqueUser(prefix);
  seedMailbox(info, user, messages);
  syncDisks();
  return user;
}

/** Removes a seeded user's home (Dovecot's homes are the lower-cased names), mail and all. */
export function removeUser(info: DovecotInfo, user: string): void {
  removeDirectory(join(info.homeRoot, user.toLowerCase()));
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit, as a user waiting for the command sees it. */
  seconds: number;
}

/** Runs a command to its end, timing it from spawn to exit; output is collected, never inherited. */
export function runTimed(
  command: string,
  args: readonly string[],
  options: SpawnOptions = {},
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-20_000);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      resolve({ code, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 });
    });
  });
}

export function describeFailure(what: string, result: ChildResult): Error {
  return new Error(
    `${what} exited ${result.code ?? result.signal}\n--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`,
  );
}

/** True when this module is the script node was started with (tsx keeps argv[1] as the .ts path). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === moduleUrl;
}

/** Progress goes to stderr so stdout holds only the report. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}
