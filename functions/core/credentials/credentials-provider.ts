/**
 * Credentials for one mailbox: the contract the pull run asks for them through, the secret as stored
 * (AWS Secrets Manager, a local file, an env var), its strict validation, and the one error type every
 * credentials failure raises.
 *
 * The rule that shapes all of it: no secret value ever reaches an error. Messages name the field and
 * the fix, never echo a value; foreign errors are never attached as `cause` as they are, because their
 * messages can quote what they were given (V8's JSON.parse quotes the text it choked on).
 */
import { PopvaultError } from '../errors/popvault-error.js';
import type { Pop3Credentials } from '../pop3/client.js';
import { isLoopbackAddress } from '../pop3/transport.js';

export interface CredentialsProvider {
  /** Credentials ready to hand to the POP3 client. May hit the network (token refresh). */
  get(): Promise<Pop3Credentials>;
  /**
   * The server rejected what the last get() returned: drop anything cached so the next get() fetches
   * anew. Providers with nothing to refresh leave it out.
   */
  invalidate?(): void;
}

export type PasswordCredentials = Extract<Pop3Credentials, { password: string }>;
export type TokenCredentials = Extract<Pop3Credentials, { accessToken: string }>;

/** Milliseconds on any steady scale; only differences are used. Injected so tests control time. */
export interface Clock {
  now(): number;
}

export type PasswordMethod = 'auto' | 'user' | 'apop' | 'plain';
export type OAuth2Grant = 'refresh_token' | 'client_credentials';

export interface PasswordSecret {
  kind: 'password';
  username: string;
  password: string;
  method?: PasswordMethod;
}

export interface OAuth2Secret {
  kind: 'oauth2';
  username: string;
  /** The identity provider's token endpoint, e.g. https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token. */
  tokenEndpoint: string;
  clientId: string;
  /** Absent for a public client (refresh_token grant only). */
  clientSecret?: string;
  /** Required by grant 'refresh_token', refused with 'client_credentials'. */
  refreshToken?: string;
  /** Space-separated, e.g. "https://outlook.office365.com/.default" for client_credentials. */
  scope?: string;
  grant: OAuth2Grant;
}

/** The JSON stored per mailbox. */
export type MailboxSecret = PasswordSecret | OAuth2Secret;

export type CredentialsErrorCode =
  /** The stored secret is malformed; the message names the field and the fix. */
  | 'SECRET_INVALID'
  /** The token endpoint could not be reached, timed out, answered 5xx or nonsense. */
  | 'TOKEN_REQUEST_FAILED'
  /** The token endpoint refused the grant or client (invalid_grant, invalid_client, ...): needs a human. */
  | 'TOKEN_REJECTED'
  /** The secret could not be read (or a rotated token not written): missing, unreadable, store down. */
  | 'SECRET_UNAVAILABLE';

export class CredentialsError extends PopvaultError {
  override name = 'CredentialsError';
  declare readonly code: CredentialsErrorCode;

  /**
   * `temporary` defaults to the code's (a timeout or a 503 usually goes away by itself); a 404
   * token endpoint or a missing file share a code with those but need a human, and say so here.
   */
  constructor(
    code: CredentialsErrorCode,
    message: string,
    options?: { cause?: SafeCause; temporary?: boolean },
  ) {
    super(code, message, {
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
      ...(options?.temporary === undefined ? {} : { temporary: options.temporary }),
    });
  }

  /** Structured loggers serialise errors with JSON.stringify, which would otherwise drop the message. */
  toJSON(): { name: string; code: CredentialsErrorCode; temporary: boolean; message: string } {
    return { name: this.name, code: this.code, temporary: this.temporary, message: this.message };
  }
}

/**
 * A cause that is safe to attach: a fresh Error carrying only scrubbed text, with no cause of its own,
 * so the whole chain under a CredentialsError is text this module wrote.
 */
export class SafeCause extends Error {
  override name = 'SafeCause';
}

/** Foreign error text kept in a cause; enough for "ECONNREFUSED" or an AADSTS code, not a body dump. */
const MAX_CAUSE_TEXT = 500;
/** How deep a foreign cause chain is flattened (fetch: TypeError -> undici error -> syscall error). */
const MAX_CAUSE_DEPTH = 4;

