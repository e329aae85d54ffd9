import {
  MailboxSettingsError,
  parseMailboxSettings,
} from '../../core/settings/mailbox-settings.js';
import type { PullSettings } from '../../core/settings/pull-settings.js';
import { octets } from '../args.js';
import { CliError } from '../cli-error.js';

/**
 * Each mailbox setting's flag, and a fix in flag terms where the setting's own fix speaks of the
 * config file (bytes in JSON, "null", "remove it").
 */
const FLAGS: Record<string, { flag: string; fix?: string }> = {
  mailboxId: { flag: 'mailbox' },
  host: { flag: 'host' },
  port: { flag: 'port' },
  tls: { flag: 'tls' },
  insecure: { flag: 'insecure' },
  pipelining: { flag: 'no-pipelining' },
  caPem: { flag: 'ca', fix: 'give a file holding the CA certificate in PEM' },
  pinSha256: { flag: 'pin' },
  policy: { flag: 'policy' },
  deleteAfterDays: { flag: 'delete-after-days' },
  maxMessageBytes: {
    flag: 'max-message-size',
    fix: 'give a size of at least 1k, e.g. 25M, or leave the flag out for no limit',
  },
  oversize: { flag: 'oversize' },
  maxMessagesPerRun: { flag: 'max-messages', fix: 'give a positive number, e.g. 1000' },
  maxBytesPerRun: { flag: 'max-bytes', fix: 'give a size of at least 1k, e.g. 1G' },
};

/** `popvault pull` names no secret: its credentials come from the flags or the terminal. */
const NO_SECRET = 'popvault-cli';

const PENDING_ID = 'pending';

/** Whole numbers as typed: the bounds are the setting's own, checked by the mailbox schema. */
function wholeNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) {
    throw new CliError(`popvault pull: --${flag} must be a whole number, got "${value}".`);
  }
  return Number(value);
}

export interface PullFlagValues {
  host: string;
  port?: string | undefined;
  tls: string;
  insecure?: boolean | undefined;
  'no-pipelining'?: boolean | undefined;
  pin?: string | undefined;
  policy?: string | undefined;
  'delete-after-days'?: string | undefined;
  'max-message-size'?: string | undefined;
  oversize?: string | undefined;
  'max-messages'?: string | undefined;
  'max-bytes'?: string | undefined;
}

/**
 * The flags (and a --config file's mailbox, already turned into flags) read by the same schema as
 * the config file and the puller's settings: one set of bounds and checks for every way in. An
 * error names the flag, never the setting's name in the schema.
 */
export function settingsFromFlags(
  values: PullFlagValues,
  known: { defaultPort: number; caPem: string | null },
): Omit<PullSettings, 'mailboxId'> {
  const size = (flag: 'max-message-size' | 'max-bytes') => octets('pull', flag, values[flag]);
  const input = {
    // The id comes from the user name once credentials are read; pull.ts checks it then.
    mailboxId: PENDING_ID,
    host: values.host,
    port: wholeNumber('port', values.port) ?? known.defaultPort,
    tls: values.tls,
    insecure: values.insecure ?? false,
    pipelining: !values['no-pipelining'],
    caPem: known.caPem,
    pinSha256: values.pin ?? null,
    secretId: NO_SECRET,
    policy: values.policy ?? 'delete',
    deleteAfterDays: wholeNumber('delete-after-days', values['delete-after-days']),
    maxMessageBytes: size('max-message-size') ?? null,
    oversize: values.oversize ?? 'skip',
    maxMessagesPerRun: wholeNumber('max-messages', values['max-messages']) ?? null,
    maxBytesPerRun: size('max-bytes') ?? null,
  };
  try {
    const { secretId: _none, mailboxId: _pending, ...settings } = parseMailboxSettings(input);
    return settings;
  } catch (error) {
    if (!(error instanceof MailboxSettingsError)) throw error;
    const named = FLAGS[error.field];
    if (named === undefined) throw new CliError(`popvault pull: ${error.message}.`);
    throw new CliError(
      `popvault pull: --${named.flag} ${error.problem}; ${named.fix ?? error.fix}.`,
    );
  }
}
