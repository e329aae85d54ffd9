import * as z from 'zod/mini';
import {
  ConfigMailboxSchema,
  MAILBOX_DEFAULTS,
  type MailboxConfig,
  matching,
  withPort,
} from './config-mailbox.js';
import {
  type AlarmsConfig,
  AlarmsSchema,
  type ApiConfig,
  ApiSchema,
  type ArchiveConfig,
  ArchiveSchema,
  apiConfig,
  CONFIG_DEFAULTS,
  type PullerConfig,
  PullerSchema,
} from './config-sections.js';
import { describe, parseSettings, report, withFix } from './setting-issues.js';

/**
 * The deployment's config file: which mailboxes to archive, on what schedule, how the archive and the
 * API are set up. Validated strictly before any construct exists, so a mistake fails `cdk synth` (or
 * `popvault pull --config`) with one line naming the field and the fix, never a stack trace from
 * inside CDK or a half-created stack. The same schema generates popvault.config.schema.json.
 *
 * Every field and its default is listed in the README's config table; the defaults live in
 * `DEFAULTS`.
 */

export const DEFAULTS = { ...CONFIG_DEFAULTS, mailbox: MAILBOX_DEFAULTS } as const;

/**
 * CloudWatch evaluates at most 1 day of data for periods under an hour, 7 days otherwise; the
 * missed-run alarm needs `missedRunPeriods` scheduled runs to fit.
 */
export const ALARM_WINDOW_LIMIT_MINUTES = 7 * 1440;

const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

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

/**
 * A section may be left out or written as null; both mean its defaults. Declared in the schema (not
 * by dropping nulls before parsing) so the JSON Schema an editor checks with accepts what synth does.
 */
const section = <T extends z.ZodMiniType>(schema: T) => z._default(z.nullable(schema), null);

export const PopvaultConfigSchema = z
  .strictObject({
    /** The JSON Schema an editor checks the file against; ignored here. */
    $schema: z.optional(z.string()),
    stackName: z._default(
      matching(
        STACK_NAME,
        'is not a CloudFormation stack name',
        'use letters, digits and "-", starting with a letter',
        'use e.g. "Popvault"',
      ),
      DEFAULTS.stackName,
    ),
    mailboxes: withFix(
      z.array(ConfigMailboxSchema).check(z.minLength(1)),
      'list at least one mailbox: [{ "id": ..., "host": ..., "username": ... }]',
      (input) => ({ problem: `must be a non-empty list, got ${describe(input)}` }),
    ),
    alarms: section(AlarmsSchema),
    archive: section(ArchiveSchema),
    api: section(ApiSchema),
    puller: section(PullerSchema),
  })
  .check(
    z.superRefine((config, ctx) => {
      const seen = new Map<string, number>();
      for (const [index, mailbox] of config.mailboxes.entries()) {
        // Ids are partition keys and metric dimensions; "Work" and "work" would be two archives
        // that look like one in every listing.
        const key = mailbox.id.toLowerCase();
        const first = seen.get(key);
        if (first !== undefined) {
          report(ctx.issues, mailbox.id, ['mailboxes', index, 'id'], {
            problem: `"${mailbox.id}" is already used by mailboxes[${first}]`,
            fix: 'give every mailbox its own id (ids are compared ignoring case)',
            field: `mailboxes[${index}].id`,
          });
        }
        seen.set(key, index);
      }
      const periods = (config.alarms ?? AlarmsSchema.parse({})).missedRunPeriods;
      for (const [index, mailbox] of config.mailboxes.entries()) {
        const span = mailbox.schedule.spanMinutes(periods);
        if (span > ALARM_WINDOW_LIMIT_MINUTES - 60) {
          report(ctx.issues, mailbox.schedule.expression, ['mailboxes', index, 'schedule'], {
            problem: `leaves up to ${Math.round(span / 60)} hours between ${periods} runs, longer than the 7 days a CloudWatch alarm can watch`,
            fix: 'run at least daily, or lower alarms.missedRunPeriods',
          });
        }
      }
    }),
  );

/** `mailboxes[0] ("personal").port`: a mailbox is named by its place and, when it has one, its id. */
export function fieldName(path: readonly PropertyKey[], document: unknown): string {
  let name = '';
  let node: unknown = document;
  for (const key of path) {
    if (typeof key === 'number') {
      name += `[${key}]`;
      node = Array.isArray(node) ? node[key] : undefined;
      const id = (node as { id?: unknown } | undefined)?.id;
      if (typeof id === 'string' && name.startsWith('mailboxes')) name += ` ("${id.slice(0, 64)}")`;
    } else {
      name += `${name === '' ? '' : '.'}${String(key)}`;
      node =
        typeof node === 'object' && node !== null
          ? (node as Record<PropertyKey, unknown>)[key]
          : undefined;
    }
  }
  return name;
}

/** Validates a parsed config document. `source` names it in messages. */
export function parseConfig(document: unknown, source: string): PopvaultConfig {
  const input = document;
  const parsed = parseSettings(PopvaultConfigSchema, input);
  if (!parsed.ok) {
    const { path, problem, fix, field } = parsed.problem;
    throw new ConfigError(source, field ?? fieldName(path, input), problem, fix);
  }
  const config = parsed.value;
  const mailboxes = config.mailboxes.map(withPort);
  const given = (input as { puller?: { maxConcurrency?: unknown } | null }).puller?.maxConcurrency;
  const puller = config.puller ?? PullerSchema.parse({});
  return {
    source,
    stackName: config.stackName,
    archive: config.archive ?? ArchiveSchema.parse({}),
    api: apiConfig(config.api ?? ApiSchema.parse({})),
    puller: {
      ...puller,
      maxConcurrency: given === undefined ? mailboxes.length : (puller.maxConcurrency ?? null),
    },
    alarms: config.alarms ?? AlarmsSchema.parse({}),
    mailboxes,
  };
}

/** The config file's JSON Schema, for editors: what the file may say, not what the loader returns. */
export function configJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(PopvaultConfigSchema, { io: 'input', unrepresentable: 'any' });
}
