import * as z from 'zod/mini';
import { MAILBOX_ID } from '../archive/mailbox-id.js';
import type { ServerPolicy } from '../pull/pull-options.js';
import { parseSettings, report, withFix } from './setting-issues.js';

/**
 * One mailbox's settings, declared once: the config file's mailboxes (config-mailbox.ts), the
 * `popvault pull` flags and the puller function's POPVAULT_MAILBOX all read these fields under these
 * names, and the types below are inferred from the schemas. zod/mini, so the puller's bundle pays
 * for the validators it uses and no locale.
 */

/** How the connection is secured: TLS from the first byte, STLS, or plaintext (loopback only). */
export const TlsModeSchema = z.enum(['implicit', 'starttls', 'none']);
export type TlsMode = z.infer<typeof TlsModeSchema>;
export const DEFAULT_PORT: Record<TlsMode, number> = { implicit: 995, starttls: 110, none: 110 };

export const PolicyNameSchema = z.enum(['delete', 'keep', 'delete-after-days']);
export type PolicyName = z.infer<typeof PolicyNameSchema>;
export const OversizeSchema = z.enum(['skip', 'store']);
export type Oversize = z.infer<typeof OversizeSchema>;

const HOST = /^[A-Za-z0-9.-]{1,253}$|^\[?[0-9A-Fa-f:.]+\]?$/;
const FINGERPRINT = /^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$/;

export const mailboxIdField = () =>
  withFix(
    z.string().check(z.regex(MAILBOX_ID)),
    'use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit',
  );
export const hostField = () =>
  withFix(z.string().check(z.regex(HOST)), 'give the POP3 server host name, e.g. "pop.gmail.com"');
export const portField = () =>
  withFix(
    z.int().check(z.minimum(1), z.maximum(65535)),
    'use 995 for implicit TLS or 110 for STLS',
  );
export const tlsField = () =>
  withFix(
    z.enum(TlsModeSchema.options),
    'use "implicit" (TLS from the first byte, port 995) or "starttls" (port 110, upgraded with STLS)',
  );
export const caPemField = () =>
  withFix(
    z.string().check(
      z.refine((pem) => pem.includes('BEGIN CERTIFICATE'), {
        params: {
          problem: 'is not a PEM certificate',
          fix: 'paste the CA certificate including its BEGIN/END lines, or remove the field',
        },
      }),
    ),
    'paste the CA certificate including its BEGIN/END lines, or remove the field',
  );
export const pinField = () =>
  withFix(
    z.string().check(
      z.refine((pin) => FINGERPRINT.test(pin), {
        params: {
          problem: 'is not a SHA-256 fingerprint',
          fix: 'use 64 hex digits, colons optional (openssl x509 -fingerprint -sha256)',
        },
      }),
    ),
    'use 64 hex digits, colons optional (openssl x509 -fingerprint -sha256)',
  );
export const policyField = () =>
  withFix(
    z.enum(PolicyNameSchema.options),
    'use "delete" (remove from the server once archived), "keep" or "delete-after-days"',
  );
export const deleteAfterDaysField = () =>
  withFix(
    z.int().check(z.minimum(0), z.maximum(36500)),
    'give the days to leave archived mail on the server, e.g. 30',
  );
export const oversizeField = () =>
  withFix(
    z.enum(OversizeSchema.options),
    (parent) =>
      parent.policy === 'keep'
        ? 'use "skip" (leave it on the server, reported) or "store" (archive it anyway); policy "keep" deletes nothing'
        : 'use "skip" (leave it on the server, reported) or "store" (archive it anyway, then apply the policy)',
    (input) =>
      input === 'delete'
        ? { problem: 'is "delete", but popvault never deletes a message it has not archived' }
        : undefined,
  );

/**
 * A byte limit below 1 KiB would refuse every real message (headers alone take more), and one above
 * 1 TiB is a typo rather than a plan; both are refused instead of running a pull that does nothing
 * or nothing bounded.
 */
export const BYTE_LIMIT_RANGE = { min: 1024, max: 1024 ** 4 } as const;
/** More messages than this in one run is past what a listing holds (MAX_LISTING_ENTRIES). */
export const MAX_MESSAGES_PER_RUN_LIMIT = 1_000_000;

const byteLimit = (fix: string) =>
  withFix(z.int().check(z.minimum(BYTE_LIMIT_RANGE.min), z.maximum(BYTE_LIMIT_RANGE.max)), fix);
export const maxMessageBytesField = () =>
  byteLimit('give bytes, e.g. 52428800 for 50 MiB, or null for no limit');
export const maxBytesPerRunField = () =>
  byteLimit('give bytes, e.g. 1073741824 for 1 GiB, or remove it');
export const maxMessagesPerRunField = () =>
  withFix(
    z.int().check(z.minimum(1), z.maximum(MAX_MESSAGES_PER_RUN_LIMIT)),
    'give a positive number, e.g. 1000, or remove it',
  );

