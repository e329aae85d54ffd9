import * as z from 'zod/mini';
import { matching, text } from './config-mailbox.js';
import { describe, report, withFix } from './setting-issues.js';

/**
 * The config file's deployment sections (archive, api, puller, alarms): how the stack is built
 * around the mailboxes. Defaults live in CONFIG_DEFAULTS, in one place.
 */

/** CloudWatch Logs accepts only these retention periods. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
  3653,
] as const;

export const CONFIG_DEFAULTS = {
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
} as const;

/** RFC 6749's scope-token: printable ASCII but space, '"' and '\'. */
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** Claim names: printable ASCII without spaces (URIs included, as Auth0 requires for custom claims). */
const CLAIM_NAME = /^[\x21-\x7e]{1,256}$/;
/** Registered claims that already mean something else, so they cannot name mailboxes. */
const RESERVED_CLAIMS = ['iss', 'aud', 'exp', 'nbf', 'iat', 'jti', 'scope', 'scp'];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export const wholeNumber = (min: number, max: number, fix: string) =>
  withFix(z.int().check(z.minimum(min), z.maximum(max)), fix);

const retention = () =>
  withFix(
    z.literal(LOG_RETENTION_DAYS),
    `use one of ${LOG_RETENTION_DAYS.join(', ')}`,
    (input) => ({ problem: `must be a retention CloudWatch Logs offers, got ${describe(input)}` }),
  );

const StorageClassSchema = z.enum(['STANDARD_IA', 'INTELLIGENT_TIERING', 'GLACIER_IR']);
export type StorageClassName = z.infer<typeof StorageClassSchema>;

const storageClassField = withFix(
  z.enum(StorageClassSchema.options),
  'use "GLACIER_IR" (cheapest that still reads instantly), "STANDARD_IA" or "INTELLIGENT_TIERING"',
  (input) =>
    input === 'GLACIER' || input === 'DEEP_ARCHIVE'
      ? {
          problem: `"${input}" needs a restore before an object can be read, so the query API's download links would fail`,
          fix: 'use "GLACIER_IR" (instant retrieval), "STANDARD_IA" or "INTELLIGENT_TIERING"',
        }
      : undefined,
);

const TransitionSchema = z
  .strictObject({
    storageClass: storageClassField,
    afterDays: wholeNumber(0, 36500, 'e.g. 90'),
  })
  .check(
    z.superRefine((move, ctx) => {
      // S3 refuses lifecycle transitions to the IA classes before 30 days.
      if (move.storageClass === 'STANDARD_IA' && move.afterDays < 30) {
        report(ctx.issues, move.afterDays, ['afterDays'], {
          problem: `must be a whole number 30-36500, got ${describe(move.afterDays)}`,
          fix: `S3 needs at least 30 days for ${move.storageClass}, e.g. 90`,
        });
      }
    }),
  );

export const ArchiveSchema = z.strictObject({
  encryption: z._default(
    withFix(
      z.enum(['s3', 'kms']),
      '"s3" (S3-managed keys, no cost) or "kms" (a customer-managed key the stack creates)',
    ),
    CONFIG_DEFAULTS.archive.encryption,
  ),
  objectLock: z._default(
    z.nullable(
      z.strictObject({
        mode: withFix(
          z.enum(['governance', 'compliance']),
          '"governance" (admins with s3:BypassGovernanceRetention can still delete) or "compliance" (nobody can, not even root, until the days pass)',
        ),
        days: wholeNumber(1, 36500, 'give the retention in days, e.g. 365'),
      }),
    ),
    null,
  ),
  transition: z._default(z.nullable(TransitionSchema), null),
  noncurrentVersionDays: z._default(
    wholeNumber(1, 36500, 'days to keep overwritten object versions, e.g. 30'),
    CONFIG_DEFAULTS.archive.noncurrentVersionDays,
  ),
  accessLogDays: z._default(
    wholeNumber(1, 36500, 'days to keep the bucket access logs, e.g. 365'),
    CONFIG_DEFAULTS.archive.accessLogDays,
  ),
});
export type ArchiveConfig = z.output<typeof ArchiveSchema>;

const scopesFix =
  'list the OAuth scopes every token must carry, e.g. ["popvault/read"], or [] for none';
const claimFix = `name the token claim that lists the caller's mailbox ids, e.g. "${CONFIG_DEFAULTS.api.mailboxesClaim}"`;

