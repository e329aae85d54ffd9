import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMailboxSettings } from '../../functions/core/settings/mailbox-settings.js';
import { parseSchedule, ScheduleError } from '../../functions/core/settings/schedule.js';
import { DEFAULT_MAILBOXES_CLAIM } from '../../functions/query-api/jwt-access.js';
import {
  ConfigError,
  chooseConfigFile,
  DEFAULTS,
  EXAMPLE_CONFIG_FILE,
  loadConfig,
  mailboxSettingsInput,
  type PopvaultConfig,
  parseConfig,
} from '../../infra/config/load-config.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

const mailbox = {
  id: 'personal',
  host: 'pop.example.com',
  username: 'alice@example.com',
};

function config(overrides: Record<string, unknown> = {}, box: Record<string, unknown> = {}) {
  return { mailboxes: [{ ...mailbox, ...box }], ...overrides };
}

/** Parses and expects a ConfigError naming `field`, whose message contains every fragment. */
function rejects(document: unknown, field: string, ...fragments: string[]): ConfigError {
  let caught: unknown;
  try {
    parseConfig(document, 'test.json');
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected a ConfigError for ${field}`).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.field).toBe(field);
  expect(error.message).toMatch(/^test\.json: /);
  expect(error.message).toContain('Fix: ');
  for (const fragment of fragments) expect(error.message).toContain(fragment);
  return error;
}

describe('config: the issue’s bad configs fail with the field and the fix', () => {
  it('an unknown field, at any level, is named with its path and the known fields', () => {
    rejects(config({ mailboxs: [] }), 'mailboxs', 'not a known field', 'mailboxes');
    rejects(config({ archive: { encrypton: 'kms' } }), 'archive.encrypton', 'encryption');
    rejects(config({}, { passwrd: 'x' }), 'mailboxes[0] ("personal").passwrd', 'not a known field');
  });

  it('a bad port', () => {
    rejects(
      config({}, { port: 99999 }),
      'mailboxes[0] ("personal").port',
      '1-65535',
      '99999',
      '995',
    );
    rejects(config({}, { port: '995' }), 'mailboxes[0] ("personal").port', '"995"');
  });

  it('an unknown TLS mode', () => {
    rejects(config({}, { tls: 'ssl' }), 'mailboxes[0] ("personal").tls', '"ssl"', '"implicit"');
  });

  it('a schedule that does not parse, with Scheduler’s own rules', () => {
    const field = 'mailboxes[0] ("personal").schedule';
    rejects(config({}, { schedule: 'every 15 minutes' }), field, 'rate(15 minutes)');
    rejects(config({}, { schedule: 'rate(5 minute)' }), field, 'rate(5 minutes)');
    rejects(config({}, { schedule: 'rate(1 hours)' }), field, 'rate(1 hour)');
    rejects(config({}, { schedule: 'cron(0 6 * * *)' }), field, '5 fields', '6');
    rejects(config({}, { schedule: 'cron(0 6 * * * *)' }), field, '"?"');
    rejects(config({}, { schedule: 'cron(61 6 * * ? *)' }), field, 'minutes', '"61"');
    rejects(config({}, { schedule: 'cron(0 6 ? * MON-FUN *)' }), field, 'day-of-week');
    rejects(config({}, { schedule: 'at(2027-01-01T00:00:00)' }), field, 'one-time');
  });

  it('plaintext to a non-loopback host (loopback stays possible for local tests)', () => {
    rejects(
      config({}, { tls: 'none' }),
      'mailboxes[0] ("personal").tls',
      'plaintext',
      '"starttls"',
    );
    const local = parseConfig(config({}, { tls: 'none', host: '127.0.0.1' }), 't');
    expect(local.mailboxes[0]).toMatchObject({ tls: 'none', port: 110 });
    expect(mailboxSettingsInput(local.mailboxes[0] as never, 's')).toMatchObject({
      insecure: true,
    });
  });

  it('keep policy with a deleting option', () => {
    rejects(
      config({}, { policy: 'keep', deleteAfterDays: 30 }),
      'mailboxes[0] ("personal").deleteAfterDays',
      'policy is "keep"',
      'never deletes',
    );
    rejects(
      config({}, { policy: 'keep', oversize: 'delete' }),
      'mailboxes[0] ("personal").oversize',
      'never deletes a message it has not archived',
      '"skip"',
    );
  });

  it('a duplicate mailbox id, also when only the case differs', () => {
    const twice = { mailboxes: [mailbox, { ...mailbox, id: 'Personal' }] };
    rejects(twice, 'mailboxes[1].id', '"Personal"', 'mailboxes[0]');
  });
});

describe('config: the rest of the validation', () => {
  it.each([
    [config({ mailboxes: [] }), 'mailboxes', 'non-empty list'],
    [[], '', 'JSON object'],
    [config({}, { id: '../x' }), 'mailboxes[0] ("../x").id', 'letters, digits'],
    [config({}, { host: 'a b' }), 'mailboxes[0] ("personal").host', 'host name'],
    [config({}, { username: '' }), 'mailboxes[0] ("personal").username', 'login name'],
    [config({}, { auth: 'kerberos' }), 'mailboxes[0] ("personal").auth', '"oauth2"'],
    [config({}, { timeZone: 'Mars/Olympus' }), 'mailboxes[0] ("personal").timeZone', 'IANA'],
    [config({}, { policy: 'purge' }), 'mailboxes[0] ("personal").policy', '"delete-after-days"'],
    [
      config({}, { policy: 'delete-after-days' }),
      'mailboxes[0] ("personal").deleteAfterDays',
      'missing',
    ],
    [config({}, { maxMessageBytes: 0 }), 'mailboxes[0] ("personal").maxMessageBytes', '52428800'],
    [config({}, { caPem: 'hello' }), 'mailboxes[0] ("personal").caPem', 'BEGIN/END'],
    [config({}, { pinSha256: 'abc' }), 'mailboxes[0] ("personal").pinSha256', 'SHA-256'],
    [config({}, { enabled: 'yes' }), 'mailboxes[0] ("personal").enabled', 'true or false'],
    [
      config({}, { secretArn: 'my-secret' }),
      'mailboxes[0] ("personal").secretArn',
      'describe-secret',
    ],
    [
      config({}, { secretKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/abc' }),
      'mailboxes[0] ("personal").secretKmsKeyArn',
      'without secretArn',
    ],
    [config({}, { alarmEmail: 'nobody' }), 'mailboxes[0] ("personal").alarmEmail', 'e-mail'],
    [config({ stackName: '1stack' }), 'stackName', 'CloudFormation'],
    [config({ archive: { encryption: 'aes' } }), 'archive.encryption', '"kms"'],
    [config({ archive: { objectLock: { days: 30 } } }), 'archive.objectLock.mode', 'compliance'],
    [
      config({ archive: { transition: { afterDays: 10, storageClass: 'STANDARD_IA' } } }),
      'archive.transition.afterDays',
      'at least 30 days',
    ],
    [
      config({ archive: { transition: { afterDays: 90, storageClass: 'DEEP_ARCHIVE' } } }),
      'archive.transition.storageClass',
      'restore',
    ],
    [config({ api: { auth: 'cognito' } }), 'api.auth', '"jwt"'],
    [config({ api: { auth: 'jwt' } }), 'api.jwt', 'issuer'],
    [
      config({ api: { auth: 'iam', jwt: { issuer: 'https://x', audience: ['a'] } } }),
      'api.jwt',
      'remove api.jwt',
    ],
    [
      config({ api: { auth: 'jwt', jwt: { issuer: 'http://idp', audience: ['a'] } } }),
      'api.jwt.issuer',
      'https',
    ],
    [
      config({ api: { auth: 'jwt', jwt: { issuer: 'https://idp', audience: [] } } }),
      'api.jwt.audience',
      'non-empty list',
    ],
    [
      config({
        api: {
          auth: 'jwt',
          jwt: { issuer: 'https://idp', audience: ['a'], requiredScopes: 'read' },
        },
      }),
      'api.jwt.requiredScopes',
      'list the OAuth scopes',
    ],
    [
      config({
        api: {
          auth: 'jwt',
          jwt: { issuer: 'https://idp', audience: ['a'], requiredScopes: ['popvault read'] },
        },
      }),
      'api.jwt.requiredScopes',
      'not an OAuth scope',
    ],
    [
      config({
        api: {
          auth: 'jwt',
          jwt: { issuer: 'https://idp', audience: ['a'], requiredScopes: ['read', 'read'] },
        },
      }),
      'api.jwt.requiredScopes',
      'twice',
    ],
    [
      config({
        api: {
          auth: 'jwt',
          jwt: { issuer: 'https://idp', audience: ['a'], mailboxesClaim: 'my mailboxes' },
        },
      }),
      'api.jwt.mailboxesClaim',
      'without spaces',
    ],
    [
      config({
        api: {
          auth: 'jwt',
          jwt: { issuer: 'https://idp', audience: ['a'], mailboxesClaim: 'scope' },
        },
      }),
      'api.jwt.mailboxesClaim',
      'registered claim',
    ],
    [
      config({
        api: { auth: 'jwt', jwt: { issuer: 'https://idp', audience: ['a'], mailboxesClaim: 7 } },
      }),
      'api.jwt.mailboxesClaim',
      'non-empty string',
    ],
    [
      config({
        api: { auth: 'jwt', jwt: { issuer: 'https://idp', audience: ['a'], scopes: ['read'] } },
      }),
      'api.jwt.scopes',
      'requiredScopes',
    ],
    [config({ api: { accessLogRetentionDays: 10 } }), 'api.accessLogRetentionDays', '14'],
    [config({ puller: { timeoutSeconds: 1000 } }), 'puller.timeoutSeconds', '900'],
    [config({ puller: { maxConcurrency: 0 } }), 'puller.maxConcurrency', 'null'],
    [config({ alarms: { email: 'x@' } }), 'alarms.email', 'e-mail'],
    [config({ alarms: { missedRunPeriods: 0 } }), 'alarms.missedRunPeriods', '1-100'],
  ])('%j fails on %s', (document, field, fragment) => {
    rejects(document, field, fragment);
  });

  it('a schedule too sparse for the missed-run alarm says how to fix it', () => {
    rejects(
      config({}, { schedule: 'cron(0 6 ? * MON *)' }),
      'mailboxes[0] ("personal").schedule',
      '7 days',
      'missedRunPeriods',
    );
    // Weekly passes when one missed run is enough to alarm.
    expect(() =>
      parseConfig(config({ alarms: { missedRunPeriods: 1 } }, { schedule: 'rate(2 days)' }), 't'),
    ).not.toThrow();
  });

  it('api.jwt: no required scopes and the popvault_mailboxes claim by default, or as configured', () => {
    const jwt = { issuer: 'https://idp.example.com', audience: ['popvault-cli'] };
    expect(parseConfig(config({ api: { auth: 'jwt', jwt } }), 't').api.auth).toEqual({
      kind: 'jwt',
      ...jwt,
      requiredScopes: [],
      mailboxesClaim: 'popvault_mailboxes',
    });
    // The app falls back to the same name if the variable were ever missing.
    expect(DEFAULTS.api.mailboxesClaim).toBe(DEFAULT_MAILBOXES_CLAIM);
    const custom = {
      ...jwt,
      requiredScopes: ['popvault/read', 'mail,read'],
      mailboxesClaim: 'https://popvault.example/mailboxes',
    };
    expect(parseConfig(config({ api: { auth: 'jwt', jwt: custom } }), 't').api.auth).toEqual({
      kind: 'jwt',
      ...custom,
    });
  });

  it('fills documented defaults', () => {
    const parsed: PopvaultConfig = parseConfig(config(), 't');
    expect(parsed).toMatchObject({
      stackName: 'Popvault',
      archive: {
        encryption: 's3',
        objectLock: null,
        transition: null,
        noncurrentVersionDays: 30,
        accessLogDays: 365,
      },
      api: { auth: { kind: 'iam' }, throttle: { rateLimit: 10, burstLimit: 20 } },
      puller: { memoryMiB: 1024, timeoutSeconds: 900, maxConcurrency: 1, logRetentionDays: 90 },
      alarms: { email: null, missedRunPeriods: 3 },
    });
    expect(parsed.mailboxes[0]).toMatchObject({
      port: 995,
      tls: 'implicit',
      auth: 'password',
      timeZone: 'UTC',
      enabled: true,
      policy: 'delete',
      maxMessageBytes: 52428800,
      oversize: 'skip',
      pipelining: true,
      secretArn: null,
    });
    expect(parsed.mailboxes[0]?.schedule.expression).toBe('rate(15 minutes)');
    expect(
      parseConfig(config({ puller: { maxConcurrency: null } }), 't').puller.maxConcurrency,
    ).toBe(null);
    expect(parseConfig(config({}, { tls: 'starttls' }), 't').mailboxes[0]?.port).toBe(110);
  });

  it('every mailbox becomes an event the puller accepts, with the secret id and no nulls', () => {
    const parsed = loadConfig(join(ROOT, EXAMPLE_CONFIG_FILE));
    for (const box of parsed.mailboxes) {
      const input = mailboxSettingsInput(box, 'arn:aws:secretsmanager:eu-west-1:1:secret:x');
      expect(Object.values(input)).not.toContain(null);
      expect(parseMailboxSettings(input)).toMatchObject({
        mailboxId: box.id,
        secretId: 'arn:aws:secretsmanager:eu-west-1:1:secret:x',
      });
    }
  });
});

describe('schedule parsing', () => {
  it('measures rate and cron gaps, and the span of N runs', () => {
    const rate = parseSchedule('rate(15 minutes)');
    expect(rate.minGapMinutes).toBe(15);
    expect(rate.spanMinutes(3)).toBe(45);
    const daily = parseSchedule('cron(30 6 * * ? *)');
    expect(daily.minGapMinutes).toBe(1440);
    expect(daily.spanMinutes(2)).toBe(2880);
    // Weekday office hours: hourly, but the weekend gap dominates any span that crosses it.
    const office = parseSchedule('cron(0 7-19 ? * MON-FRI *)');
    expect(office.minGapMinutes).toBe(60);
    expect(office.spanMinutes(1)).toBe((24 + 24 + 12) * 60);
    expect(office.spanMinutes(3)).toBe((60 + 2) * 60);
    expect(parseSchedule('cron(0/20 * * * ? *)').minGapMinutes).toBe(20);
    expect(parseSchedule('cron(0 12 L * ? *)').minGapMinutes).toBeGreaterThanOrEqual(28 * 1440);
    expect(parseSchedule('cron(0 9 ? * 2#1 *)').minGapMinutes).toBeGreaterThanOrEqual(28 * 1440);
  });

  it('refuses the year field out of range and backwards ranges', () => {
    expect(() => parseSchedule('cron(0 6 * * ? 1900)')).toThrow(ScheduleError);
    expect(() => parseSchedule('cron(0 18-6 * * ? *)')).toThrow(/backwards range/);
  });
});

describe('choosing the config file', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'popvault-config-'));

  it('-c config=... wins, then POPVAULT_CONFIG, then ./popvault.config.json, then the example', () => {
    const env = { POPVAULT_CONFIG: 'from-env.json' };
    expect(chooseConfigFile({ context: 'ctx.json', env, cwd }).path).toBe(join(cwd, 'ctx.json'));
    expect(chooseConfigFile({ context: undefined, env, cwd }).path).toBe(
      join(cwd, 'from-env.json'),
    );
    const fallback = chooseConfigFile({ context: undefined, env: {}, cwd });
    expect(fallback.path).toBe(join(cwd, EXAMPLE_CONFIG_FILE));
    expect(fallback.reason).toContain('copy it to popvault.config.json');
    writeFileSync(join(cwd, 'popvault.config.json'), '{}');
    expect(chooseConfigFile({ context: undefined, env: {}, cwd }).path).toBe(
      join(cwd, 'popvault.config.json'),
    );
  });

  it('a missing file or broken JSON is a ConfigError too', () => {
    expect(() => loadConfig(join(cwd, 'nope.json'))).toThrow(/cannot be read \(ENOENT\)/);
    const broken = join(cwd, 'broken.json');
    writeFileSync(broken, '{ "mailboxes": [ }');
    expect(() => loadConfig(broken)).toThrow(/is not valid JSON.*no trailing commas/);
  });

  it('cdk synth with a bad config prints one line naming the field and exits 1, no stack trace', () => {
    const dir = mkdtempSync(join(tmpdir(), 'popvault-badconfig-'));
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(config({}, { port: 99999 })));
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'infra', 'app.ts')], {
      cwd: ROOT,
      env: { ...process.env, POPVAULT_CONFIG: file, CDK_OUTDIR: join(dir, 'out') },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toEqual([
      `popvault: config ${file} (from POPVAULT_CONFIG)`,
      `popvault: ${file}: mailboxes[0] ("personal").port must be a whole number 1-65535, got 99999. Fix: use 995 for implicit TLS or 110 for STLS`,
    ]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });
});
