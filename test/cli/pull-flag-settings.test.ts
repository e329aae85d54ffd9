import { describe, expect, it } from 'vitest';
import { CliError } from '../../functions/cli/cli-error.js';
import {
  type PullFlagValues,
  settingsFromFlags,
} from '../../functions/cli/commands/pull-flag-settings.js';
import { ConfigError, parseConfig } from '../../functions/core/settings/popvault-config.js';

const base: PullFlagValues = { host: 'pop.example.com', tls: 'implicit' };
const known = { defaultPort: 995, caPem: null };

function refusal(values: Partial<PullFlagValues>): string {
  try {
    settingsFromFlags({ ...base, ...values }, known);
  } catch (error) {
    if (error instanceof CliError) return error.message;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(values)} to be refused`);
}

describe('popvault pull flags are read by the mailbox settings schema', () => {
  it('fills the defaults of the settings: port by TLS mode, delete, skip, no limits', () => {
    expect(settingsFromFlags(base, known)).toMatchObject({
      host: 'pop.example.com',
      port: 995,
      tls: 'implicit',
      insecure: false,
      pipelining: true,
      policy: { kind: 'delete' },
      oversize: 'skip',
      maxMessageBytes: null,
      maxMessagesPerRun: null,
      maxBytesPerRun: null,
    });
  });

  it.each<[Partial<PullFlagValues>, string, string]>([
    [{ 'max-message-size': '1000' }, '--max-message-size', 'at least 1k'],
    [{ 'max-bytes': '1025G' }, '--max-bytes', '1099511627776'],
    [{ 'max-messages': '0' }, '--max-messages', 'positive number'],
    [{ 'max-messages': '1000001' }, '--max-messages', '1000000'],
    [{ port: '70000' }, '--port', '995'],
    [{ port: '99x' }, '--port', 'whole number'],
    [{ policy: 'purge' }, '--policy', 'delete-after-days'],
    [{ policy: 'delete-after-days' }, '--delete-after-days', 'is missing'],
    [{ 'delete-after-days': '5' }, '--delete-after-days', 'policy is "delete"'],
    [{ oversize: 'delete' }, '--oversize', 'never deletes a message it has not archived'],
    [{ tls: 'none' }, '--tls', 'plaintext'],
  ])('refuses %j naming %s', (values, flag, fragment) => {
    const message = refusal(values);
    expect(message).toMatch(new RegExp(`^popvault pull: ${flag} `));
    expect(message).toContain(fragment);
    // The schema's own field names are for config files; a flag user never sees them.
    expect(message).not.toMatch(/maxMessageBytes|maxBytesPerRun|maxMessagesPerRun|deleteAfterDays/);
  });

  it('takes sizes with units and the limits at their bounds', () => {
    const settings = settingsFromFlags(
      { ...base, 'max-message-size': '1k', 'max-bytes': '1024G', 'max-messages': '1000000' },
      known,
    );
    expect(settings.maxMessageBytes).toBe(1024);
    expect(settings.maxBytesPerRun).toBe(1024 ** 4);
    expect(settings.maxMessagesPerRun).toBe(1_000_000);
  });

  it('takes what a config file takes: 0 days after archiving means the next run deletes', () => {
    const flags = settingsFromFlags(
      { ...base, policy: 'delete-after-days', 'delete-after-days': '0' },
      known,
    );
    expect(flags.policy).toEqual({ kind: 'delete-after-days', days: 0 });
  });

  it('accepts a limit exactly when a config file with that limit passes synth', () => {
    const box = { id: 'personal', host: 'pop.example.com', username: 'alice@example.com' };
    const configTakes = (field: string, value: number): boolean => {
      try {
        parseConfig({ mailboxes: [{ ...box, [field]: value }] }, 'c.json');
        return true;
      } catch (error) {
        if (error instanceof ConfigError) return false;
        throw error;
      }
    };
    const flagTakes = (flag: keyof PullFlagValues, value: number): boolean => {
      try {
        settingsFromFlags({ ...base, [flag]: String(value) }, known);
        return true;
      } catch (error) {
        if (error instanceof CliError) return false;
        throw error;
      }
    };
    const pairs: [string, keyof PullFlagValues][] = [
      ['maxMessageBytes', 'max-message-size'],
      ['maxBytesPerRun', 'max-bytes'],
      ['maxMessagesPerRun', 'max-messages'],
    ];
    for (const [field, flag] of pairs) {
      for (const value of [0, 1, 1023, 1024, 1_000_000, 1_000_001, 1024 ** 4, 1024 ** 4 + 1]) {
        expect([field, value, flagTakes(flag, value)]).toEqual([
          field,
          value,
          configTakes(field, value),
        ]);
      }
    }
  });
});