/** Checks that hold wherever a mailbox's policy is written: a deleting option needs its policy. */
export function checkPolicy(
  value: { policy?: PolicyName; deleteAfterDays?: number | null | undefined },
  issues: { push(issue: z.core.$ZodRawIssue): void },
): void {
  const policy = value.policy ?? 'delete';
  const days = value.deleteAfterDays;
  if (policy === 'delete-after-days' && (days === undefined || days === null)) {
    report(issues, days, ['deleteAfterDays'], {
      problem: 'is missing',
      fix: 'give the days to leave archived mail on the server, e.g. 30',
    });
  }
  if (policy !== 'delete-after-days' && days !== undefined && days !== null) {
    report(issues, days, ['deleteAfterDays'], {
      problem: `is set but policy is "${policy}" (it only applies to policy "delete-after-days")`,
      fix:
        policy === 'keep'
          ? 'remove it (policy "keep" never deletes), or set policy to "delete-after-days"'
          : 'remove it, or set policy to "delete-after-days"',
    });
  }
}

/**
 * One mailbox's settings as the stack fixes them at synth into that mailbox's own puller function
 * (the POPVAULT_MAILBOX environment variable, see infra/constructs/puller-function.ts): the server,
 * how to trust it, the id of the secret holding the credentials (never the credentials themselves),
 * the policy and the limits. No event can change them. Validated strictly, by the config loader at
 * synth and again by the function at cold start: an unknown or malformed field is an error that
 * names the field and the fix, not a run that half-works.
 */
export const MailboxSettingsSchema = z
  .strictObject({
    mailboxId: mailboxIdField(),
    host: hostField(),
    port: portField(),
    tls: tlsField(),
    insecure: z._default(z.boolean(), false),
    pipelining: z._default(z.boolean(), true),
    /** PEM of extra CA certificates to trust for this server. */
    caPem: z._default(z.nullable(caPemField()), null),
    pinSha256: z._default(z.nullable(pinField()), null),
    /** Secrets Manager id (ARN or name) of the mailbox's credentials JSON. */
    secretId: withFix(
      z.string().check(z.minLength(1)),
      'give the ARN or name of the mailbox secret',
    ),
    policy: z._default(policyField(), 'delete'),
    deleteAfterDays: z.optional(deleteAfterDaysField()),
    maxMessageBytes: z._default(z.nullable(maxMessageBytesField()), null),
    oversize: z._default(oversizeField(), 'skip'),
    maxMessagesPerRun: z._default(z.nullable(maxMessagesPerRunField()), null),
    maxBytesPerRun: z._default(z.nullable(maxBytesPerRunField()), null),
  })
  .check(
    z.superRefine((value, ctx) => {
      if (value.tls === 'none' && !value.insecure) {
        report(ctx.issues, value.tls, ['tls'], {
          problem: 'is "none" (plaintext) without "insecure": true',
          fix: 'use "implicit" or "starttls"; plaintext is for loopback tests only',
        });
      }
      checkPolicy(value, ctx.issues);
    }),
  );

type MailboxSettingsInput = z.output<typeof MailboxSettingsSchema>;
export type MailboxSettings = Omit<MailboxSettingsInput, 'policy' | 'deleteAfterDays'> & {
  policy: ServerPolicy;
};

export class MailboxSettingsError extends Error {
  override name = 'MailboxSettingsError';
  readonly code = 'INVALID_MAILBOX_SETTINGS';

  /** The setting at fault (empty when the whole input is), what is wrong with it, and the fix. */
  constructor(
    message: string,
    readonly field = '',
    readonly problem = '',
    readonly fix = '',
  ) {
    super(message);
  }
}

/** The policy as the pull reads it: `delete-after-days` carries its days. */
export function serverPolicy(name: PolicyName, days: number | null | undefined): ServerPolicy {
  return name === 'delete-after-days' ? { kind: name, days: days ?? 0 } : { kind: name };
}

export function parseMailboxSettings(settings: unknown): MailboxSettings {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new MailboxSettingsError(
      'the mailbox settings must be a JSON object (see README, "mailboxes")',
    );
  }
  const input = settings as Record<string, unknown>;
  const parsed = parseSettings(MailboxSettingsSchema, input, 'setting');
  if (!parsed.ok) {
    const { path, problem, fix } = parsed.problem;
    // Never the value of a field it does not know: a forged setting may carry a password.
    const field = String(path[0] ?? '');
    throw new MailboxSettingsError(
      `mailbox setting "${field}" ${problem}; ${fix}`,
      field,
      problem,
      fix,
    );
  }
  const { deleteAfterDays, policy, ...rest } = parsed.value;
  return { ...rest, policy: serverPolicy(policy, deleteAfterDays) };
}
