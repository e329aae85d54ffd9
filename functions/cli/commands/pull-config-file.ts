import { readFile } from 'node:fs/promises';
import { ConfigError, parseConfig } from '../../core/settings/popvault-config.js';
import { CliError } from '../cli-error.js';

/**
 * `popvault pull --config FILE --mailbox ID`: the mailbox's settings from the stack's config file,
 * read and validated by the same schema as `cdk synth` (functions/core/settings/popvault-config.ts).
 */

/** Flags the config file supplies; giving both would leave it unclear which one wins. */
const FROM_CONFIG = [
  'host',
  'port',
  'tls',
  'user',
  'policy',
  'delete-after-days',
  'max-message-size',
  'oversize',
  'max-messages',
  'max-bytes',
  'pin',
] as const;

/** Turns `--config FILE --mailbox ID` into the flags the rest of the command reads. */
export async function applyConfigFile<V extends Record<string, string | boolean | undefined>>(
  values: V,
): Promise<{ values: V; caPem: string | null }> {
  const path = values.config;
  if (typeof path !== 'string') return { values, caPem: null };
  const clash = FROM_CONFIG.filter((flag) => values[flag] !== undefined);
  if (clash.length > 0) {
    throw new CliError(
      `popvault pull: --${clash[0]} comes from --config; edit the file instead, or drop --config.`,
    );
  }
  if (typeof values.mailbox !== 'string')
    throw new CliError('popvault pull: --config needs --mailbox ID to pick a mailbox.');
  let document: unknown;
  try {
    document = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new CliError(
      `popvault pull: cannot read ${path} as JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  let config: ReturnType<typeof parseConfig>;
  try {
    config = parseConfig(document, path);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(`popvault pull: ${err.message}`);
    throw err;
  }
  const mailbox = config.mailboxes.find((m) => m.id === values.mailbox);
  if (!mailbox) {
    throw new CliError(
      `popvault pull: ${path} has no mailbox "${values.mailbox}" (it has: ${config.mailboxes.map((m) => m.id).join(', ')}).`,
    );
  }
  const size = (n: number | null): string | undefined => (n === null ? undefined : String(n));
  const merged = {
    ...values,
    host: mailbox.host,
    port: String(mailbox.port),
    tls: mailbox.tls,
    insecure: values.insecure ?? mailbox.tls === 'none',
    user: mailbox.username,
    policy: mailbox.policy,
    'delete-after-days': size(mailbox.deleteAfterDays),
    'max-message-size': size(mailbox.maxMessageBytes),
    oversize: mailbox.oversize,
    'max-messages': size(mailbox.maxMessagesPerRun),
    'max-bytes': size(mailbox.maxBytesPerRun),
    pin: mailbox.pinSha256 ?? undefined,
    'no-pipelining': values['no-pipelining'] ?? !mailbox.pipelining,
  };
  return { values: merged, caPem: mailbox.caPem };
}
