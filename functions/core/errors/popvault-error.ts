import { ERROR_CODES, type ErrorCode, type ErrorKind } from './error-codes.js';

export interface PopvaultErrorOptions {
  cause?: unknown;
  /** Overrides the code's usual temporariness for this one failure (a 404 token endpoint). */
  temporary?: boolean;
}

/**
 * The base of every error popvault raises on purpose: a `code` from the closed ErrorCode union, its
 * `kind` (from ERROR_CODES, the one table) and whether the same run, tried later, may well succeed
 * without anyone changing anything (`temporary`). Consumers branch on these, never on message text
 * or on the shape of a code's name.
 */
export class PopvaultError extends Error {
  override name = 'PopvaultError';
  readonly code: ErrorCode;
  readonly temporary: boolean;

  constructor(code: ErrorCode, message: string, options?: PopvaultErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.temporary = options?.temporary ?? ERROR_CODES[code].temporary;
  }

  get kind(): ErrorKind {
    return ERROR_CODES[this.code].kind;
  }
}

/** What a run records of a failure: worked out once, where the failure is caught. */
export interface ClassifiedError {
  code: ErrorCode;
  kind: ErrorKind;
  temporary: boolean;
  message: string;
}

/**
 * A failure of any origin as a run records it. Anything that is not a PopvaultError (a TypeError, a
 * dependency's own error) is INTERNAL_ERROR: adapters map what their SDKs raise before it gets here.
 */
export function classifyError(err: unknown): ClassifiedError {
  if (err instanceof PopvaultError) {
    return { code: err.code, kind: err.kind, temporary: err.temporary, message: err.message };
  }
  return {
    code: 'INTERNAL_ERROR',
    kind: 'bug',
    temporary: false,
    message: err instanceof Error ? err.message : String(err),
  };
}
