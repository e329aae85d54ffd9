import type { EquivalentMutant } from '../equivalent-mutants.js';

const SETS_HOLD_ONLY_STRINGS =
  'NETWORK_ERRNO holds only strings, so Set.has of a non-string code is false either way, and for a string the guard was true anyway: the same code comes back on every input.';

/** Equivalent mutants of the archive-core files, each with why (see ../equivalent-mutants.ts). */
export const ARCHIVE_CORE_EQUIVALENTS: Record<string, EquivalentMutant[]> = {
  'functions/core/archive/errors.ts': [
    {
      line: "if (typeof error.code === 'string' && NETWORK_ERRNO.has(error.code)) return error.code;",
      mutator: 'ConditionalExpression',
      original: "typeof error.code === 'string'",
      replacement: 'true',
      why: SETS_HOLD_ONLY_STRINGS,
    },
    {
      line: "if (typeof code === 'string' && NETWORK_ERRNO.has(code)) return code;",
      mutator: 'ConditionalExpression',
      original: "typeof code === 'string'",
      replacement: 'true',
      why: SETS_HOLD_ONLY_STRINGS,
    },
    {
      line: 'if (name !== null) {',
      mutator: 'ConditionalExpression',
      original: 'name !== null',
      replacement: 'true',
      why: 'With name null every check in the block is false (the name Sets hold only strings, and null is not "ConditionalRequestConflict"), so it falls through to the status checks exactly as when the block is skipped.',
    },
    {
      line: "if (status === 429 || (status !== null && status >= 500)) return 'STORE_UNAVAILABLE';",
      mutator: 'ConditionalExpression',
      original: 'status !== null',
      replacement: 'true',
      why: 'For a null status `status >= 500` is `0 >= 500`, false, just as the guard made it; for a number the guard was true anyway.',
    },
    {
      line: "if (status !== null && status >= 400) return 'STORE_REJECTED';",
      mutator: 'ConditionalExpression',
      original: 'status !== null',
      replacement: 'true',
      why: 'For a null status `status >= 400` is `0 >= 400`, false, just as the guard made it; for a number the guard was true anyway.',
    },
  ],
  'functions/core/archive/listing-cursor.ts': [
    {
      line: "return Buffer.from(JSON.stringify({ v: CURSOR_VERSION, ...scope, position }), 'utf8').toString(",
      mutator: 'StringLiteral',
      original: "'utf8'",
      replacement: '""',
      why: 'Node reads an empty encoding name as its default, UTF-8 (checked: Buffer.from gives the same bytes for "" and "utf8"); the name is written out for the reader.',
    },
  ],
  'functions/core/archive/sort-date.ts': [
    {
      line: 'if (value === null || value === undefined) return null;',
      mutator: 'ConditionalExpression',
      original: 'value === undefined',
      replacement: 'false',
      why: 'Date.parse(undefined) is NaN, which the next line already turns into null: an undefined value returns null either way.',
    },
  ],
};
