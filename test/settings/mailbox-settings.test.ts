import { describe, expect, it } from 'vitest';
import {
  MailboxSettingsError,
  parseMailboxSettings,
} from '../../functions/core/settings/mailbox-settings.js';

const valid = {
  mailboxId: 'work-inbox',
  host: 'outlook.office365.com',
  port: 995,
  tls: 'implicit',
  secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:popvault/work-inbox',
};

function rejects(settings: unknown, ...fragments: string[]): void {
  let caught: unknown;
  try {
    parseMailboxSettings(settings);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(MailboxSettingsError);
  for (const fragment of fragments) expect((caught as Error).message).toContain(fragment);
}

describe('mailbox settings validation (fixed at synth, checked again at cold start)', () => {
  it('fills safe defaults: delete policy, skip oversize, pipelining on, TLS verified', () => {
    expect(parseMailboxSettings(valid)).toEqual({
      ...valid,
      insecure: false,
      pipelining: true,
      caPem: null,
      pinSha256: null,
      policy: { kind: 'delete' },
      maxMessageBytes: null,
      oversize: 'skip',
      maxMessagesPerRun: null,
      maxBytesPerRun: null,
    });
  });

  it('reads delete-after-days and the limits', () => {
    const settings = parseMailboxSettings({
      ...valid,
      policy: 'delete-after-days',
      deleteAfterDays: 30,
      maxMessageBytes: 1024,
      maxBytesPerRun: 1024 ** 4,
    });
    expect(settings.policy).toEqual({ kind: 'delete-after-days', days: 30 });
    expect(settings.maxMessageBytes).toBe(1024);
    expect(settings.maxBytesPerRun).toBe(1024 ** 4);
  });

  it('holds the limits to the bounds the config file has (one declaration of each field)', () => {
    rejects({ ...valid, maxMessageBytes: 1000 }, '"maxMessageBytes"', '50 MiB');
    rejects({ ...valid, maxBytesPerRun: 5 }, '"maxBytesPerRun"', '1 GiB');
    rejects({ ...valid, maxBytesPerRun: 1024 ** 4 + 1 }, '"maxBytesPerRun"');
    rejects({ ...valid, maxMessagesPerRun: 1_000_001 }, '"maxMessagesPerRun"', '1000');
  });

  it('names the field and the fix for each bad value', () => {
    rejects('nope', 'JSON object');
    rejects({ ...valid, colour: 'blue' }, '"colour"', 'not a known setting');
    rejects({ ...valid, port: 0 }, '"port"', '995');
    rejects({ ...valid, port: '995' }, '"port"');
    rejects({ ...valid, tls: 'ssl' }, '"tls"', 'implicit');
    rejects({ ...valid, tls: 'none' }, '"tls"', 'plaintext');
    rejects({ ...valid, mailboxId: '../etc' }, '"mailboxId"');
    rejects({ ...valid, host: 'a b' }, '"host"');
    rejects({ ...valid, secretId: '' }, '"secretId"');
    rejects({ ...valid, policy: 'archive' }, '"policy"');
    rejects({ ...valid, policy: 'delete-after-days' }, '"deleteAfterDays"');
    rejects({ ...valid, policy: 'keep', deleteAfterDays: 3 }, '"deleteAfterDays"', 'only applies');
    rejects({ ...valid, oversize: 'delete' }, '"oversize"');
    rejects({ ...valid, maxMessageBytes: -1 }, '"maxMessageBytes"');
    rejects({ ...valid, pinSha256: 'abc' }, '"pinSha256"');
    rejects({ ...valid, caPem: 'not a cert' }, '"caPem"');
    rejects({ ...valid, insecure: 'yes' }, '"insecure"');
  });

  it('never echoes a secret-looking value it was not asked to validate', () => {
    rejects({ ...valid, password: 'hunter2' }, '"password"');
    try {
      parseMailboxSettings({ ...valid, password: 'hunter2' });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });
});