/**
 * Replaces every occurrence of each secret, raw and form-encoded (a token endpoint that echoes its
 * request body would show the encoded form), with "***".
 */
export function scrub(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret === '') continue;
    for (const form of new Set([secret, encodeURIComponent(secret), formEncode(secret)])) {
      out = out.split(form).join('***');
    }
  }
  return out;
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/**
 * Flattens a foreign error chain into one SafeCause: names, codes and messages, scrubbed of the
 * secrets given and cut to MAX_CAUSE_TEXT. Use only where the foreign message cannot contain an
 * unknown secret (never for a JSON.parse error over secret text: that gets no cause at all).
 */
export function safeCause(err: unknown, secrets: ReadonlyArray<string | undefined>): SafeCause {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined; depth += 1) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      const label = typeof code === 'string' ? `${current.name} [${code}]` : current.name;
      parts.push(current.message ? `${label}: ${current.message}` : label);
      current = current.cause;
    } else {
      parts.push(typeof current === 'string' ? current : typeof current);
      current = undefined;
    }
  }
  return new SafeCause(bounded(scrub(parts.join(' <- '), secrets), MAX_CAUSE_TEXT));
}

export function bounded(text: string, max: number): string {
  // Control characters would let a hostile endpoint forge log lines.
  const clean = text.replace(/\p{Cc}+/gu, ' ');
  return clean.length <= max ? clean : `${clean.slice(0, max)}...`;
}

const PASSWORD_METHODS: ReadonlySet<string> = new Set(['auto', 'user', 'apop', 'plain']);
const GRANTS: ReadonlySet<string> = new Set(['refresh_token', 'client_credentials']);
const PASSWORD_FIELDS: ReadonlySet<string> = new Set(['kind', 'username', 'password', 'method']);
const OAUTH2_FIELDS: ReadonlySet<string> = new Set([
  'kind',
  'username',
  'tokenEndpoint',
  'clientId',
  'clientSecret',
  'refreshToken',
  'scope',
  'grant',
]);
/** Unknown field names are echoed (they are keys, not values) but bounded: a key could be anything. */
const MAX_ECHOED_FIELD_NAME = 40;

function invalid(message: string): CredentialsError {
  return new CredentialsError('SECRET_INVALID', `mailbox secret: ${message}`);
}

/**
 * Validates the stored JSON strictly: a typo'd optional field ("clientSecrte") silently ignored would
 * surface much later as a confusing invalid_client, so unknown fields are errors. Messages never
 * quote a value, only the field and the fix.
 */
export function parseMailboxSecret(json: unknown): MailboxSecret {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid(
      `expected a JSON object, got ${describeType(json)}; store {"kind": "password", ...} or {"kind": "oauth2", ...}`,
    );
  }
  const record = json as Record<string, unknown>;
  const kind = record.kind;
  if (kind === 'password') return parsePassword(record);
  if (kind === 'oauth2') return parseOAuth2(record);
  throw invalid(
    kind === undefined
      ? 'field "kind" is missing; add "kind": "password" or "kind": "oauth2"'
      : `field "kind" must be "password" or "oauth2"`,
  );
}

function rejectUnknownFields(
  record: Record<string, unknown>,
  allowed: ReadonlySet<string>,
  kind: string,
): void {
  for (const key of Object.keys(record)) {
    if (!allowed.has(key)) {
      throw invalid(
        `unknown field "${bounded(key, MAX_ECHOED_FIELD_NAME)}" for kind "${kind}"; remove it (allowed: ${[...allowed].join(', ')})`,
      );
    }
  }
}

function parsePassword(record: Record<string, unknown>): PasswordSecret {
  rejectUnknownFields(record, PASSWORD_FIELDS, 'password');
  const username = requiredString(record, 'username');
  const password = requiredString(record, 'password');
  lineSafe('username', username);
  lineSafe('password', password);
  const secret: PasswordSecret = { kind: 'password', username, password };
  if (record.method !== undefined) {
    const method = record.method;
    if (typeof method !== 'string' || !PASSWORD_METHODS.has(method)) {
      throw invalid(
        'field "method" must be one of "auto", "user", "apop", "plain"; omit it for "auto"',
      );
    }
    secret.method = method as PasswordMethod;
  }
  return secret;
}

