/**
 * The query string people type (the API's `q`, `popvault search QUERY`) parsed into a SearchQuery.
 *
 *   invoice "march report" -draft from:alice subject:"weekly sync" attachment:pdf
 *   has:attachment before:2024-06-01 after:2024-01-01 repo*
 *
 * Every word and phrase must match; `-` negates a word, a phrase or has:attachment. A query that
 * cannot be run throws SearchQueryError naming the problem and the fix; nothing else escapes.
 */
import type { SearchField, SearchQuery, SearchTerm } from './search-ports.js';
import { type QueryProblem, SearchQueryError } from './search-query-error.js';

/**
 * A person types a few words; 1,000 characters is far beyond that and still fits a URL's query
 * string with room to spare. It bounds the parse and the FTS5 expression compiled from it.
 */
export const MAX_QUERY_LENGTH = 1000;

/**
 * Every word is one FTS5 term lookup (a b-tree descent plus a posting-list merge), so the number of
 * words bounds a query's cost; 32 is several times what anyone types.
 */
export const MAX_QUERY_WORDS = 32;

const FIELDS: Readonly<Record<string, SearchField>> = {
  from: 'from',
  to: 'to',
  subject: 'subject',
  attachment: 'attachment',
  body: 'body',
};
const FILTERS = ['has', 'before', 'after'] as const;
const KNOWN_PREFIXES = [...Object.keys(FIELDS), ...FILTERS].map((name) => `${name}:`).join(' ');

// A field name: letters only, followed by a colon and a value. `http://` and `10:30` are words.
const FIELD_PREFIX = /^([A-Za-z]+):(?!\/)/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
// What makes a word searchable: FTS5's tokenizer keeps letters and numbers and drops the rest, so
// a word of punctuation alone would compile to an empty phrase.
const SEARCHABLE = /[\p{L}\p{N}]/u;

interface RawTerm {
  negated: boolean;
  name: string | null;
  value: string;
  quoted: boolean;
}

function fail(problem: QueryProblem, message: string): never {
  throw new SearchQueryError(problem, message);
}

/** Reads a `"phrase"` starting at `start` (the opening quote); returns its text and where it ends. */
function readQuoted(input: string, start: number): [string, number] {
  const close = input.indexOf('"', start + 1);
  if (close < 0) {
    fail(
      'unbalanced-quote',
      `the query has an unbalanced quote at character ${start + 1}: close the phrase with " or remove the quote`,
    );
  }
  return [input.slice(start + 1, close), close + 1];
}

