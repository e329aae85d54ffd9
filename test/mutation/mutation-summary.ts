/**
 * Reads StrykerJS's JSON reports (reports/mutation/*.json, one per part of the scope measured) and
 * prints the per-file table RELIABILITY.md shows, then every surviving mutant that
 * `equivalent-mutants.ts` does not explain. Exits 1 while any survivor is unexplained.
 *
 *   npm run mutate:summary [-- reports/mutation/pull.json ...]
 *
 * The newest report wins for a file measured more than once.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { EQUIVALENT_MUTANTS, mutantKey } from './equivalent-mutants.js';

interface Position {
  line: number;
  column: number;
}

interface MutantResult {
  mutatorName: string;
  replacement?: string;
  status: string;
  location: { start: Position; end: Position };
}

interface FileResult {
  source: string;
  mutants: MutantResult[];
}

interface Report {
  projectRoot?: string;
  files: Record<string, FileResult>;
}

const REPORT_DIR = 'reports/mutation';

function reportPaths(args: string[]): string[] {
  if (args.length > 0) return args;
  return readdirSync(REPORT_DIR)
    .filter((name) => name.endsWith('.json'))
    .map((name) => join(REPORT_DIR, name))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs);
}

/** The source text a mutant replaced, on one line, as a reader finds it in the file. */
function original(source: string, { start, end }: MutantResult['location']): string {
  const lines = source.split('\n');
  const text =
    start.line === end.line
      ? (lines[start.line - 1] ?? '').slice(start.column - 1, end.column - 1)
      : `${(lines[start.line - 1] ?? '').slice(start.column - 1)} ...`;
  return text.trim().replace(/\s+/g, ' ');
}

interface Row {
  file: string;
  killed: number;
  timedOut: number;
  survived: number;
  noCoverage: number;
  equivalent: number;
}

function score(row: Omit<Row, 'file'>, setAside: number): string {
  const detected = row.killed + row.timedOut;
  const total = detected + row.survived + row.noCoverage - setAside;
  return total === 0 ? '-' : `${((100 * detected) / total).toFixed(1)}%`;
}

function main(): void {
  const merged = new Map<string, FileResult>();
  for (const path of reportPaths(process.argv.slice(2))) {
    const report = JSON.parse(readFileSync(path, 'utf8')) as Report;
    for (const [file, result] of Object.entries(report.files)) {
      merged.set(report.projectRoot ? relative(report.projectRoot, file) : file, result);
    }
  }
  const rows: Row[] = [];
  const unexplained: string[] = [];
  const used = new Set<string>();
  for (const [file, result] of [...merged].sort(([a], [b]) => a.localeCompare(b))) {
    const row: Row = { file, killed: 0, timedOut: 0, survived: 0, noCoverage: 0, equivalent: 0 };
    for (const mutant of result.mutants) {
      if (mutant.status === 'Killed') row.killed += 1;
      else if (mutant.status === 'Timeout') row.timedOut += 1;
      else if (mutant.status === 'Survived' || mutant.status === 'NoCoverage') {
        if (mutant.status === 'Survived') row.survived += 1;
        else row.noCoverage += 1;
        const text = original(result.source, mutant.location);
        const line = (result.source.split('\n')[mutant.location.start.line - 1] ?? '').trim();
        const key = mutantKey(file, line, mutant.mutatorName, text, mutant.replacement ?? '');
        if (EQUIVALENT_MUTANTS.has(key)) {
          row.equivalent += 1;
          used.add(key);
        } else {
          const { line, column } = mutant.location.start;
          unexplained.push(
            `${file}:${line}:${column} ${mutant.status} ${mutant.mutatorName}: ${JSON.stringify(text)} -> ${JSON.stringify(mutant.replacement ?? '')}`,
          );
        }
      }
    }
    rows.push(row);
  }
  const total = rows.reduce(
    (sum, r) => ({
      killed: sum.killed + r.killed,
      timedOut: sum.timedOut + r.timedOut,
      survived: sum.survived + r.survived,
      noCoverage: sum.noCoverage + r.noCoverage,
      equivalent: sum.equivalent + r.equivalent,
    }),
    { killed: 0, timedOut: 0, survived: 0, noCoverage: 0, equivalent: 0 },
  );
  console.log(
    '| file | score | killed | timed out | survived | no coverage | of those, equivalent | score without them |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of [...rows, { file: '**all**', ...total }]) {
    console.log(
      `| ${r.file} | ${score(r, 0)} | ${r.killed} | ${r.timedOut} | ${r.survived} | ${r.noCoverage} | ${r.equivalent} | ${score(r, r.equivalent)} |`,
    );
  }
  const stale = [...EQUIVALENT_MUTANTS.keys()].filter(
    (key) => merged.has(key.split('|')[0] ?? '') && !used.has(key),
  );
  if (stale.length > 0) {
    console.log(`\n${stale.length} listed equivalents no longer survive (remove them):`);
    for (const key of stale) console.log(`  ${key}`);
  }
  if (unexplained.length > 0) {
    console.log(`\n${unexplained.length} survivors not yet explained:`);
    for (const line of unexplained) console.log(`  ${line}`);
    process.exitCode = 1;
  }
}

main();