function parseOAuth2(record: Record<string, unknown>): OAuth2Secret {
  rejectUnknownFields(record, OAUTH2_FIELDS, 'oauth2');
  const username = requiredString(record, 'username');
  lineSafe('username', username);
  const tokenEndpoint = requiredString(record, 'tokenEndpoint');
  checkTokenEndpoint(tokenEndpoint);
  const clientId = requiredString(record, 'clientId');
  const grant = record.grant;
  if (grant === undefined) {
    throw invalid('field "grant" is missing; add "grant": "refresh_token" or "client_credentials"');
  }
  if (typeof grant !== 'string' || !GRANTS.has(grant)) {
    throw invalid('field "grant" must be "refresh_token" or "client_credentials"');
  }
  const secret: OAuth2Secret = {
    kind: 'oauth2',
    username,
    tokenEndpoint,
    clientId,
    grant: grant as OAuth2Grant,
  };
  const clientSecret = optionalString(record, 'clientSecret');
  const refreshToken = optionalString(record, 'refreshToken');
  const scope = optionalString(record, 'scope');
  if (secret.grant === 'refresh_token' && refreshToken === undefined) {
    throw invalid(
      'field "refreshToken" is missing; grant "refresh_token" needs the refresh token from the consent flow',
    );
  }
  if (secret.grant === 'client_credentials') {
    if (clientSecret === undefined) {
      throw invalid(
        'field "clientSecret" is missing; grant "client_credentials" authenticates the app with its client secret',
      );
    }
    if (refreshToken !== undefined) {
      throw invalid(
        'field "refreshToken" is not used by grant "client_credentials"; remove it, or use grant "refresh_token"',
      );
    }
  }
  if (clientSecret !== undefined) secret.clientSecret = clientSecret;
  if (refreshToken !== undefined) secret.refreshToken = refreshToken;
  if (scope !== undefined) secret.scope = scope;
  return secret;
}

function requiredString(record: Record<string, unknown>, field: string): string {
  const value = record[field];
  if (value === undefined) throw invalid(`field "${field}" is missing; add it as a string`);
  if (typeof value !== 'string') {
    throw invalid(`field "${field}" must be a string, got ${describeType(value)}`);
  }
  if (value.trim() === '') throw invalid(`field "${field}" is empty; set it`);
  return value;
}

function optionalString(record: Record<string, unknown>, field: string): string | undefined {
  const value = record[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw invalid(
      `field "${field}" must be a string, got ${describeType(value)}; omit it if unused`,
    );
  }
  if (value.trim() === '') throw invalid(`field "${field}" is empty; set it or omit it`);
  return value;
}

/** The POP3 client refuses these too, but only at login; here the message can name the field. */
function lineSafe(field: string, value: string): void {
  if (/[\r\n\0]/.test(value)) {
    throw invalid(
      `field "${field}" contains a line break or NUL; remove it (often a trailing newline from the tool that wrote the secret)`,
    );
  }
}

function checkTokenEndpoint(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('field "tokenEndpoint" is not an absolute URL; use https://host/path');
  }
  if (url.username !== '' || url.password !== '') {
    throw invalid(
      'field "tokenEndpoint" contains user:password@; remove it (client credentials go in clientId/clientSecret)',
    );
  }
  if (url.hash !== '') throw invalid('field "tokenEndpoint" has a #fragment; remove it');
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
  throw invalid(
    url.protocol === 'http:'
      ? `field "tokenEndpoint" uses http to the non-loopback host ${url.hostname}: the client secret and tokens would cross the network in clear; use https`
      : `field "tokenEndpoint" must be an https URL (got scheme ${bounded(url.protocol, 20)})`,
  );
}

function isLoopbackHost(hostname: string): boolean {
  // WHATWG URL keeps the brackets around an IPv6 literal.
  const host = hostname.replace(/^\[(.*)\]$/, '$1');
  return host.toLowerCase() === 'localhost' || isLoopbackAddress(host);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
