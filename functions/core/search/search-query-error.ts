import { PopvaultError } from '../errors/popvault-error.js';

export type SearchErrorCode = 'INVALID_QUERY';

/** What is wrong with a query string; the API and the CLI show the message, callers branch on this. */
export type QueryProblem =
  | 'empty'
  | 'too-long'
  | 'too-many-terms'
  | 'unbalanced-quote'
  | 'unknown-field'
  | 'missing-value'
  | 'bad-filter'
  | 'bad-date'
  | 'no-positive-term';

/** A query string popvault cannot run; the message names the problem and how to fix it. */
export class SearchQueryError extends PopvaultError {
  override name = 'SearchQueryError';
  declare readonly code: SearchErrorCode;
  readonly problem: QueryProblem;

  constructor(problem: QueryProblem, message: string) {
    super('INVALID_QUERY', message);
    this.problem = problem;
  }
}
