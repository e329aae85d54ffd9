/**
 * Surviving mutants that no test can kill, because the mutated code behaves the same as the original
 * on every input, each with why. `mutation-summary.ts` matches survivors against this list by file,
 * source line, mutator, original text and replacement, so an entry goes stale (and is reported) as
 * soon as the line it explains changes.
 */

export interface EquivalentMutant {
  /** The whole source line the mutant starts on, trimmed. */
  line: string;
  mutator: string;
  original: string;
  replacement: string;
  why: string;
}

export function mutantKey(
  file: string,
  line: string,
  mutator: string,
  original: string,
  replacement: string,
): string {
  return [file, line, mutator, original, replacement].join('|');
}

const BY_FILE: Record<string, EquivalentMutant[]> = {
  'functions/core/pop3/command-window.ts': [
    {
      line: 'if (this.#waiters.length === 0 && this.#inUse < this.#size) {',
      mutator: 'ConditionalExpression',
      original: 'this.#waiters.length === 0',
      replacement: 'true',
      why: '#admit() grants queued requests whenever a slot frees, so a request is only ever queued while every slot is taken: the second test decides alone.',
    },
    {
      line: 'this.#waiters.shift()?.grant();',
      mutator: 'OptionalChaining',
      original: 'this.#waiters.shift()?.grant',
      replacement: 'this.#waiters.shift().grant',
      why: 'The loop condition has just checked the queue is not empty.',
    },
  ],
};

export const EQUIVALENT_MUTANTS: ReadonlyMap<string, EquivalentMutant> = new Map(
  Object.entries(BY_FILE).flatMap(([file, list]) =>
    list.map((m) => [mutantKey(file, m.line, m.mutator, m.original, m.replacement), m] as const),
  ),
);
