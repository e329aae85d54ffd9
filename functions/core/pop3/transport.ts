import { isIP, type Socket, connect as tcpConnect } from 'node:net';
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls';
import type { TlsMode } from '../settings/mailbox-settings.js';
import { Pop3ConnectionError, Pop3TimeoutError, Pop3TlsError, Pop3UsageError } from './errors.js';

// Declared once with the mailbox settings, which read it from the config file, flags and environment.
export type { TlsMode };

export interface TransportOptions {
  host: string;
  port: number;
  /** `implicit` (port 995 style, preferred by RFC 8314), `starttls` (STLS on 110), or `none`. */
  tls: TlsMode;
  /** Required, and honoured only for loopback hosts, when `tls` is `none`. */
  insecure?: boolean;
  /** Extra trusted CA certificates (PEM), e.g. a lab server's self-signed CA. Replaces the system set. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** SHA-256 fingerprint of the server's leaf certificate (hex, colons optional), checked on top of CA trust. */
  pinSha256?: string;
  connectTimeoutMs: number;
}

/** Node's certificate verification codes that mean "no trusted chain", as opposed to other TLS faults. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_REJECTED',
  'INVALID_CA',
]);

export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return address.startsWith('127.');
  if (family === 6) {
    const lower = address.toLowerCase();
    return lower === '::1' || lower.startsWith('::ffff:127.');
  }
  return false;
}

function isLoopbackHost(host: string): boolean {
  return host.toLowerCase() === 'localhost' || isLoopbackAddress(host);
}

/** Refuses cleartext unless the caller said so explicitly and the host is this machine. */
export function assertTransportAllowed(opts: TransportOptions): void {
  if (opts.tls !== 'none') return;
  if (!opts.insecure) {
    throw new Pop3UsageError(
      'INSECURE_REFUSED',
      `plaintext POP3 to ${opts.host} needs the explicit insecure option; use tls "implicit" or "starttls" instead`,
    );
  }
  if (!isLoopbackHost(opts.host)) {
    throw new Pop3UsageError(
      'INSECURE_REFUSED',
      `plaintext POP3 is refused for the non-loopback host ${opts.host}: passwords would cross the network in clear; use tls "implicit" or "starttls"`,
    );
  }
}

function normalizeFingerprint(value: string): string {
  return value.replace(/[:\s]/g, '').toUpperCase();
}

/**
 * Bounds a connection attempt by its time limit and by the session's abort signal, whichever comes
 * first. `fail` disarms both and ends the attempt with `end`; `settle` only disarms them.
 */
function boundAttempt(
  limitMs: number,
  timedOut: () => Error,
  abort: AbortSignal | undefined,
  end: (err: unknown) => void,
): { settle: () => void; fail: (err: unknown) => void } {
  const settle = (): void => {
    clearTimeout(timer);
    abort?.removeEventListener('abort', aborted);
  };
  const fail = (err: unknown): void => {
    settle();
    end(err);
  };
  const aborted = (): void => fail(abort?.reason);
  const timer = setTimeout(() => fail(timedOut()), limitMs);
  abort?.addEventListener('abort', aborted, { once: true });
  return { settle, fail };
}

/**
 * Opens the TCP connection, bounded by the connect timeout. `abort` (the session failing, e.g. its
 * deadline passing) ends the attempt at once with its reason.
 */
export function openTcp(
  opts: TransportOptions,
  deadlineMs: number,
  abort?: AbortSignal,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (abort?.aborted) {
      reject(abort.reason);
      return;
    }
    const socket = tcpConnect({ host: opts.host, port: opts.port });
    const { settle, fail } = boundAttempt(
      deadlineMs,
      () =>
        new Pop3TimeoutError(
          'connect',
          `connecting to ${opts.host}:${opts.port} took longer than ${deadlineMs} ms`,
        ),
      abort,
      (err) => {
        socket.destroy();
        reject(err);
      },
    );
    socket.once('connect', () => {
      settle();
      socket.removeAllListeners('error');
      socket.setNoDelay(true);
      if (opts.tls === 'none' && !isLoopbackAddress(socket.remoteAddress ?? '')) {
        socket.destroy();
        reject(
          new Pop3UsageError(
            'INSECURE_REFUSED',
            `${opts.host} resolved to the non-loopback address ${socket.remoteAddress}; plaintext POP3 is refused`,
          ),
        );
        return;
      }
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        new Pop3ConnectionError(
          'CONNECTION_FAILED',
          `cannot connect to ${opts.host}:${opts.port}: ${err.code ?? err.message}`,
          { cause: err },
        ),
      ),
    );
  });
}

function tlsFailure(err: NodeJS.ErrnoException, host: string): Pop3TlsError {
  const code = err.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new Pop3TlsError(
      'TLS_HOSTNAME_MISMATCH',
      `the certificate of ${host} does not name ${host}: ${err.message}`,
      { cause: err },
    );
  }
  if (UNTRUSTED_CODES.has(code)) {
    return new Pop3TlsError(
      'TLS_UNTRUSTED',
      `the certificate of ${host} is not trusted (${code}); if it is your own server, pass its CA with the ca option`,
      { cause: err },
    );
  }
  return new Pop3TlsError('TLS_FAILED', `TLS with ${host} failed: ${err.message}`, { cause: err });
}

/**
 * Runs the TLS handshake over an open TCP socket (implicit TLS right after connect, or after STLS).
 * Verification is always on; there is deliberately no option to turn it off.
 * `abort` (the session failing, e.g. its deadline passing) ends the handshake at once with its reason.
 */
export function startTls(
  socket: Socket,
  opts: TransportOptions,
  timeoutMs: number,
  abort?: AbortSignal,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    if (abort?.aborted) {
      socket.destroy();
      reject(abort.reason);
      return;
    }
    const options: ConnectionOptions = {
      socket,
      host: opts.host,
      // SNI must be a name, never an IP literal (RFC 6066 s.3).
      ...(isIP(opts.host) ? {} : { servername: opts.host }),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
    };
    const tls = tlsConnect(options);
    // Errors of the wrapped TCP socket surface on the TLS socket; without this one listener they would
    // also be emitted unhandled on the raw socket and crash the process.
    socket.on('error', () => {});
    const { settle, fail } = boundAttempt(
      timeoutMs,
      () =>
        new Pop3TimeoutError(
          'connect',
          `the TLS handshake with ${opts.host} took longer than ${timeoutMs} ms`,
        ),
      abort,
      (err) => {
        tls.destroy();
        reject(err);
      },
    );
    tls.once('secureConnect', () => {
      settle();
      tls.removeAllListeners('error');
      if (opts.pinSha256 !== undefined) {
        const seen = tls.getPeerCertificate().fingerprint256 ?? '';
        if (normalizeFingerprint(seen) !== normalizeFingerprint(opts.pinSha256)) {
          tls.destroy();
          reject(
            new Pop3TlsError(
              'TLS_PIN_MISMATCH',
              `the certificate of ${opts.host} has SHA-256 fingerprint ${seen}, not the pinned one; if the server's certificate was renewed, update the pin`,
            ),
          );
          return;
        }
      }
      resolve(tls);
    });
    tls.once('error', (err: NodeJS.ErrnoException) => fail(tlsFailure(err, opts.host)));
  });
}
