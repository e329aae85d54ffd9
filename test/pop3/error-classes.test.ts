/**
 * Each POP3 error class carries its own name, which is what a log line or `String(err)` shows and
 * what tells a reader an AUTH_FAILED from a TLS failure without the code.
 */
import { describe, expect, it } from 'vitest';
import {
  Pop3AuthError,
  Pop3ConnectionError,
  Pop3Error,
  Pop3ProtocolError,
  Pop3ServerError,
  Pop3TimeoutError,
  Pop3TlsError,
  Pop3UsageError,
} from '../../functions/core/pop3/errors.js';

const details = { command: 'PASS', serverText: '[AUTH] no', responseCode: 'AUTH' };

describe('POP3 error names', () => {
  // Built inside each test, not while collecting: a mutation tool activates its mutant per test.
  const cases: Array<[string, () => Error]> = [
    ['Pop3Error', () => new Pop3Error('COMMAND_FAILED', 'x')],
    ['Pop3ServerError', () => new Pop3ServerError('COMMAND_FAILED', details)],
    ['Pop3AuthError', () => new Pop3AuthError('AUTH_FAILED', details)],
    ['Pop3ProtocolError', () => new Pop3ProtocolError('PROTOCOL_VIOLATION', 'x')],
    ['Pop3TlsError', () => new Pop3TlsError('TLS_FAILED', 'x')],
    ['Pop3TimeoutError', () => new Pop3TimeoutError('reply', 'x')],
    ['Pop3ConnectionError', () => new Pop3ConnectionError('CONNECTION_FAILED', 'x')],
    ['Pop3UsageError', () => new Pop3UsageError('INVALID_ARGUMENT', 'x')],
  ];

  for (const [name, make] of cases) {
    it(`${name} is named ${name} in its string form`, () => {
      const err = make();
      expect(err.name).toBe(name);
      expect(String(err)).toMatch(new RegExp(`^${name}: `));
    });
  }
});
