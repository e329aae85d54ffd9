import type { EquivalentMutant } from '../equivalent-mutants.js';

const UTF8_DEFAULT =
  'Node reads an empty encoding name as its default, UTF-8 (checked: Buffer.from gives the same bytes for "" and "utf8"); the name is written out for the reader.';

const NULL_PARSES_AS_NAN =
  'Date.parse(null) and Date.parse(undefined) are both NaN, which the next line already turns into null: without the guard a missing value still returns null.';

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
      why: UTF8_DEFAULT,
    },
  ],
  'functions/core/archive/raw-object-key.ts': [
    {
      line: "return Buffer.from(value, 'utf8').toString('base64url');",
      mutator: 'StringLiteral',
      original: "'utf8'",
      replacement: '""',
      why: UTF8_DEFAULT,
    },
  ],
  'functions/core/archive/record-decoder.ts': [
    {
      line: "return typeof value === 'number' && Number.isFinite(value)",
      mutator: 'ConditionalExpression',
      original: "typeof value === 'number'",
      replacement: 'true',
      why: 'Number.isFinite never coerces: it is false for every value that is not a number, so the type check adds nothing to it (it is there for the type narrowing).',
    },
  ],
  'functions/core/archive/sort-date.ts': [
    {
      line: 'if (value === null || value === undefined) return null;',
      mutator: 'ConditionalExpression',
      original: 'value === null || value === undefined',
      replacement: 'false',
      why: NULL_PARSES_AS_NAN,
    },
    {
      line: 'if (value === null || value === undefined) return null;',
      mutator: 'LogicalOperator',
      original: 'value === null || value === undefined',
      replacement: 'value === null && value === undefined',
      why: `No value is both null and undefined, so this is the guard removed. ${NULL_PARSES_AS_NAN}`,
    },
    {
      line: 'if (value === null || value === undefined) return null;',
      mutator: 'ConditionalExpression',
      original: 'value === null',
      replacement: 'false',
      why: NULL_PARSES_AS_NAN,
    },
    {
      line: 'if (value === null || value === undefined) return null;',
      mutator: 'ConditionalExpression',
      original: 'value === undefined',
      replacement: 'false',
      why: 'Date.parse(undefined) is NaN, which the next line already turns into null: an undefined value returns null either way.',
    },
  ],
};
