import type { ArchiveErrorCode } from '../archive/errors.js';
import type { CredentialsErrorCode } from '../credentials/credentials-provider.js';
import type { Pop3ErrorCode } from '../pop3/errors.js';
import type { SpoolLimitCode } from '../pull/message-spool.js';
import type { SearchErrorCode } from '../search/search-query-error.js';

/**
 * What a failure is about, for whoever decides what to do next (an exit code, an alarm, a metric):
 * - `credentials`: the server or the token endpoint refused who we are; a human fixes the secret;
 * - `retry`: busy, delayed, locked or cut off; the same run later may well succeed;
 * - `config`: the run's settings cannot work with this server (a policy needing UIDL, plaintext);
 * - `storage`: the archive (or the secret store) failed or refused;
 * - `server`: the server misbehaved or failed in a way waiting will not mend;
 * - `bug`: popvault itself, or its caller, did something it should not.
 */
export type ErrorKind = 'credentials' | 'retry' | 'config' | 'storage' | 'server' | 'bug';

/** The run's own reasons to stop: another run holds, or took over, the mailbox's lease. */
export type RunErrorCode = 'LEASE_HELD' | 'LEASE_LOST';

/** Every code a popvault error may carry: a closed union, so a consumer's switch is exhaustive. */
export type ErrorCode =
  | Pop3ErrorCode
  | ArchiveErrorCode
  | CredentialsErrorCode
  | SpoolLimitCode
  | RunErrorCode
  | SearchErrorCode
  | 'INVALID_EVENT'
  /** Anything that is not a popvault error: a programming error, or a dependency's surprise. */
  | 'INTERNAL_ERROR';

interface CodeTraits {
  kind: ErrorKind;
  /** Whether a failure with this code usually goes away by itself; one error may say otherwise. */
  temporary: boolean;
}

const permanent = (kind: ErrorKind): CodeTraits => ({ kind, temporary: false });
const RETRY: CodeTraits = { kind: 'retry', temporary: true };

/**
 * The one place a code gets its kind. The kinds are drawn so that the CLI's exit codes and the
 * puller's credential alarm stay what they were when they were read off code names: only the
 * server's or the token endpoint's refusal is `credentials`, only settings a flag changes are
 * `config`. A secret that is malformed or cannot be read is `storage` (it is what is stored that is
 * wrong), which a run reports as a plain failure.
 */
export const ERROR_CODES: Readonly<Record<ErrorCode, CodeTraits>> = {
  AUTH_FAILED: permanent('credentials'),
  TOKEN_REJECTED: permanent('credentials'),
  // Mostly a timeout or a 5xx; a 404 endpoint is the same code, raised as not temporary.
  TOKEN_REQUEST_FAILED: { kind: 'credentials', temporary: true },
  SECRET_INVALID: permanent('storage'),
  SECRET_UNAVAILABLE: { kind: 'storage', temporary: true },

  IN_USE: RETRY,
  LOGIN_DELAY: RETRY,
  SYS_TEMP: RETRY,
  TIMEOUT: RETRY,
  UNEXPECTED_EOF: RETRY,
  CONNECTION_FAILED: RETRY,
  LEASE_HELD: RETRY,
  LEASE_LOST: RETRY,

  CAPABILITY_MISSING: permanent('config'),
  INSECURE_REFUSED: permanent('config'),
  INVALID_EVENT: permanent('config'),
  // A query string the user typed: they fix it, as they would a setting; retrying reads it again.
  INVALID_QUERY: permanent('config'),

  SYS_PERM: permanent('server'),
  COMMAND_FAILED: permanent('server'),
  PROTOCOL_VIOLATION: permanent('server'),
  SESSION_CLOSED: permanent('server'),
  TLS_UNTRUSTED: permanent('server'),
  TLS_HOSTNAME_MISMATCH: permanent('server'),
  TLS_PIN_MISMATCH: permanent('server'),
  TLS_FAILED: permanent('server'),
  STLS_UNAVAILABLE: permanent('server'),
  MESSAGE_TOO_LARGE: permanent('server'),

  // A store that is down fails the run, not retry-later: the alarm should see a storage outage.
  STORE_UNAVAILABLE: permanent('storage'),
  STORE_ACCESS_DENIED: permanent('storage'),
  STORE_MISSING: permanent('storage'),
  STORE_CONFLICT: permanent('storage'),
  STORE_REJECTED: permanent('storage'),
  STORE_FAILED: permanent('storage'),
  // An item this version cannot read: retrying reads the same bytes again.
  STORE_CORRUPT: permanent('storage'),
  CHECKSUM_MISMATCH: permanent('storage'),
  SOURCE_UNREADABLE: permanent('storage'),
  KEY_TOO_LARGE: permanent('storage'),
  NOT_FOUND: permanent('storage'),
  SPOOL_FULL: permanent('storage'),

  INVALID_CURSOR: permanent('bug'),
  INVALID_ARGUMENT: permanent('bug'),
  INTERNAL_ERROR: permanent('bug'),
};
