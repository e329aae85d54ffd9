import fc from 'fast-check';

/**
 * Query strings made of the pieces the search syntax reacts to (quotes, negation, fields, prefixes,
 * dates, CJK, what FTS5 itself would read as syntax, the snippet marks): the fuzz tests' raw material.
 */
export const queryOfPieces = fc
  .array(
    fc.constantFrom(
      '"',
      '-',
      ':',
      '*',
      ' ',
      'from:',
      'has:',
      'before:',
      'after:',
      'x',
      'é',
      '東京',
      '(',
      'NOT',
      '%',
      '\u0002',
    ),
    { maxLength: 30 },
  )
  .map((parts) => parts.join(''));
