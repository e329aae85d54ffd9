/**
 * Where `cdk synth` finds the deployment's config file, and reading it. What the file may say, and
 * its validation, is declared once in functions/core/settings/ (shared with `popvault pull --config`
 * and the puller); this module re-exports it for the stack's constructs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  ConfigError,
  type PopvaultConfig,
  parseConfig,
} from '../../functions/core/settings/popvault-config.js';

export {
  type CredentialsKind,
  type MailboxConfig,
  mailboxSettingsInput,
} from '../../functions/core/settings/config-mailbox.js';
export {
  type AlarmsConfig,
  type ApiAuth,
  type ApiConfig,
  type ArchiveConfig,
  LOG_RETENTION_DAYS,
  type PullerConfig,
  type StorageClassName,
} from '../../functions/core/settings/config-sections.js';
export type { TlsMode } from '../../functions/core/settings/mailbox-settings.js';
export {
  ALARM_WINDOW_LIMIT_MINUTES,
  ConfigError,
  DEFAULTS,
  type PopvaultConfig,
  parseConfig,
} from '../../functions/core/settings/popvault-config.js';

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
