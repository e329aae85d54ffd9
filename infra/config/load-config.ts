/**
 * The deployment's config file: which mailboxes to archive, on what schedule, how the archive and the
 * API are set up. Validated strictly before any construct exists, so a mistake fails `cdk synth` with
 * one line naming the field and the fix, never a stack trace from inside CDK or a half-created stack.
 *
 * Every field and its default is listed in `popvault.config.example.json`'s README table; the
 * defaults live here, in one place, as `DEFAULTS`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { MAILBOX_ID } from '../../functions/core/archive/mailbox-id.js';
import {
  MailboxSettingsError,
  parseMailboxSettings,
} from '../../functions/puller/mailbox-settings.js';
import { type ParsedSchedule, parseSchedule, ScheduleError } from './schedule.js';

export type TlsMode = 'implicit' | 'starttls' | 'none';
export type AuthMethod = 'password' | 'oauth2';
export type Policy = 'delete' | 'keep' | 'delete-after-days';
export type StorageClassName = 'STANDARD_IA' | 'INTELLIGENT_TIERING' | 'GLACIER_IR';

export interface MailboxConfig {
  id: string;
  host: string;
  port: number;
  tls: TlsMode;
  auth: AuthMethod;
  /** Not secret: shown in the credentials template the stack outputs. */
  username: string;
  schedule: ParsedSchedule;
  timeZone: string;
  enabled: boolean;
  policy: Policy;
  deleteAfterDays: number | null;
  maxMessageBytes: number | null;
  oversize: 'skip' | 'store';
  maxMessagesPerRun: number | null;
  maxBytesPerRun: number | null;
  pipelining: boolean;
  caPem: string | null;
  pinSha256: string | null;
  /** An existing secret (complete ARN) instead of one the stack creates. */
  secretArn: string | null;
  /** The customer-managed KMS key that encrypts `secretArn`, when it is not the account default. */
  secretKmsKeyArn: string | null;
  alarmEmail: string | null;
}

export interface ArchiveConfig {
  encryption: 's3' | 'kms';
  objectLock: { mode: 'governance' | 'compliance'; days: number } | null;
  transition: { afterDays: number; storageClass: StorageClassName } | null;
  noncurrentVersionDays: number;
  accessLogDays: number;
}

export type ApiAuth =
  | { kind: 'iam' }
  | {
      kind: 'jwt';
      issuer: string;
      audience: string[];
      /** Scopes every token must carry (API Gateway checks for one of them, the app for all). */
      requiredScopes: string[];
      /** The claim naming the mailboxes a token may read (functions/query-api/jwt-access.ts). */
      mailboxesClaim: string;
    };

export interface ApiConfig {
  auth: ApiAuth;
  throttle: { rateLimit: number; burstLimit: number };
  accessLogRetentionDays: number;
}

export interface PullerConfig {
  memoryMiB: number;
  timeoutSeconds: number;
  /** Reserved concurrency; null leaves the function on the account's unreserved pool. */
  maxConcurrency: number | null;
  logRetentionDays: number;
}

export interface AlarmsConfig {
  email: string | null;
  missedRunPeriods: number;
}

