import { isIP } from 'node:net';
import * as z from 'zod/mini';
import { MAILBOX_ID } from '../archive/mailbox-id.js';
import {
  caPemField,
  checkPolicy,
  DEFAULT_PORT,
  deleteAfterDaysField,
  hostField,
  type MailboxSettings,
  maxBytesPerRunField,
  maxMessageBytesField,
  maxMessagesPerRunField,
  oversizeField,
  pinField,
  policyField,
  portField,
  tlsField,
} from './mailbox-settings.js';
import { type ParsedSchedule, parseSchedule, ScheduleError } from './schedule.js';
import { describe, report, withFix } from './setting-issues.js';

/**
 * A mailbox as the config file writes it (`mailboxes[]`): the shared settings of mailbox-settings.ts
 * under the same names, plus what only the stack needs (schedule, credentials template, alarms).
 */

/** The shape of the credentials template the stack writes for a mailbox (not the POP3 mechanism). */
export const CredentialsKindSchema = z.enum(['password', 'oauth2']);
export type CredentialsKind = z.infer<typeof CredentialsKindSchema>;

export const MAILBOX_DEFAULTS = {
  tls: 'implicit',
  auth: 'password',
  schedule: 'rate(15 minutes)',
  timeZone: 'UTC',
  policy: 'delete',
  // Most providers cap messages at 25-50 MB; larger ones stay on the server (oversize "skip").
  maxMessageBytes: 50 * 1024 * 1024,
  oversize: 'skip',
  pipelining: true,
} as const;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/** A string with something in it besides spaces. */
export function text(fix: string) {
  return withFix(z.string().check(z.refine((value) => value.trim() !== '')), fix);
}

/** A string that must also match `pattern`; `problem` words the mismatch. */
export function matching(
  accepts: RegExp | ((value: string) => boolean),
  problem: string,
  fix: string,
  fixBlank = fix,
) {
  const blank = z.refine<string>((value) => value.trim() !== '');
  // A pattern is declared as one, so the generated JSON Schema carries it to editors too.
  const check =
    accepts instanceof RegExp ? z.regex(accepts) : z.refine<string>((value) => accepts(value));
  return withFix(z.string().check(blank, check), fixBlank, (input) =>
    typeof input === 'string' && input.trim() !== ''
      ? { problem: `${problem}: ${describe(input)}`, fix }
      : undefined,
  );
}

const optional = <T extends z.ZodMiniType>(schema: T) => z._default(z.nullable(schema), null);

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

const scheduleField = () =>
  z.pipe(
    text('use e.g. "rate(15 minutes)"'),
    z.transform((expression: string, ctx): ParsedSchedule => {
      try {
        return parseSchedule(expression);
      } catch (error) {
        if (!(error instanceof ScheduleError)) throw error;
        report(ctx.issues, expression, [], { problem: error.problem, fix: error.fix });
        return z.NEVER;
      }
    }),
  );

/** `mailboxes[]` in the config file. Fields are read, and refused, in this order. */
export const ConfigMailboxSchema = z
  .strictObject({
    id: matching(
      MAILBOX_ID,
      'is not usable',
      'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
      'give the mailbox a short id such as "personal"',
    ),
    host: hostField(),
    tls: z._default(tlsField(), MAILBOX_DEFAULTS.tls),
    port: z.optional(portField()),
    auth: z._default(
      withFix(
        z.enum(CredentialsKindSchema.options),
        'use "password" (USER/PASS, APOP or SASL PLAIN) or "oauth2" (XOAUTH2 with a token endpoint)',
      ),
      MAILBOX_DEFAULTS.auth,
    ),
    /** Not secret: shown in the credentials template the stack outputs. */
    username: text('give the login name, e.g. "alice@example.com"'),
    schedule: z.prefault(scheduleField(), MAILBOX_DEFAULTS.schedule),
    timeZone: z._default(
      matching(
        isTimeZone,
        'is not a time zone',
        'use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"',
        'use an IANA name such as "Europe/Berlin"',
      ),
      MAILBOX_DEFAULTS.timeZone,
    ),
    enabled: z._default(z.boolean(), true),
    policy: z._default(policyField(), MAILBOX_DEFAULTS.policy),
    deleteAfterDays: optional(deleteAfterDaysField()),
    oversize: z._default(oversizeField(), MAILBOX_DEFAULTS.oversize),
    maxMessageBytes: z._default(
      z.nullable(maxMessageBytesField()),
      MAILBOX_DEFAULTS.maxMessageBytes,
    ),
    maxMessagesPerRun: optional(maxMessagesPerRunField()),
    maxBytesPerRun: optional(maxBytesPerRunField()),
    pipelining: z._default(z.boolean(), MAILBOX_DEFAULTS.pipelining),
    caPem: optional(caPemField()),
    pinSha256: optional(pinField()),
    /** An existing secret (complete ARN) instead of one the stack creates. */
    secretArn: optional(
      matching(
        SECRET_ARN,
        'is not a Secrets Manager secret ARN',
        'copy the full ARN from "aws secretsmanager describe-secret", or remove it',
      ),
    ),
    /** The customer-managed KMS key that encrypts `secretArn`, when it is not the account default. */
    secretKmsKeyArn: optional(
      matching(
        KMS_KEY_ARN,
        'is not a KMS key ARN',
        'give "arn:aws:kms:<region>:<account>:key/<key-id>"',
      ),
    ),
    alarmEmail: optional(
      matching(EMAIL, 'is not an e-mail address', 'give e.g. "alice@example.com"'),
    ),
  })
  .check(
    z.superRefine((box, ctx) => {
      if (box.tls === 'none' && !isLoopbackHost(box.host)) {
        report(ctx.issues, box.tls, ['tls'], {
          problem: `is "none" (plaintext) for the non-loopback host ${describe(box.host)}: the password would cross the network in clear`,
          fix: 'use "implicit" (port 995) or "starttls" (port 110)',
        });
      }
      checkPolicy(box, ctx.issues);
      if (box.secretKmsKeyArn !== null && box.secretArn === null) {
        report(ctx.issues, box.secretKmsKeyArn, ['secretKmsKeyArn'], {
          problem: 'is set without secretArn',
          fix: 'remove it: secrets the stack creates use the account default key',
        });
      }
    }),
  );

export type MailboxConfig = Omit<z.output<typeof ConfigMailboxSchema>, 'port'> & { port: number };

/** The port follows `tls` when it is not given. */
export function withPort(box: z.output<typeof ConfigMailboxSchema>): MailboxConfig {
  return { ...box, port: box.port ?? DEFAULT_PORT[box.tls] };
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
  const optionalFields = [
    'deleteAfterDays',
    'maxMessageBytes',
    'maxMessagesPerRun',
    'maxBytesPerRun',
    'caPem',
    'pinSha256',
  ] as const satisfies readonly (
    | (keyof MailboxConfig & keyof MailboxSettings)
    | 'deleteAfterDays'
  )[];
  for (const field of optionalFields) {
    if (mailbox[field] !== null) event[field] = mailbox[field];
  }
  return event;
}
