import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PopvaultError } from '../../functions/core/errors/popvault-error.js';
import {
  MAX_QUERY_LENGTH,
  MAX_QUERY_WORDS,
  parseSearchQuery,
} from '../../functions/core/search/search-query.js';
import {
  type QueryProblem,
  SearchQueryError,
} from '../../functions/core/search/search-query-error.js';
import { queryOfPieces } from '../support/search-query-pieces.js';

function problemOf(input: string): QueryProblem | 'parsed' {
  try {
    parseSearchQuery(input);
    return 'parsed';
  } catch (error) {
    if (error instanceof SearchQueryError) return error.problem;
    throw error;
  }
}

function messageOf(input: string): string {
  try {
    parseSearchQuery(input);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`${input} parsed`);
}

describe('parseSearchQuery', () => {
  it('reads words, phrases, negations and fields', () => {
    expect(
      parseSearchQuery(
        'invoice "march report" -draft from:alice subject:"weekly sync" -body:"do not"',
      ),
    ).toEqual({
      terms: [
        { field: null, words: ['invoice'], negated: false },
        { field: null, words: ['march', 'report'], negated: false },
        { field: null, words: ['draft'], negated: true },
        { field: 'from', words: ['alice'], negated: false },
        { field: 'subject', words: ['weekly', 'sync'], negated: false },
        { field: 'body', words: ['do', 'not'], negated: true },
      ],
    });
  });

  it('reads to:, attachment:, prefixes and field names in any case', () => {
    expect(parseSearchQuery('To:bob ATTACHMENT:report.pdf repo*').terms).toEqual([
      { field: 'to', words: ['bob'], negated: false },
      { field: 'attachment', words: ['report.pdf'], negated: false },
      { field: null, words: ['repo'], negated: false, prefix: true },
    ]);
  });

  it('reads has:attachment, its negation, and date bounds (the tighter one wins)', () => {
    expect(
      parseSearchQuery('x has:attachment after:2024-01-01 before:2024-06-01 before:2024-03-01'),
    ).toEqual({
      terms: [{ field: null, words: ['x'], negated: false }],
      hasAttachment: true,
      after: '2024-01-01T00:00:00.000Z',
      before: '2024-03-01T00:00:00.000Z',
    });
    expect(parseSearchQuery('x -has:attachments').hasAttachment).toBe(false);
  });

  it('keeps URLs, times and "Re:" as words, and drops words without letters or digits', () => {
    expect(parseSearchQuery('http://example.com 10:30 Re: lunch - ... ""').terms).toEqual([
      { field: null, words: ['http://example.com'], negated: false },
      { field: null, words: ['10:30'], negated: false },
      { field: null, words: ['re'], negated: false },
      { field: null, words: ['lunch'], negated: false },
    ]);
  });

  it('keeps CJK and accented words as typed (the index folds them)', () => {
    expect(parseSearchQuery('東京 résumé').terms.map((term) => term.words)).toEqual([
      ['東京'],
      ['résumé'],
    ]);
  });

  it('refuses an empty query', () => {
    expect(problemOf('')).toBe('empty');
    expect(problemOf('   ')).toBe('empty');
    expect(problemOf('... -- ""')).toBe('empty');
  });

  it('refuses an unbalanced quote, naming where it is', () => {
    expect(problemOf('"march report')).toBe('unbalanced-quote');
    expect(problemOf('a subject:"x')).toBe('unbalanced-quote');
    expect(messageOf('ab "cd')).toMatch(/unbalanced quote at character 4/);
  });

  it('refuses an unknown field, naming the known ones', () => {
    expect(problemOf('cc:bob')).toBe('unknown-field');
    expect(messageOf('label:work')).toMatch(
      /label: is not a search field: the known ones are from: to: subject: attachment: body: has: before: after:/,
    );
  });

  it('refuses a field or a filter without a value', () => {
    expect(problemOf('x from:')).toBe('missing-value');
    expect(problemOf('x before:')).toBe('missing-value');
  });

  it('refuses a query over the length limit', () => {
    expect(problemOf('a'.repeat(MAX_QUERY_LENGTH))).toBe('parsed');
    expect(problemOf('a'.repeat(MAX_QUERY_LENGTH + 1))).toBe('too-long');
    expect(messageOf('a'.repeat(MAX_QUERY_LENGTH + 1))).toMatch(/at most 1000/);
  });

  it('refuses too many words', () => {
    const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
    expect(problemOf(words(MAX_QUERY_WORDS))).toBe('parsed');
    expect(problemOf(words(MAX_QUERY_WORDS + 1))).toBe('too-many-terms');
    expect(problemOf(`"${words(MAX_QUERY_WORDS + 1)}"`)).toBe('too-many-terms');
  });

  it('refuses a query of negations or filters only', () => {
    expect(problemOf('-draft')).toBe('no-positive-term');
    expect(problemOf('-draft -"old news"')).toBe('no-positive-term');
    expect(problemOf('has:attachment before:2024-01-01')).toBe('no-positive-term');
  });

  it('refuses bad dates and bad filters', () => {
    expect(problemOf('x before:2024-02-30')).toBe('bad-date');
    expect(problemOf('x after:yesterday')).toBe('bad-date');
    expect(problemOf('x after:2024-1-1')).toBe('bad-date');
    expect(messageOf('x after:2024-13-01')).toMatch(/after:YYYY-MM-DD/);
    expect(problemOf('x has:pdf')).toBe('bad-filter');
    expect(problemOf('x -before:2024-01-01')).toBe('bad-filter');
  });

  it('is a config error with code INVALID_QUERY', () => {
    try {
      parseSearchQuery('"');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PopvaultError);
      expect(error).toMatchObject({ code: 'INVALID_QUERY', kind: 'config', temporary: false });
    }
  });

  it('any string either parses or throws SearchQueryError, nothing else', () => {
    const input = fc.oneof(
      fc.string({ maxLength: 60 }),
      queryOfPieces,
      fc.string({ unit: 'grapheme', maxLength: 40 }),
    );
    fc.assert(
      fc.property(input, (text) => {
        const outcome = problemOf(text);
        if (outcome === 'parsed') {
          const query = parseSearchQuery(text);
          expect(query.terms.some((term) => !term.negated)).toBe(true);
          for (const term of query.terms) expect(term.words.length).toBeGreaterThan(0);
        }
      }),
      { seed: 1515, numRuns: 2000 },
    );
  });
});