export interface PopvaultConfig {
  /** The file this came from, for messages. */
  source: string;
  stackName: string;
  archive: ArchiveConfig;
  api: ApiConfig;
  puller: PullerConfig;
  alarms: AlarmsConfig;
  mailboxes: MailboxConfig[];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly field: string,
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${source}: ${field === '' ? 'the config' : field} ${problem}. Fix: ${fix}`);
  }
}

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

export const DEFAULTS = {
  stackName: 'Popvault',
  archive: {
    encryption: 's3',
    noncurrentVersionDays: 30,
    accessLogDays: 365,
  },
  api: {
    // API Gateway's account default is 10,000 rps; one person's archive needs a handful.
    rateLimit: 10,
    burstLimit: 20,
    accessLogRetentionDays: 90,
    mailboxesClaim: 'popvault_mailboxes',
  },
  puller: {
    // Spooled attachments are streamed and the parser holds no bodies, but the SDK buffers upload
    // parts; 1 GiB also buys CPU.
    memoryMiB: 1024,
    // Lambda's maximum: a backlog drains in as few invocations as possible, each stopping in time.
    timeoutSeconds: 900,
    logRetentionDays: 90,
  },
  alarms: { missedRunPeriods: 3 },
  mailbox: {
    tls: 'implicit',
    auth: 'password',
    schedule: 'rate(15 minutes)',
    timeZone: 'UTC',
    policy: 'delete',
    // Most providers cap messages at 25-50 MB; larger ones stay on the server (oversize "skip").
    maxMessageBytes: 50 * 1024 * 1024,
    oversize: 'skip',
    pipelining: true,
  },
} as const;

const PORT_FOR_TLS: Record<TlsMode, number> = { implicit: 995, starttls: 110, none: 110 };

const TOP_FIELDS = ['stackName', 'archive', 'api', 'puller', 'alarms', 'mailboxes'];
const ARCHIVE_FIELDS = [
  'encryption',
  'objectLock',
  'transition',
  'noncurrentVersionDays',
  'accessLogDays',
];
const API_FIELDS = ['auth', 'jwt', 'throttle', 'accessLogRetentionDays'];
const JWT_FIELDS = ['issuer', 'audience', 'requiredScopes', 'mailboxesClaim'];
/** RFC 6749's scope-token: printable ASCII but space, '"' and '\'. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** Claim names: printable ASCII without spaces (URIs included, as Auth0 requires for custom claims). */
const CLAIM_NAME = /^[\x21-\x7e]{1,256}$/;
/** Registered claims that already mean something else, so they cannot name mailboxes. */
const RESERVED_CLAIMS = ['iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'scope', 'scp'];
const PULLER_FIELDS = ['memoryMiB', 'timeoutSeconds', 'maxConcurrency', 'logRetentionDays'];
const ALARM_FIELDS = ['email', 'missedRunPeriods'];
const MAILBOX_FIELDS = [
  'id',
  'host',
  'port',
  'tls',
  'auth',
  'username',
  'schedule',
  'timeZone',
  'enabled',
  'policy',
  'deleteAfterDays',
  'maxMessageBytes',
  'oversize',
  'maxMessagesPerRun',
  'maxBytesPerRun',
  'pipelining',
  'caPem',
  'pinSha256',
  'secretArn',
  'secretKmsKeyArn',
  'alarmEmail',
];

const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

type Json = Record<string, unknown>;

/** Reads one object level, refusing fields it does not know, and names fields by their path. */
class Reader {
  constructor(
    readonly source: string,
    readonly path: string,
    readonly value: Json,
  ) {}

  static object(source: string, path: string, value: unknown, known: readonly string[]): Reader {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ConfigError(
        source,
        path,
        `must be a JSON object, got ${describe(value)}`,
        `write ${path} as { ... }`,
      );
    }
    const reader = new Reader(source, path, value as Json);
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        throw new ConfigError(
          source,
          reader.name(key),
          'is not a known field',
          `remove it or fix its spelling (known here: ${known.join(', ')})`,
        );
      }
    }
    return reader;
  }

  name(field: string): string {
    return this.path === '' ? field : `${this.path}.${field}`;
  }

  fail(field: string, problem: string, fix: string): never {
    throw new ConfigError(this.source, this.name(field), problem, fix);
  }

  has(field: string): boolean {
    return this.value[field] !== undefined && this.value[field] !== null;
  }

  string(field: string, fallback: string | null, fix: string): string {
    const value = this.value[field];
    if (value === undefined || value === null) {
      if (fallback !== null) return fallback;
      this.fail(field, 'is missing', fix);
    }
    if (typeof value !== 'string' || value.trim() === '') {
      this.fail(field, `must be a non-empty string, got ${describe(value)}`, fix);
    }
    return value;
  }

  optionalString(field: string, fix: string): string | null {
    return this.has(field) ? this.string(field, null, fix) : null;
  }

  choice<T extends string>(
    field: string,
    allowed: readonly T[],
    fallback: T | null,
    fix: string,
  ): T {
    const value = this.value[field] ?? fallback;
    if (value === null) this.fail(field, 'is missing', fix);
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      this.fail(
        field,
        `must be ${allowed.map((a) => `"${a}"`).join(' or ')}, got ${describe(value)}`,
        fix,
      );
    }
    return value as T;
  }

  integer(field: string, min: number, max: number, fallback: number | null, fix: string): number {
    const value = this.value[field] ?? fallback;
    if (value === null) this.fail(field, 'is missing', fix);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(field, `must be a whole number ${min}-${max}, got ${describe(value)}`, fix);
    }
    return value;
  }

  optionalInteger(field: string, min: number, max: number, fix: string): number | null {
    return this.has(field) ? this.integer(field, min, max, null, fix) : null;
  }

  boolean(field: string, fallback: boolean): boolean {
    const value = this.value[field] ?? fallback;
    if (typeof value !== 'boolean') {
      this.fail(
        field,
        `must be true or false, got ${describe(value)}`,
        'use a JSON boolean without quotes',
      );
    }
    return value;
  }

  retention(field: string, fallback: number): number {
    const value = this.value[field] ?? fallback;
    if (typeof value !== 'number' || !(LOG_RETENTION_DAYS as readonly number[]).includes(value)) {
      this.fail(
        field,
        `must be a retention CloudWatch Logs offers, got ${describe(value)}`,
        `use one of ${LOG_RETENTION_DAYS.join(', ')}`,
      );
    }
    return value;
  }

  child(field: string, known: readonly string[]): Reader | null {
    if (!this.has(field)) return null;
    return Reader.object(this.source, this.name(field), this.value[field], known);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare.toLowerCase() === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1';
  return false;
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function readArchive(top: Reader): ArchiveConfig {
  const r = top.child('archive', ARCHIVE_FIELDS) ?? Reader.object(top.source, 'archive', {}, []);
  const encryption = r.choice(
    'encryption',
    ['s3', 'kms'],
    DEFAULTS.archive.encryption,
    '"s3" (S3-managed keys, no cost) or "kms" (a customer-managed key the stack creates)',
  );
  let objectLock: ArchiveConfig['objectLock'] = null;
  const lock = r.child('objectLock', ['mode', 'days']);
  if (lock) {
    objectLock = {
      mode: lock.choice(
        'mode',
        ['governance', 'compliance'],
        null,
        '"governance" (admins with s3:BypassGovernanceRetention can still delete) or "compliance" (nobody can, not even root, until the days pass)',
      ),
      days: lock.integer('days', 1, 36500, null, 'give the retention in days, e.g. 365'),
    };
  }
  let transition: ArchiveConfig['transition'] = null;
  const move = r.child('transition', ['afterDays', 'storageClass']);
  if (move) {
    if (move.value.storageClass === 'GLACIER' || move.value.storageClass === 'DEEP_ARCHIVE') {
      move.fail(
        'storageClass',
        `"${String(move.value.storageClass)}" needs a restore before an object can be read, so the query API's download links would fail`,
        'use "GLACIER_IR" (instant retrieval), "STANDARD_IA" or "INTELLIGENT_TIERING"',
      );
    }
    const storageClass = move.choice<StorageClassName>(
      'storageClass',
      ['STANDARD_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR'],
      null,
      'use "GLACIER_IR" (cheapest that still reads instantly), "STANDARD_IA" or "INTELLIGENT_TIERING"',
    );
    // S3 refuses lifecycle transitions to the IA classes before 30 days.
    const minDays = storageClass === 'STANDARD_IA' ? 30 : 0;
    transition = {
      storageClass,
      afterDays: move.integer(
        'afterDays',
        minDays,
        36500,
        null,
        minDays > 0 ? `S3 needs at least ${minDays} days for ${storageClass}, e.g. 90` : 'e.g. 90',
      ),
    };
  }
  return {
    encryption,
    objectLock,
    transition,
    noncurrentVersionDays: r.integer(
      'noncurrentVersionDays',
      1,
      36500,
      DEFAULTS.archive.noncurrentVersionDays,
      'days to keep overwritten object versions, e.g. 30',
    ),
    accessLogDays: r.integer(
      'accessLogDays',
      1,
      36500,
      DEFAULTS.archive.accessLogDays,
      'days to keep the bucket access logs, e.g. 365',
    ),
  };
}

