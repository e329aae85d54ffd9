import { type ParseArgsConfig, parseArgs } from 'node:util';
import { CliError } from './cli-error.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * parseArgs with errors a person can act on: an unknown flag or a missing value becomes one line that
 * names it and points at --help, never Node's stack trace.
 */
export function parseCommandArgs<O extends Options>(
  command: string,
  argv: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    const message =
      err instanceof Error
        ? err.message.replace(/\. To specify a positional argument.*$/s, '')
        : String(err);
    throw new CliError(`popvault ${command}: ${message}. See "popvault ${command} --help".`);
  }
}

export function positiveInt(
  command: string,
  flag: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) {
    throw new CliError(
      `popvault ${command}: --${flag} must be a positive whole number, got "${value}".`,
    );
  }
  return Number(value);
}

/** Sizes like 25M, 512k, 1G or plain octets. */
export function octets(
  command: string,
  flag: string,
  value: string | undefined,
): number | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,15})([kKmMgG]?)$/.exec(value);
  if (!match)
    throw new CliError(
      `popvault ${command}: --${flag} must be a size such as 25M, 512k or 1048576, got "${value}".`,
    );
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match[2] ?? '').toLowerCase()] ?? 1;
  return Number(match[1]) * unit;
}
