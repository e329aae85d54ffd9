import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { MAILBOX_ID_PATTERN } from '../../functions/core/archive/mailbox-id.js';
import {
  ConfigError,
  configJsonSchema,
  parseConfig,
} from '../../functions/core/settings/popvault-config.js';
import { EXAMPLE_CONFIG_FILE, loadConfig } from '../../infra/config/load-config.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const SCHEMA_FILE = 'popvault.config.schema.json';

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown>;
}

function errorOf(document: unknown): ConfigError {
  try {
    parseConfig(document, 'c.json');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const box = { id: 'personal', host: 'pop.example.com', username: 'alice@example.com' };

describe('the config file’s JSON Schema', () => {
  it('is generated from the schema the loader uses; run "npm run schema:config" if this fails', () => {
    expect(readJson(SCHEMA_FILE)).toEqual(configJsonSchema());
  });

  it('describes what the loader refuses: unknown fields, required fields, bounds and choices', () => {
    const schema = configJsonSchema() as {
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, { items?: Record<string, unknown> }>;
    };
    expect(schema.required).toEqual(['mailboxes']);
    expect(schema.additionalProperties).toBe(false);
    const mailbox = schema.properties.mailboxes?.items as {
      required: string[];
      additionalProperties: boolean;
      properties: Record<string, Record<string, unknown>>;
    };
    expect(mailbox.required).toEqual(['id', 'host', 'username']);
    expect(mailbox.additionalProperties).toBe(false);
    expect(mailbox.properties.port).toMatchObject({ type: 'integer', minimum: 1, maximum: 65535 });
    expect(mailbox.properties.tls).toMatchObject({ enum: ['implicit', 'starttls', 'none'] });
    // Patterns the loader checks reach the editor too.
    expect(mailbox.properties.id).toMatchObject({ pattern: MAILBOX_ID_PATTERN });
  });

  it('the example points an editor at it, and the loader takes "$schema" as a comment', () => {
    expect(readJson(EXAMPLE_CONFIG_FILE).$schema).toBe(`./${SCHEMA_FILE}`);
    expect(loadConfig(join(ROOT, EXAMPLE_CONFIG_FILE)).mailboxes.length).toBeGreaterThan(0);
    expect(() => parseConfig({ $schema: 7, mailboxes: [box] }, 't')).toThrow(/\$schema/);
  });
});

describe('an editor and the loader agree on what a config file may say', () => {
  // A JSON Schema validator as an editor runs one: what it flags, synth must refuse, and what synth
  // takes, it must not flag (a section written as null once passed synth and failed the editor).
  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(configJsonSchema());
  const accepted = (document: unknown): boolean => {
    try {
      parseConfig(document, 'c.json');
      return true;
    } catch (error) {
      if (error instanceof ConfigError) return false;
      throw error;
    }
  };

  it.each([
    ['the example file', readJson(EXAMPLE_CONFIG_FILE), true],
    ['one mailbox, defaults elsewhere', { mailboxes: [box] }, true],
    [
      'every section written as null (its defaults)',
      { mailboxes: [box], alarms: null, archive: null, api: null, puller: null },
      true,
    ],
    ['no mailboxes', { mailboxes: [] }, false],
    ['a mailbox list written as null', { mailboxes: null }, false],
    ['an unknown section', { mailboxes: [box], extra: {} }, false],
    ['a port out of range', { mailboxes: [{ ...box, port: 70000 }] }, false],
    ['a run byte limit under 1 KiB', { mailboxes: [{ ...box, maxBytesPerRun: 10 }] }, false],
    [
      'a message size limit over 1 TiB',
      { mailboxes: [{ ...box, maxMessageBytes: 2 ** 41 }] },
      false,
    ],
  ])('%s: accepted by both = %s', (_name, document, expected) => {
    expect(validate(document)).toBe(expected);
    expect(accepted(document)).toBe(expected);
  });

  it('a section written as null reads as its defaults, as a missing one does', () => {
    const sections = ({ alarms, archive, api, puller }: ReturnType<typeof parseConfig>) => ({
      alarms,
      archive,
      api,
      puller,
    });
    const absent = sections(parseConfig({ mailboxes: [box] }, 'a.json'));
    const nulls = sections(
      parseConfig(
        { mailboxes: [box], alarms: null, archive: null, api: null, puller: null },
        'b.json',
      ),
    );
    expect(nulls).toEqual(absent);
    expect(absent.puller.maxConcurrency).toBe(1);
  });
});

describe('config errors: one line naming the nested field and the fix', () => {
  it.each([
    [
      { mailboxes: [box, { ...box, id: 'work', host: 'a b' }] },
      'mailboxes[1] ("work").host',
      'pop.gmail.com',
    ],
    [{ mailboxes: [box, { host: 'pop.example.com' }] }, 'mailboxes[1].id', 'is missing'],
    [
      { mailboxes: [box], api: { auth: 'jwt', jwt: { issuer: 'https://idp', audience: [''] } } },
      'api.jwt.audience[0]',
      'popvault-cli',
    ],
    [
      { mailboxes: [box], archive: { transition: { afterDays: 1.5, storageClass: 'GLACIER_IR' } } },
      'archive.transition.afterDays',
      'whole number 0-36500',
    ],
    [
      { mailboxes: [{ ...box, maxBytesPerRun: 10 }] },
      'mailboxes[0] ("personal").maxBytesPerRun',
      '1 GiB',
    ],
  ])('%j names %s', (document, field, fragment) => {
    const error = errorOf(document);
    expect(error.field).toBe(field);
    expect(error.message).toContain(fragment);
    expect(error.message).toMatch(/^c\.json: .+ Fix: .+$/);
    expect(error.message).not.toContain('\n');
  });
});