function readRequiredScopes(jwt: Reader): string[] {
  const scopes = jwt.value.requiredScopes ?? [];
  const fix =
    'list the OAuth scopes every token must carry, e.g. ["popvault/read"], or [] for none';
  if (!Array.isArray(scopes)) {
    jwt.fail('requiredScopes', `must be a list of scopes, got ${describe(scopes)}`, fix);
  }
  for (const scope of scopes) {
    if (typeof scope !== 'string' || !SCOPE_TOKEN.test(scope)) {
      jwt.fail(
        'requiredScopes',
        `holds ${describe(scope)}, which is not an OAuth scope (printable ASCII without spaces, quotes or backslashes)`,
        fix,
      );
    }
  }
  const duplicate = scopes.find((scope, i) => scopes.indexOf(scope) !== i);
  if (duplicate !== undefined) {
    jwt.fail('requiredScopes', `lists ${describe(duplicate)} twice`, 'list each scope once');
  }
  return scopes as string[];
}

function readMailboxesClaim(jwt: Reader): string {
  const fix = `name the token claim that lists the caller's mailbox ids, e.g. "${DEFAULTS.api.mailboxesClaim}"`;
  const claim = jwt.string('mailboxesClaim', DEFAULTS.api.mailboxesClaim, fix);
  if (!CLAIM_NAME.test(claim)) {
    jwt.fail(
      'mailboxesClaim',
      `must be 1-256 printable characters without spaces, got ${describe(claim)}`,
      fix,
    );
  }
  if (RESERVED_CLAIMS.includes(claim)) {
    jwt.fail('mailboxesClaim', `is "${claim}", a registered claim with its own meaning`, fix);
  }
  return claim;
}

