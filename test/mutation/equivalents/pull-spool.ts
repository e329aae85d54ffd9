import type { EquivalentMutant } from '../equivalent-mutants.js';

/** Equivalent mutants of the pull-spool files, each with why (see ../equivalent-mutants.ts). */
export const PULL_SPOOL_EQUIVALENTS: Record<string, EquivalentMutant[]> = {
  'functions/core/pull/message-spool.ts': [
    {
      line: 'else if (this.stopped === null) this.#chunks.push(chunk);',
      mutator: 'ConditionalExpression',
      original: 'this.stopped === null',
      replacement: 'true',
      why: 'A stopped store never yields a source: spoolMessage throws SpoolLimitError once the body ends, and spoolMessage skips keep() for every later chunk, so at most one chunk would be held and never read.',
    },
    {
      line: 'if (parsed) await parsed;',
      mutator: 'ConditionalExpression',
      original: 'parsed',
      replacement: 'true',
      why: 'When writeToSink returns null the mutant awaits null, which only yields one microtask turn: nothing else reads or changes the spool in between.',
    },
    {
      line: 'if (this.stopped !== null) return;',
      mutator: 'ConditionalExpression',
      original: 'this.stopped !== null',
      replacement: 'false',
      why: 'No write is ever asked for once the store is stopped: spoolMessage calls keep() only while stopped is null, and a stop inside keep() empties the held chunks (ending the loop over them) and closes the file (so the current chunk is not written) before keep() resumes.',
    },
  ],
};
