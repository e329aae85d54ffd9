import { MAILBOX_ID } from '../core/archive/mailbox-id.js';
import type { TlsMode } from '../core/pop3/transport.js';
import type { ServerPolicy } from '../core/pull/pull-options.js';

/**
 * One mailbox's settings as the stack fixes them at synth into that mailbox's own puller function
 * (the POPVAULT_MAILBOX environment variable, see infra/constructs/puller-function.ts): the server,
 * how to trust it, the id of the secret holding the credentials (never the credentials themselves),
 * the policy and the limits. No event can change them. Validated strictly, by the config loader at
 * synth and again by the function at cold start: an unknown or malformed field is an error that
 * names the field and the fix, not a run that half-works.
 */
export interface MailboxSettings {
  mailboxId: string;
  host: string;
  port: number;
  tls: TlsMode;
  insecure: boolean;
  pipelining: boolean;
  /** PEM of extra CA certificates to trust for this server. */
  caPem: string | null;
  pinSha256: string | null;
  /** Secrets Manager id (ARN or name) of the mailbox's credentials JSON. */
  secretId: string;
  policy: ServerPolicy;
  maxMessageOctets: number | null;
  oversize: 'skip' | 'store';
  maxMessagesPerRun: number | null;
  maxOctetsPerRun: number | null;
}

export class MailboxSettingsError extends Error {
  override name = 'MailboxSettingsError';
  readonly code = 'INVALID_MAILBOX_SETTINGS';
}

const HOST = /^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]+\]?$/;
const FINGERPRINT = /^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/;

const FIELDS = new Set([
  'mailboxId',
  'host',
  'port',
  'tls',
  'insecure',
  'pipelining',
  'caPem',
  'pinSha256',
  'secretId',
  'policy',
  'deleteAfterDays',
  'maxMessageBytes',
  'oversize',
  'maxMessagesPerRun',
  'maxBytesPerRun',
]);

function fail(field: string, problem: string, fix: string): never {
  throw new MailboxSettingsError(`mailbox setting "${field}" ${problem}; ${fix}`);
}

function optionalPositiveInt(input: Record<string, unknown>, field: string): number | null {
  const value = input[field];
  if (value === undefined || value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    fail(
      field,
      `must be a positive whole number, got ${JSON.stringify(value)}`,
      'remove it or set e.g. 1000',
    );
  }
  return value;
}

function optionalBoolean(
  input: Record<string, unknown>,
  field: string,
  fallback: boolean,
): boolean {
  const value = input[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean')
    fail(field, `must be true or false, got ${JSON.stringify(value)}`, 'use a JSON boolean');
  return value;
}

function requiredString(
  input: Record<string, unknown>,
  field: string,
  pattern: RegExp | null,
  fix: string,
): string {
  const value = input[field];
  if (typeof value !== 'string' || value.length === 0)
    fail(field, 'is missing or not a string', fix);
  if (pattern && !pattern.test(value))
    fail(field, `has an unusable value ${JSON.stringify(value.slice(0, 80))}`, fix);
  return value;
}

export function parseMailboxSettings(settings: unknown): MailboxSettings {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new MailboxSettingsError(
      'the mailbox settings must be a JSON object (see README, "mailboxes")',
    );
  }
  const input = settings as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!FIELDS.has(key))
      fail(key, 'is not a known setting', `remove it (known: ${[...FIELDS].join(', ')})`);
  }
  const mailboxId = requiredString(
    input,
    'mailboxId',
    MAILBOX_ID,
    'use 1-64 letters, digits, ".", "_" or "-"',
  );
  const host = requiredString(
    input,
    'host',
    HOST,
    'give the POP3 server host name, e.g. "outlook.office365.com"',
  );
  const port = input.port;
  if (typeof port !== 'number' || !Number.isSafeInteger(port) || port < 1 || port > 65535) {
    fail(
      'port',
      `must be 1-65535, got ${JSON.stringify(port)}`,
      'use 995 for implicit TLS or 110 for STLS',
    );
  }
  const tls = input.tls;
  if (tls !== 'implicit' && tls !== 'starttls' && tls !== 'none') {
    fail(
      'tls',
      `must be "implicit", "starttls" or "none", got ${JSON.stringify(tls)}`,
      'use "implicit" (port 995)',
    );
  }
  const insecure = optionalBoolean(input, 'insecure', false);
  if (tls === 'none' && !insecure) {
    fail(
      'tls',
      'is "none" (plaintext) without "insecure": true',
      'use "implicit" or "starttls"; plaintext is for loopback tests only',
    );
  }
  const caPem = input.caPem;
  if (
    caPem !== undefined &&
    caPem !== null &&
    (typeof caPem !== 'string' || !caPem.includes('BEGIN CERTIFICATE'))
  ) {
    fail(
      'caPem',
      'is not a PEM certificate',
      'paste the CA certificate including its BEGIN/END lines, or remove the field',
    );
  }
  const pin = input.pinSha256;
  if (pin !== undefined && pin !== null && (typeof pin !== 'string' || !FINGERPRINT.test(pin))) {
    fail(
      'pinSha256',
      'is not a SHA-256 fingerprint',
      'use 64 hex digits, colons optional (openssl x509 -fingerprint -sha256)',
    );
  }
  const secretId = requiredString(
    input,
    'secretId',
    null,
    'give the ARN or name of the mailbox secret',
  );
  const policyName = input.policy ?? 'delete';
  let policy: ServerPolicy;
  if (policyName === 'delete' || policyName === 'keep') {
    if (input.deleteAfterDays !== undefined)
      fail(
        'deleteAfterDays',
        `only applies to policy "delete-after-days"`,
        'remove it or change the policy',
      );
    policy = { kind: policyName };
  } else if (policyName === 'delete-after-days') {
    const days = input.deleteAfterDays;
    if (typeof days !== 'number' || !Number.isSafeInteger(days) || days < 0 || days > 36500) {
      fail(
        'deleteAfterDays',
        `must be a whole number of days 0-36500, got ${JSON.stringify(days)}`,
        'e.g. 30',
      );
    }
    policy = { kind: 'delete-after-days', days };
  } else {
    fail(
      'policy',
      `must be "delete", "keep" or "delete-after-days", got ${JSON.stringify(policyName)}`,
      'use "delete" to archive then remove from the server',
    );
  }
  const oversize = input.oversize ?? 'skip';
  if (oversize !== 'skip' && oversize !== 'store') {
    fail(
      'oversize',
      `must be "skip" or "store", got ${JSON.stringify(oversize)}`,
      'use "skip" to leave large mail on the server',
    );
  }
  return {
    mailboxId,
    host,
    port,
    tls,
    insecure,
    pipelining: optionalBoolean(input, 'pipelining', true),
    caPem: typeof caPem === 'string' ? caPem : null,
    pinSha256: typeof pin === 'string' ? pin : null,
    secretId,
    policy,
    maxMessageOctets: optionalPositiveInt(input, 'maxMessageBytes'),
    oversize,
    maxMessagesPerRun: optionalPositiveInt(input, 'maxMessagesPerRun'),
    maxOctetsPerRun: optionalPositiveInt(input, 'maxBytesPerRun'),
  };
}