function readApi(top: Reader): ApiConfig {
  const r = top.child('api', API_FIELDS) ?? Reader.object(top.source, 'api', {}, []);
  const kind = r.choice(
    'auth',
    ['iam', 'jwt'],
    'iam',
    '"iam" (callers sign with SigV4, the default) or "jwt" (with api.jwt.issuer and api.jwt.audience)',
  );
  let auth: ApiAuth = { kind: 'iam' };
  const jwt = r.child('jwt', JWT_FIELDS);
  if (kind === 'iam' && jwt) {
    r.fail('jwt', 'is set but api.auth is "iam"', 'set api.auth to "jwt", or remove api.jwt');
  }
  if (kind === 'jwt') {
    if (!jwt) {
      return r.fail(
        'jwt',
        'is missing for api.auth "jwt"',
        'add "jwt": { "issuer": "https://...", "audience": ["..."] }',
      );
    }
    const issuer = jwt.string(
      'issuer',
      null,
      'give the identity provider issuer URL, e.g. "https://cognito-idp.eu-west-1.amazonaws.com/<pool-id>"',
    );
    if (!/^https:\/\/[^\s]+$/.test(issuer)) {
      jwt.fail(
        'issuer',
        `must be an https URL, got ${describe(issuer)}`,
        'use the issuer exactly as the tokens\' "iss" claim says',
      );
    }
    const audience = jwt.value.audience;
    if (
      !Array.isArray(audience) ||
      audience.length === 0 ||
      audience.some((a) => typeof a !== 'string' || a.trim() === '')
    ) {
      jwt.fail(
        'audience',
        `must be a non-empty list of strings, got ${describe(audience)}`,
        'list the client ids or "aud" values to accept, e.g. ["popvault-cli"]',
      );
    }
    auth = {
      kind: 'jwt',
      issuer,
      audience: audience as string[],
      requiredScopes: readRequiredScopes(jwt),
      mailboxesClaim: readMailboxesClaim(jwt),
    };
  }
  const throttle = r.child('throttle', ['rateLimit', 'burstLimit']);
  const rateLimit =
    throttle?.integer(
      'rateLimit',
      1,
      10000,
      DEFAULTS.api.rateLimit,
      'requests per second, e.g. 10',
    ) ?? DEFAULTS.api.rateLimit;
  const burstLimit =
    throttle?.integer(
      'burstLimit',
      1,
      5000,
      DEFAULTS.api.burstLimit,
      'concurrent burst, e.g. 20',
    ) ?? DEFAULTS.api.burstLimit;
  return {
    auth,
    throttle: { rateLimit, burstLimit },
    accessLogRetentionDays: r.retention(
      'accessLogRetentionDays',
      DEFAULTS.api.accessLogRetentionDays,
    ),
  };
}