/** Splits the query into raw terms: [-][name:]value, where value is a word or a "phrase". */
function lex(input: string): RawTerm[] {
  const terms: RawTerm[] = [];
  let at = 0;
  while (at < input.length) {
    if (/\s/u.test(input[at] as string)) {
      at++;
      continue;
    }
    let negated = false;
    if (input[at] === '-' && at + 1 < input.length && !/\s/u.test(input[at + 1] as string)) {
      negated = true;
      at++;
    }
    let name: string | null = null;
    const field = FIELD_PREFIX.exec(input.slice(at, at + 40));
    if (field !== null) {
      name = (field[1] as string).toLowerCase();
      at += field[0].length;
    }
    let value: string;
    let quoted = false;
    if (input[at] === '"') {
      [value, at] = readQuoted(input, at);
      quoted = true;
    } else {
      const end = input.slice(at).search(/[\s"]/u);
      const stop = end < 0 ? input.length : at + end;
      value = input.slice(at, stop);
      at = stop;
    }
    terms.push({ negated, name, value, quoted });
  }
  return terms;
}

/** A YYYY-MM-DD date as the ISO instant of its midnight UTC; throws bad-date otherwise. */
function parseDate(name: string, value: string): string {
  const match = DATE.exec(value);
  const iso = match === null ? null : `${value}T00:00:00.000Z`;
  const ms = iso === null ? Number.NaN : Date.parse(iso);
  // Date.parse accepts 2024-02-30 by rolling over; a round trip catches it.
  if (iso === null || !Number.isFinite(ms) || new Date(ms).toISOString() !== iso) {
    fail(
      'bad-date',
      `${name}:${value.slice(0, 40)} is not a date: write ${name}:YYYY-MM-DD, e.g. ${name}:2024-03-31`,
    );
  }
  return iso;
}

function applyFilter(query: SearchQuery, raw: RawTerm & { name: string }): void {
  if (raw.name === 'has') {
    if (raw.value.toLowerCase() !== 'attachment' && raw.value.toLowerCase() !== 'attachments') {
      fail(
        'bad-filter',
        `has:${raw.value.slice(0, 40)} is not a filter: the one known is has:attachment`,
      );
    }
    query.hasAttachment = !raw.negated;
    return;
  }
  if (raw.negated) {
    const other = raw.name === 'before' ? 'after' : 'before';
    fail(
      'bad-filter',
      `-${raw.name}: cannot be negated: write ${other}: with the same date instead`,
    );
  }
  const iso = parseDate(raw.name, raw.value);
  if (raw.name === 'before') {
    query.before = query.before === undefined || iso < query.before ? iso : query.before;
  } else {
    query.after = query.after === undefined || iso > query.after ? iso : query.after;
  }
}

/** A word or phrase as a term, or null when nothing in it is searchable (`-`, `...`, `""`). */
function toTerm(raw: RawTerm, field: SearchField | null): SearchTerm | null {
  let text = raw.value;
  let prefix = false;
  if (!raw.quoted && text.endsWith('*')) {
    text = text.replace(/\*+$/u, '');
    prefix = true;
  }
  const words = text.split(/\s+/u).filter((word) => SEARCHABLE.test(word));
  if (words.length === 0) return null;
  const term: SearchTerm = { field, words, negated: raw.negated };
  if (prefix) term.prefix = true;
  return term;
}

function addTerm(query: SearchQuery, raw: RawTerm): void {
  if (raw.name !== null && (FILTERS as readonly string[]).includes(raw.name)) {
    if (raw.value === '') fail('missing-value', `${raw.name}: needs a value right after the colon`);
    applyFilter(query, { ...raw, name: raw.name });
    return;
  }
  const field = raw.name === null ? null : FIELDS[raw.name];
  // "Re: lunch" pasted from a subject: a word with a colon, not a field.
  if (field === undefined && raw.value === '' && !raw.quoted) {
    addTerm(query, { ...raw, name: null, value: raw.name as string });
    return;
  }
  if (field === undefined) {
    fail(
      'unknown-field',
      `${raw.name}: is not a search field: the known ones are ${KNOWN_PREFIXES} (quote the word to search for it as text)`,
    );
  }
  if (raw.name !== null && raw.value === '') {
    fail('missing-value', `${raw.name}: needs a word or a "phrase" right after the colon`);
  }
  const term = toTerm(raw, field);
  if (term !== null) query.terms.push(term);
}

function checkWords(query: SearchQuery): void {
  const words = query.terms.reduce((sum, term) => sum + term.words.length, 0);
  if (words > MAX_QUERY_WORDS) {
    fail(
      'too-many-terms',
      `the query has ${words} words; at most ${MAX_QUERY_WORDS} are searched at once: remove some`,
    );
  }
  if (!query.terms.some((term) => !term.negated)) {
    fail(
      'no-positive-term',
      'the query has nothing to look for: add at least one word or "phrase" that is not negated with -',
    );
  }
}

/** Parses a query string; throws SearchQueryError (and nothing else) when it cannot be run. */
export function parseSearchQuery(input: string): SearchQuery {
  if (input.length > MAX_QUERY_LENGTH) {
    fail(
      'too-long',
      `the query is ${input.length} characters long; at most ${MAX_QUERY_LENGTH} are accepted: shorten it`,
    );
  }
  if (input.trim() === '') fail('empty', 'the query is empty: give at least one word to look for');
  const query: SearchQuery = { terms: [] };
  for (const raw of lex(input)) addTerm(query, raw);
  if (
    query.terms.length === 0 &&
    query.hasAttachment === undefined &&
    !query.before &&
    !query.after
  ) {
    fail('empty', 'the query has no letter or digit to look for: give at least one word');
  }
  checkWords(query);
  return query;
}
