import { searchEnabled } from '../adapters/aws/search-env.js';
import {
  type MailboxSettings,
  MailboxSettingsError,
  parseMailboxSettings,
} from '../core/settings/mailbox-settings.js';

/** The puller's environment, set by the stack (each variable is paired with the grant that needs it). */
export interface PullerEnv {
  bucketName: string;
  tableName: string;
  /** Large messages are spooled here before upload (Lambda's /tmp). */
  spoolDirectory: string;
  /** The one mailbox this function pulls, fixed at synth: no event can change it. */
  mailbox: MailboxSettings;
  /** Journal each message's text and flush search segments (POPVAULT_SEARCH, search-env.ts). */
  search?: boolean;
}

/** The variable holding the mailbox's settings as JSON (infra/constructs/puller-function.ts). */
export const MAILBOX_VARIABLE = 'POPVAULT_MAILBOX';

export class PullerEnvError extends Error {
  override name = 'PullerEnvError';
  readonly code = 'INVALID_ENVIRONMENT';
}

function required(env: Record<string, string | undefined>, name: string): string {
  const value = env[name];
  if (!value) {
    throw new PullerEnvError(
      `environment variable ${name} is not set; the popvault stack sets it, so deploy with "npx cdk deploy"`,
    );
  }
  return value;
}

function mailboxOf(env: Record<string, string | undefined>): MailboxSettings {
  const text = required(env, MAILBOX_VARIABLE);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PullerEnvError(
      `environment variable ${MAILBOX_VARIABLE} is not JSON; the popvault stack writes it, so deploy again with "npx cdk deploy" instead of editing it`,
    );
  }
  try {
    return parseMailboxSettings(json);
  } catch (error) {
    if (!(error instanceof MailboxSettingsError)) throw error;
    throw new PullerEnvError(
      `environment variable ${MAILBOX_VARIABLE}: ${error.message}; change the mailbox in popvault.config.json and deploy again`,
    );
  }
}

export function loadPullerEnv(env: Record<string, string | undefined>): PullerEnv {
  return {
    bucketName: required(env, 'POPVAULT_BUCKET'),
    tableName: required(env, 'POPVAULT_TABLE'),
    spoolDirectory: env.POPVAULT_SPOOL_DIR || '/tmp',
    mailbox: mailboxOf(env),
    // Absent rather than false, so a stack deployed before search reads as it did.
    ...(searchEnabled(env) ? { search: true } : {}),
  };
}