function readPuller(top: Reader, mailboxCount: number): PullerConfig {
  const r = top.child('puller', PULLER_FIELDS) ?? Reader.object(top.source, 'puller', {}, []);
  let maxConcurrency: number | null = mailboxCount;
  if (r.value.maxConcurrency === null) maxConcurrency = null;
  else if (r.has('maxConcurrency')) {
    maxConcurrency = r.integer(
      'maxConcurrency',
      1,
      1000,
      null,
      'a small number such as the mailbox count, or null for no reservation (new accounts with a concurrency quota of 10 cannot reserve any)',
    );
  }
  return {
    memoryMiB: r.integer(
      'memoryMiB',
      256,
      10240,
      DEFAULTS.puller.memoryMiB,
      'MiB of memory, e.g. 1024',
    ),
    timeoutSeconds: r.integer(
      'timeoutSeconds',
      60,
      900,
      DEFAULTS.puller.timeoutSeconds,
      'seconds per run (Lambda allows at most 900); a run stops retrieving in time to finish its writes',
    ),
    maxConcurrency,
    logRetentionDays: r.retention('logRetentionDays', DEFAULTS.puller.logRetentionDays),
  };
}

function readAlarms(top: Reader): AlarmsConfig {
  const r = top.child('alarms', ALARM_FIELDS) ?? Reader.object(top.source, 'alarms', {}, []);
  const email = r.optionalString('email', 'give an e-mail address, or null for no subscription');
  if (email !== null && !EMAIL.test(email)) {
    r.fail('email', `is not an e-mail address: ${describe(email)}`, 'give e.g. "ops@example.com"');
  }
  return {
    email,
    missedRunPeriods: r.integer(
      'missedRunPeriods',
      1,
      100,
      DEFAULTS.alarms.missedRunPeriods,
      'how many scheduled runs in a row may fail before the alarm, e.g. 3',
    ),
  };
}

