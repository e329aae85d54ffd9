import type { PullOptions } from '../pull/pull-options.js';
import type { MailboxSettings } from './mailbox-settings.js';

/** A mailbox's settings as a pull needs them: all of them but where its credentials are kept. */
export type PullSettings = Omit<MailboxSettings, 'secretId'>;

/**
 * The one mapping from a mailbox's settings to a pull's options, for the puller function and
 * `popvault pull` alike: same names, and an unset limit (null) is no limit.
 */
export function pullOptionsFrom(
  settings: PullSettings,
): Omit<PullOptions, 'hardDeadline' | 'leaseTtlMs' | 'persistConcurrency'> {
  return {
    mailboxId: settings.mailboxId,
    server: {
      host: settings.host,
      port: settings.port,
      tls: settings.tls,
      insecure: settings.insecure,
      pipelining: settings.pipelining,
      ...(settings.caPem ? { ca: settings.caPem } : {}),
      ...(settings.pinSha256 ? { pinSha256: settings.pinSha256 } : {}),
    },
    policy: settings.policy,
    ...(settings.maxMessageBytes ? { maxMessageBytes: settings.maxMessageBytes } : {}),
    oversize: settings.oversize,
    ...(settings.maxMessagesPerRun ? { maxMessagesPerRun: settings.maxMessagesPerRun } : {}),
    ...(settings.maxBytesPerRun ? { maxBytesPerRun: settings.maxBytesPerRun } : {}),
  };
}
