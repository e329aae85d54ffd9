import { describe, expect, it } from 'vitest';
import { ArchiveError } from '../../functions/core/archive/errors.js';
import { CredentialsError } from '../../functions/core/credentials/credentials-provider.js';
import { ERROR_CODES } from '../../functions/core/errors/error-codes.js';
import { classifyError, PopvaultError } from '../../functions/core/errors/popvault-error.js';
import { Pop3Error, Pop3TimeoutError } from '../../functions/core/pop3/errors.js';
import { LeaseError } from '../../functions/core/pull/lease-error.js';

describe('typed errors', () => {
  it('a POP3 error is temporary exactly for the busy, delayed and cut-off codes', () => {
    const temporary = Object.entries(ERROR_CODES)
      .filter(([code]) => code in { IN_USE: 1, LOGIN_DELAY: 1, SYS_TEMP: 1, TIMEOUT: 1 })
      .map(([code]) => new Pop3Error(code as 'IN_USE', 'x').temporary);
    expect(temporary).toEqual([true, true, true, true]);
    expect(new Pop3Error('UNEXPECTED_EOF', 'x')).toMatchObject({ temporary: true, kind: 'retry' });
    expect(new Pop3Error('AUTH_FAILED', 'x')).toMatchObject({
      temporary: false,
      kind: 'credentials',
    });
    expect(new Pop3Error('CAPABILITY_MISSING', 'x').kind).toBe('config');
    expect(new Pop3TimeoutError('reply', 'x')).toBeInstanceOf(PopvaultError);
  });

  it('a credentials error keeps its kind when one failure overrides its temporariness', () => {
    expect(new CredentialsError('TOKEN_REQUEST_FAILED', 'x')).toMatchObject({
      temporary: true,
      kind: 'credentials',
    });
    expect(new CredentialsError('TOKEN_REQUEST_FAILED', 'x', { temporary: false })).toMatchObject({
      temporary: false,
      kind: 'credentials',
    });
  });

  it('storage errors are storage, and not temporary: a store outage fails the run', () => {
    expect(new ArchiveError('STORE_UNAVAILABLE', 'x')).toMatchObject({
      kind: 'storage',
      temporary: false,
      systemic: false,
    });
    expect(new ArchiveError('STORE_ACCESS_DENIED', 'x').systemic).toBe(true);
  });

  it('classifies a lease error as retry, and anything foreign as an internal error', () => {
    expect(classifyError(new LeaseError('LEASE_HELD', 'held'))).toEqual({
      code: 'LEASE_HELD',
      kind: 'retry',
      temporary: true,
      message: 'held',
    });
    // A code-shaped foreign error is not trusted for its code: only popvault's own errors are.
    const foreign = Object.assign(new Error('boom'), { code: 'IN_USE', temporary: true });
    expect(classifyError(foreign)).toEqual({
      code: 'INTERNAL_ERROR',
      kind: 'bug',
      temporary: false,
      message: 'boom',
    });
    expect(classifyError('text')).toMatchObject({ code: 'INTERNAL_ERROR', message: 'text' });
  });
});