function readMailbox(source: string, index: number, value: unknown): MailboxConfig {
  const rawId =
    typeof value === 'object' && value !== null && typeof (value as Json).id === 'string'
      ? ` ("${String((value as Json).id).slice(0, 64)}")`
      : '';
  const r = Reader.object(source, `mailboxes[${index}]${rawId}`, value, MAILBOX_FIELDS);
  const id = r.string('id', null, 'give the mailbox a short id such as "personal"');
  if (!MAILBOX_ID.test(id)) {
    r.fail(
      'id',
      `is not usable: ${describe(id)}`,
      'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
    );
  }
  const host = r.string('host', null, 'give the POP3 server host name, e.g. "pop.gmail.com"');
  const tls = r.choice<TlsMode>(
    'tls',
    ['implicit', 'starttls', 'none'],
    DEFAULTS.mailbox.tls,
    'use "implicit" (TLS from the first byte, port 995) or "starttls" (port 110, upgraded with STLS)',
  );
  if (tls === 'none' && !isLoopbackHost(host)) {
    r.fail(
      'tls',
      `is "none" (plaintext) for the non-loopback host ${describe(host)}: the password would cross the network in clear`,
      'use "implicit" (port 995) or "starttls" (port 110)',
    );
  }
  const port = r.integer(
    'port',
    1,
    65535,
    PORT_FOR_TLS[tls],
    'use 995 for implicit TLS or 110 for STLS',
  );
  const auth = r.choice<AuthMethod>(
    'auth',
    ['password', 'oauth2'],
    DEFAULTS.mailbox.auth,
    'use "password" (USER/PASS, APOP or SASL PLAIN) or "oauth2" (XOAUTH2 with a token endpoint)',
  );
  const username = r.string('username', null, 'give the login name, e.g. "alice@example.com"');
  const expression = r.string('schedule', DEFAULTS.mailbox.schedule, 'use e.g. "rate(15 minutes)"');
  let schedule: ParsedSchedule;
  try {
    schedule = parseSchedule(expression);
  } catch (error) {
    if (error instanceof ScheduleError) r.fail('schedule', error.problem, error.fix);
    throw error;
  }
  const timeZone = r.string(
    'timeZone',
    DEFAULTS.mailbox.timeZone,
    'use an IANA name such as "Europe/Berlin"',
  );
  if (!isTimeZone(timeZone)) {
    r.fail(
      'timeZone',
      `is not a time zone: ${describe(timeZone)}`,
      'use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"',
    );
  }
  const policy = r.choice<Policy>(
    'policy',
    ['delete', 'keep', 'delete-after-days'],
    DEFAULTS.mailbox.policy,
    'use "delete" (remove from the server once archived), "keep" or "delete-after-days"',
  );
  let deleteAfterDays: number | null = null;
  if (policy === 'delete-after-days') {
    deleteAfterDays = r.integer(
      'deleteAfterDays',
      0,
      36500,
      null,
      'give the days to leave archived mail on the server, e.g. 30',
    );
  } else if (r.has('deleteAfterDays')) {
    r.fail(
      'deleteAfterDays',
      `is set but policy is "${policy}"`,
      policy === 'keep'
        ? 'remove it (policy "keep" never deletes), or set policy to "delete-after-days"'
        : 'remove it, or set policy to "delete-after-days"',
    );
  }
  if (r.value.oversize === 'delete') {
    r.fail(
      'oversize',
      'is "delete", but popvault never deletes a message it has not archived',
      policy === 'keep'
        ? 'use "skip" (leave it on the server, reported) or "store" (archive it anyway); policy "keep" deletes nothing'
        : 'use "skip" (leave it on the server, reported) or "store" (archive it anyway, then apply the policy)',
    );
  }
  const oversize = r.choice<'skip' | 'store'>(
    'oversize',
    ['skip', 'store'],
    DEFAULTS.mailbox.oversize,
    'use "skip" (leave large mail on the server) or "store"',
  );
  let maxMessageBytes: number | null = DEFAULTS.mailbox.maxMessageBytes;
  if (r.value.maxMessageBytes === null) maxMessageBytes = null;
  else if (r.has('maxMessageBytes')) {
    maxMessageBytes = r.integer(
      'maxMessageBytes',
      1024,
      1024 ** 4,
      null,
      'bytes, e.g. 52428800 for 50 MiB, or null for no limit',
    );
  }
  const caPem = r.optionalString('caPem', 'paste the PEM text, or remove the field');
  if (caPem !== null && !caPem.includes('BEGIN CERTIFICATE')) {
    r.fail(
      'caPem',
      'is not a PEM certificate',
      'paste the CA certificate including its BEGIN/END lines, or remove the field',
    );
  }
  const secretArn = r.optionalString(
    'secretArn',
    'give the full ARN, or remove it to let the stack create the secret',
  );
  if (secretArn !== null && !SECRET_ARN.test(secretArn)) {
    r.fail(
      'secretArn',
      `is not a Secrets Manager secret ARN: ${describe(secretArn)}`,
      'copy the full ARN from "aws secretsmanager describe-secret", or remove it',
    );
  }
  const secretKmsKeyArn = r.optionalString('secretKmsKeyArn', 'give the key ARN');
  if (secretKmsKeyArn !== null) {
    if (secretArn === null) {
      r.fail(
        'secretKmsKeyArn',
        'is set without secretArn',
        'remove it: secrets the stack creates use the account default key',
      );
    }
    if (!KMS_KEY_ARN.test(secretKmsKeyArn)) {
      r.fail(
        'secretKmsKeyArn',
        `is not a KMS key ARN: ${describe(secretKmsKeyArn)}`,
        'give "arn:aws:kms:<region>:<account>:key/<key-id>"',
      );
    }
  }
  const alarmEmail = r.optionalString('alarmEmail', 'give an e-mail address or remove the field');
  if (alarmEmail !== null && !EMAIL.test(alarmEmail)) {
    r.fail(
      'alarmEmail',
      `is not an e-mail address: ${describe(alarmEmail)}`,
      'give e.g. "alice@example.com"',
    );
  }
  const mailbox: MailboxConfig = {
    id,
    host,
    port,
    tls,
    auth,
    username,
    schedule,
    timeZone,
    enabled: r.boolean('enabled', true),
    policy,
    deleteAfterDays,
    maxMessageBytes,
    oversize,
    maxMessagesPerRun: r.optionalInteger(
      'maxMessagesPerRun',
      1,
      1_000_000,
      'a positive number, e.g. 1000, or remove it',
    ),
    maxBytesPerRun: r.optionalInteger(
      'maxBytesPerRun',
      1024,
      1024 ** 4,
      'bytes, e.g. 1073741824 for 1 GiB, or remove it',
    ),
    pipelining: r.boolean('pipelining', DEFAULTS.mailbox.pipelining),
    caPem,
    pinSha256: r.optionalString('pinSha256', 'give the SHA-256 certificate fingerprint'),
    secretArn,
    secretKmsKeyArn,
    alarmEmail,
  };
  // The puller validates its settings with this same function at cold start: whatever passes here
  // runs there.
  try {
    parseMailboxSettings(
      mailboxSettingsInput(mailbox, 'arn:aws:secretsmanager:us-east-1:000000000000:secret:check'),
    );
  } catch (error) {
    if (!(error instanceof MailboxSettingsError)) throw error;
    const parts = /^mailbox setting "([^"]+)" (.*?); (.*)$/s.exec(error.message);
    const field = parts?.[1] ?? 'id';
    r.fail(
      field === 'mailboxId' ? 'id' : field,
      parts?.[2] ?? 'is refused by the puller',
      parts?.[3] ?? error.message,
    );
  }
  return mailbox;
}

