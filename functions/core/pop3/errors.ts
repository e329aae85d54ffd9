/**
 * Every failure the POP3 client raises is a Pop3Error with a stable `code` that callers branch on
 * (alarms, retry-later, exit codes). Messages never contain credentials: the client only ever puts a
 * command's verb into an error, never its arguments, and scrubs secrets from server text.
 */

import { PopvaultError } from '../errors/popvault-error.js';

export type Pop3ErrorCode =
  /** The server rejected the credentials ([AUTH], or a plain -ERR to a login command). */
  | 'AUTH_FAILED'
  /** [IN-USE]: another session holds the maildrop lock (RFC 2449 s.8.1.1). Retry later. */
  | 'IN_USE'
  /** [LOGIN-DELAY]: logged in too recently (RFC 2449 s.8.1.2). Retry later. */
  | 'LOGIN_DELAY'
  /** [SYS/TEMP]: a transient server-side problem (RFC 3206 s.4). Retry later. */
  | 'SYS_TEMP'
  /** [SYS/PERM]: a server-side problem that needs a human (RFC 3206 s.4). */
  | 'SYS_PERM'
  /** Any other -ERR reply to a command. */
  | 'COMMAND_FAILED'
  /** The server sent something that is not POP3: garbage status line, oversize line, bad listing. */
  | 'PROTOCOL_VIOLATION'
  /** The connection ended (FIN or reset) while a reply was expected. */
  | 'UNEXPECTED_EOF'
  /** TCP connect or DNS failed. */
  | 'CONNECTION_FAILED'
  | 'TLS_UNTRUSTED'
  | 'TLS_HOSTNAME_MISMATCH'
  | 'TLS_PIN_MISMATCH'
  | 'TLS_FAILED'
  /** STLS was required but the server does not offer it or refused it. Never falls back to cleartext. */
  | 'STLS_UNAVAILABLE'
  | 'TIMEOUT'
  /** The server lacks a capability the requested operation needs (UIDL, TOP, a SASL mechanism). */
  | 'CAPABILITY_MISSING'
  /** Plaintext POP3 asked for a non-loopback host, or without the explicit `insecure` flag. */
  | 'INSECURE_REFUSED'
  /** The caller passed something the client cannot send (CR/LF in a user name, bad message number). */
  | 'INVALID_ARGUMENT'
  /** The session was closed or failed earlier; no further commands can be sent. */
  | 'SESSION_CLOSED';

export class Pop3Error extends PopvaultError {
  override name = 'Pop3Error';
  declare readonly code: Pop3ErrorCode;

  // Whether it is temporary (IN_USE, LOGIN_DELAY, SYS_TEMP, TIMEOUT, a dropped or refused
  // connection) comes from the code, in ERROR_CODES.
  constructor(code: Pop3ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A -ERR reply. `serverText` is the server's words (secrets scrubbed), `responseCode` e.g. "IN-USE". */
export class Pop3ServerError extends Pop3Error {
  override name = 'Pop3ServerError';
  readonly command: string;
  readonly serverText: string;
  readonly responseCode: string | null;

  constructor(
    code: Pop3ErrorCode,
    details: { command: string; serverText: string; responseCode: string | null },
  ) {
    super(code, `POP3 ${details.command} failed: ${details.serverText || '-ERR'} (${code})`);
    this.command = details.command;
    this.serverText = details.serverText;
    this.responseCode = details.responseCode;
  }
}

/** Credentials rejected. Kept as its own class so callers can alarm on it with one instanceof. */
export class Pop3AuthError extends Pop3ServerError {
  override name = 'Pop3AuthError';
}

export class Pop3ProtocolError extends Pop3Error {
  override name = 'Pop3ProtocolError';
}

export type TlsFailureCode =
  | 'TLS_UNTRUSTED'
  | 'TLS_HOSTNAME_MISMATCH'
  | 'TLS_PIN_MISMATCH'
  | 'TLS_FAILED'
  | 'STLS_UNAVAILABLE';

export class Pop3TlsError extends Pop3Error {
  override name = 'Pop3TlsError';
  declare readonly code: TlsFailureCode;

  constructor(code: TlsFailureCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type TimeoutPhase = 'connect' | 'greeting' | 'reply' | 'deadline';

export class Pop3TimeoutError extends Pop3Error {
  override name = 'Pop3TimeoutError';
  readonly phase: TimeoutPhase;

  constructor(phase: TimeoutPhase, message: string) {
    super('TIMEOUT', message);
    this.phase = phase;
  }
}

export class Pop3ConnectionError extends Pop3Error {
  override name = 'Pop3ConnectionError';
}

/** The caller asked for something unsafe or impossible; nothing was sent. */
export class Pop3UsageError extends Pop3Error {
  override name = 'Pop3UsageError';
}