const JwtSchema = z.strictObject({
  issuer: matching(
    /^https:\/\/[^\s]+$/,
    'is not an https URL',
    'use the issuer exactly as the tokens\' "iss" claim says',
    'give the identity provider issuer URL, e.g. "https://cognito-idp.eu-west-1.amazonaws.com/<pool-id>"',
  ),
  audience: withFix(
    z
      .array(text('list the client ids or "aud" values to accept, e.g. ["popvault-cli"]'))
      .check(z.minLength(1)),
    'list the client ids or "aud" values to accept, e.g. ["popvault-cli"]',
    (input) => ({ problem: `must be a non-empty list of strings, got ${describe(input)}` }),
  ),
  /** Scopes every token must carry (API Gateway checks for one of them, the app for all). */
  requiredScopes: z._default(
    withFix(
      z.array(withFix(z.string(), scopesFix)).check(
        z.superRefine((scopes, ctx) => {
          const bad = scopes.find((scope) => !SCOPE_TOKEN.test(scope));
          const twice = scopes.find((scope, i) => scopes.indexOf(scope) !== i);
          if (bad !== undefined) {
            report(ctx.issues, bad, [], {
              problem: `holds ${describe(bad)}, which is not an OAuth scope (printable ASCII without spaces, quotes or backslashes)`,
              fix: scopesFix,
            });
          } else if (twice !== undefined) {
            report(ctx.issues, twice, [], {
              problem: `lists ${describe(twice)} twice`,
              fix: 'list each scope once',
            });
          }
        }),
      ),
      scopesFix,
      (input) => ({ problem: `must be a list of scopes, got ${describe(input)}` }),
    ),
    [],
  ),
  /** The claim naming the mailboxes a token may read (functions/query-api/jwt-access.ts). */
  mailboxesClaim: z._default(
    withFix(
      z.string().check(
        z.refine((claim) => claim.trim() !== ''),
        z.superRefine((claim, ctx) => {
          if (claim.trim() === '') return;
          if (!CLAIM_NAME.test(claim)) {
            report(ctx.issues, claim, [], {
              problem: `must be 1-256 printable characters without spaces, got ${describe(claim)}`,
              fix: claimFix,
            });
          } else if (RESERVED_CLAIMS.includes(claim)) {
            report(ctx.issues, claim, [], {
              problem: `is "${claim}", a registered claim with its own meaning`,
              fix: claimFix,
            });
          }
        }),
      ),
      claimFix,
    ),
    CONFIG_DEFAULTS.api.mailboxesClaim,
  ),
});

export const ApiSchema = z
  .strictObject({
    auth: z._default(
      withFix(
        z.enum(['iam', 'jwt']),
        '"iam" (callers sign with SigV4, the default) or "jwt" (with api.jwt.issuer and api.jwt.audience)',
      ),
      'iam',
    ),
    jwt: z._default(z.nullable(JwtSchema), null),
    throttle: z._default(
      z.nullable(
        z.strictObject({
          rateLimit: z._default(
            wholeNumber(1, 10000, 'requests per second, e.g. 10'),
            CONFIG_DEFAULTS.api.rateLimit,
          ),
          burstLimit: z._default(
            wholeNumber(1, 5000, 'concurrent burst, e.g. 20'),
            CONFIG_DEFAULTS.api.burstLimit,
          ),
        }),
      ),
      null,
    ),
    accessLogRetentionDays: z._default(retention(), CONFIG_DEFAULTS.api.accessLogRetentionDays),
  })
  .check(
    z.superRefine((api, ctx) => {
      if (api.auth === 'iam' && api.jwt !== null) {
        report(ctx.issues, api.jwt, ['jwt'], {
          problem: 'is set but api.auth is "iam"',
          fix: 'set api.auth to "jwt", or remove api.jwt',
        });
      }
      if (api.auth === 'jwt' && api.jwt === null) {
        report(ctx.issues, api.jwt, ['jwt'], {
          problem: 'is missing for api.auth "jwt"',
          fix: 'add "jwt": { "issuer": "https://...", "audience": ["..."] }',
        });
      }
    }),
  );

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

export function apiConfig(api: z.output<typeof ApiSchema>): ApiConfig {
  return {
    auth: api.jwt === null ? { kind: 'iam' } : { kind: 'jwt', ...api.jwt },
    throttle: api.throttle ?? {
      rateLimit: CONFIG_DEFAULTS.api.rateLimit,
      burstLimit: CONFIG_DEFAULTS.api.burstLimit,
    },
    accessLogRetentionDays: api.accessLogRetentionDays,
  };
}

export const PullerSchema = z.strictObject({
  memoryMiB: z._default(
    wholeNumber(256, 10240, 'MiB of memory, e.g. 1024'),
    CONFIG_DEFAULTS.puller.memoryMiB,
  ),
  timeoutSeconds: z._default(
    wholeNumber(
      60,
      900,
      'seconds per run (Lambda allows at most 900); a run stops retrieving in time to finish its writes',
    ),
    CONFIG_DEFAULTS.puller.timeoutSeconds,
  ),
  /** Reserved concurrency; null leaves the function on the account's unreserved pool; absent, one per mailbox. */
  maxConcurrency: z.optional(
    z.nullable(
      wholeNumber(
        1,
        1000,
        'a small number such as the mailbox count, or null for no reservation (new accounts with a concurrency quota of 10 cannot reserve any)',
      ),
    ),
  ),
  logRetentionDays: z._default(retention(), CONFIG_DEFAULTS.puller.logRetentionDays),
});

export interface PullerConfig {
  memoryMiB: number;
  timeoutSeconds: number;
  /** Reserved concurrency; null leaves the function on the account's unreserved pool. */
  maxConcurrency: number | null;
  logRetentionDays: number;
}

export const AlarmsSchema = z.strictObject({
  email: z._default(
    z.nullable(
      matching(
        EMAIL,
        'is not an e-mail address',
        'give e.g. "ops@example.com"',
        'give an e-mail address, or null for no subscription',
      ),
    ),
    null,
  ),
  missedRunPeriods: z._default(
    wholeNumber(1, 100, 'how many scheduled runs in a row may fail before the alarm, e.g. 3'),
    CONFIG_DEFAULTS.alarms.missedRunPeriods,
  ),
});
export type AlarmsConfig = z.output<typeof AlarmsSchema>;