/**
 * One mailbox's settings as its puller function gets them at deploy (POPVAULT_MAILBOX): exactly the
 * object `parseMailboxSettings` accepts, with the secret's id but never its value. Unset options are
 * left out rather than written as null.
 */
export function mailboxSettingsInput(
  mailbox: MailboxConfig,
  secretId: string,
): Record<string, unknown> {
  const event: Record<string, unknown> = {
    mailboxId: mailbox.id,
    host: mailbox.host,
    port: mailbox.port,
    tls: mailbox.tls,
    insecure: mailbox.tls === 'none',
    pipelining: mailbox.pipelining,
    secretId,
    policy: mailbox.policy,
    oversize: mailbox.oversize,
  };
  if (mailbox.deleteAfterDays !== null) event.deleteAfterDays = mailbox.deleteAfterDays;
  if (mailbox.maxMessageBytes !== null) event.maxMessageBytes = mailbox.maxMessageBytes;
  if (mailbox.maxMessagesPerRun !== null) event.maxMessagesPerRun = mailbox.maxMessagesPerRun;
  if (mailbox.maxBytesPerRun !== null) event.maxBytesPerRun = mailbox.maxBytesPerRun;
  if (mailbox.caPem !== null) event.caPem = mailbox.caPem;
  if (mailbox.pinSha256 !== null) event.pinSha256 = mailbox.pinSha256;
  return event;
}

