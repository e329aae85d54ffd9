import type { RunErrorCode } from '../errors/error-codes.js';
import { PopvaultError } from '../errors/popvault-error.js';

/** Another run holds the mailbox, or took it over from this one: try again later. */
export class LeaseError extends PopvaultError {
  override name = 'LeaseError';
  declare readonly code: RunErrorCode;

  constructor(code: RunErrorCode, message: string) {
    super(code, message);
  }
}