/** Validates a parsed config document. `source` names it in messages. */
export function parseConfig(document: unknown, source: string): PopvaultConfig {
  const top = Reader.object(source, '', document, TOP_FIELDS);
  const stackName = top.string('stackName', DEFAULTS.stackName, 'use e.g. "Popvault"');
  if (!STACK_NAME.test(stackName)) {
    top.fail(
      'stackName',
      `is not a CloudFormation stack name: ${describe(stackName)}`,
      'use letters, digits and "-", starting with a letter',
    );
  }
  const list = top.value.mailboxes;
  if (!Array.isArray(list) || list.length === 0) {
    return top.fail(
      'mailboxes',
      `must be a non-empty list, got ${describe(list)}`,
      'list at least one mailbox: [{ "id": ..., "host": ..., "username": ... }]',
    );
  }
  const mailboxes = list.map((value, index) => readMailbox(source, index, value));
  const seen = new Map<string, number>();
  for (const [index, mailbox] of mailboxes.entries()) {
    // Ids are partition keys and metric dimensions; "Work" and "work" would be two archives that
    // look like one in every listing.
    const key = mailbox.id.toLowerCase();
    const first = seen.get(key);
    if (first !== undefined) {
      throw new ConfigError(
        source,
        `mailboxes[${index}].id`,
        `"${mailbox.id}" is already used by mailboxes[${first}]`,
        'give every mailbox its own id (ids are compared ignoring case)',
      );
    }
    seen.set(key, index);
  }
  const alarms = readAlarms(top);
  for (const [index, mailbox] of mailboxes.entries())
    checkAlarmWindow(source, index, mailbox, alarms);
  return {
    source,
    stackName,
    archive: readArchive(top),
    api: readApi(top),
    puller: readPuller(top, mailboxes.length),
    alarms,
    mailboxes,
  };
}

/**
 * CloudWatch evaluates at most 1 day of data for periods under an hour, 7 days otherwise; the
 * missed-run alarm needs `missedRunPeriods` scheduled runs to fit.
 */
export const ALARM_WINDOW_LIMIT_MINUTES = 7 * 1440;

function checkAlarmWindow(
  source: string,
  index: number,
  mailbox: MailboxConfig,
  alarms: AlarmsConfig,
): void {
  const span = mailbox.schedule.spanMinutes(alarms.missedRunPeriods);
  if (span > ALARM_WINDOW_LIMIT_MINUTES - 60) {
    throw new ConfigError(
      source,
      `mailboxes[${index}] ("${mailbox.id}").schedule`,
      `leaves up to ${Math.round(span / 60)} hours between ${alarms.missedRunPeriods} runs, longer than the 7 days a CloudWatch alarm can watch`,
      'run at least daily, or lower alarms.missedRunPeriods',
    );
  }
}

export interface ConfigChoice {
  path: string;
  /** Why this file: shown on stderr so nobody deploys the example by accident. */
  reason: string;
}

export const DEFAULT_CONFIG_FILE = 'popvault.config.json';
export const EXAMPLE_CONFIG_FILE = 'popvault.config.example.json';

/**
 * Which file to read: `-c config=<path>` on the cdk command line, else the POPVAULT_CONFIG environment
 * variable, else ./popvault.config.json, else the checked-in example (so a fresh clone and CI synth).
 */
export function chooseConfigFile(options: {
  context: unknown;
  env: Record<string, string | undefined>;
  cwd: string;
}): ConfigChoice {
  if (options.context !== undefined) {
    if (typeof options.context !== 'string' || options.context === '') {
      throw new ConfigError(
        'cdk context',
        'config',
        'must be a file path',
        'run e.g. "npx cdk deploy -c config=popvault.config.json"',
      );
    }
    return { path: resolve(options.cwd, options.context), reason: 'from -c config=...' };
  }
  const fromEnv = options.env.POPVAULT_CONFIG;
  if (fromEnv) return { path: resolve(options.cwd, fromEnv), reason: 'from POPVAULT_CONFIG' };
  const own = resolve(options.cwd, DEFAULT_CONFIG_FILE);
  if (existsSync(own)) return { path: own, reason: `default ${DEFAULT_CONFIG_FILE}` };
  return {
    path: resolve(options.cwd, EXAMPLE_CONFIG_FILE),
    reason: `no ${DEFAULT_CONFIG_FILE} found, using the example (copy it to ${DEFAULT_CONFIG_FILE} and edit it before deploying)`,
  };
}

export function loadConfig(path: string): PopvaultConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(
      path,
      'file',
      `cannot be read (${code})`,
      `create it (start from ${EXAMPLE_CONFIG_FILE}) or point -c config=... at the right file`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      path,
      'file',
      `is not valid JSON (${(error as Error).message})`,
      'fix the JSON syntax (no comments, no trailing commas)',
    );
  }
  return parseConfig(document, path);
}
