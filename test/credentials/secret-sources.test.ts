import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CredentialsError,
  type CredentialsErrorCode,
  type OAuth2Secret,
  SafeCause,
} from '../../functions/core/credentials/credentials-provider.js';
import { OAuth2TokenProvider } from '../../functions/core/credentials/oauth2-token-client.js';
import {
  fromEnv,
  fromFile,
  fromSecretsManager,
  MAX_SECRET_OCTETS,
  providerFor,
} from '../../functions/core/credentials/secret-sources.js';
import { StaticPasswordProvider } from '../../functions/core/credentials/static-password-provider.js';

const passwordJson = JSON.stringify({
  kind: 'password',
  username: 'alice',
  password: 'wonderland',
});
const oauth2: OAuth2Secret = {
  kind: 'oauth2',
  username: 'alice@example.com',
  tokenEndpoint: 'https://oauth2.googleapis.com/token',
  clientId: 'client-id',
  clientSecret: 'client-secret',
  refreshToken: 'refresh-token',
  grant: 'refresh_token',
};

async function expectCredentialsError(
  promise: Promise<unknown>,
  code: CredentialsErrorCode,
): Promise<CredentialsError> {
  let settled: unknown;
  try {
    await promise;
  } catch (err) {
    settled = err;
  }
  if (!(settled instanceof CredentialsError)) {
    throw new Error(`expected CredentialsError ${code}, got ${String(settled)}`);
  }
  expect(settled.code, settled.message).toBe(code);
  return settled;
}

describe('fromEnv', () => {
  it('reads a JSON secret', async () => {
    const source = fromEnv('BOX', { env: { BOX: passwordJson } });
    expect(await source.load()).toEqual({
      kind: 'password',
      username: 'alice',
      password: 'wonderland',
    });
    expect(source.description).toBe('environment variable BOX');
  });

  it('reads a bare password, verbatim, with the user name and method given', async () => {
    const source = fromEnv('BOX', {
      env: { BOX: ' pass word ' },
      username: 'alice',
      method: 'user',
    });
    expect(await source.load()).toEqual({
      kind: 'password',
      username: 'alice',
      password: ' pass word ',
      method: 'user',
    });
  });

  it('refuses a bare password without a user name', async () => {
    const err = await expectCredentialsError(
      fromEnv('BOX', { env: { BOX: 'wonderland' } }).load(),
      'SECRET_INVALID',
    );
    expect(err.message).toContain('pass the username option');
  });

  it('reads a value starting with "{" as JSON, never as a password', async () => {
    const err = await expectCredentialsError(
      fromEnv('BOX', { env: { BOX: '{not json' }, username: 'alice' }).load(),
      'SECRET_INVALID',
    );
    expect(err.message).toContain('environment variable BOX is not valid JSON');
  });

  it('names the variable in validation errors', async () => {
    const err = await expectCredentialsError(
      fromEnv('BOX', { env: { BOX: '{"kind": "password"}' } }).load(),
      'SECRET_INVALID',
    );
    expect(err.message).toContain('environment variable BOX: mailbox secret: field "username"');
  });

  it('refuses a bare password with a newline', async () => {
    await expectCredentialsError(
      fromEnv('BOX', { env: { BOX: 'wonderland\n' }, username: 'alice' }).load(),
      'SECRET_INVALID',
    );
  });

  it.each([undefined, ''])(
    'an unset variable (%j) is SECRET_UNAVAILABLE, not temporary',
    async (value) => {
      const err = await expectCredentialsError(
        fromEnv('BOX', { env: { BOX: value } }).load(),
        'SECRET_UNAVAILABLE',
      );
      expect(err.temporary).toBe(false);
      expect(err.message).toContain('BOX is not set');
    },
  );

  it('refuses a value over the Secrets Manager size limit', async () => {
    const err = await expectCredentialsError(
      fromEnv('BOX', { env: { BOX: 'x'.repeat(MAX_SECRET_OCTETS + 1) }, username: 'a' }).load(),
      'SECRET_INVALID',
    );
    expect(err.message).toContain(`over the ${MAX_SECRET_OCTETS}`);
  });
});

describe('fromFile', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'popvault-secret-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Writes `text` and sets `mode` explicitly: writeFile's mode is filtered by the umask. */
  async function secretFile(text: string, mode: number): Promise<string> {
    const path = join(dir, 'mailbox.json');
    await writeFile(path, text);
    await chmod(path, mode);
    return path;
  }

  it.each([0o600, 0o400])('reads a JSON secret from a file with mode %o', async (mode) => {
    const path = await secretFile(passwordJson, mode);
    expect(await fromFile(path).load()).toMatchObject({ kind: 'password', username: 'alice' });
  });

  it.each([0o644, 0o640, 0o604, 0o620, 0o660, 0o610, 0o601])(
    'refuses a file with mode %o and says to chmod 600',
    async (mode) => {
      const path = await secretFile(passwordJson, mode);
      const err = await expectCredentialsError(fromFile(path).load(), 'SECRET_UNAVAILABLE');
      expect(err.temporary).toBe(false);
      expect(err.message).toContain(`mode ${mode.toString(8)}`);
      expect(err.message).toContain(`chmod 600 ${path}`);
    },
  );

  it('a missing file is SECRET_UNAVAILABLE, not temporary', async () => {
    const err = await expectCredentialsError(
      fromFile(join(dir, 'absent.json')).load(),
      'SECRET_UNAVAILABLE',
    );
    expect(err.temporary).toBe(false);
    expect(err.message).toContain('does not exist');
  });

  it('a directory is refused', async () => {
    const path = join(dir, 'sub');
    await mkdir(path, { mode: 0o700 });
    const err = await expectCredentialsError(fromFile(path).load(), 'SECRET_UNAVAILABLE');
    expect(err.message).toContain('not a regular file');
  });

  it('a file that is not JSON is SECRET_INVALID without a cause', async () => {
    const path = await secretFile('wonderland', 0o600);
    const err = await expectCredentialsError(fromFile(path).load(), 'SECRET_INVALID');
    expect(err.message).toContain(`file ${path} is not valid JSON`);
    expect(err.cause).toBeUndefined();
  });

  it('an oversize file is refused before it is read', async () => {
    const path = await secretFile(' '.repeat(MAX_SECRET_OCTETS + 1), 0o600);
    await expectCredentialsError(fromFile(path).load(), 'SECRET_INVALID');
  });
});

describe('fromSecretsManager', () => {
  class AwsLikeError extends Error {
    constructor(name: string, message: string) {
      super(message);
      this.name = name;
    }
  }

  it('reads and validates the SecretString of the given id', async () => {
    const asked: string[] = [];
    const source = fromSecretsManager(
      {
        getSecretString: async (id) => {
          asked.push(id);
          return JSON.stringify(oauth2);
        },
      },
      'popvault/mailbox/alice',
    );
    expect(await source.load()).toEqual(oauth2);
    expect(asked).toEqual(['popvault/mailbox/alice']);
    expect(source.description).toBe('Secrets Manager secret popvault/mailbox/alice');
  });

  it.each([
    ['ResourceNotFoundException', false],
    ['AccessDeniedException', false],
    ['ThrottlingException', true],
    ['InternalServiceError', true],
  ])('%s is SECRET_UNAVAILABLE, temporary %s, with a safe cause', async (name, temporary) => {
    const source = fromSecretsManager(
      {
        getSecretString: async () => {
          throw new AwsLikeError(name, `${name} for popvault/mailbox/alice`);
        },
      },
      'popvault/mailbox/alice',
    );
    const err = await expectCredentialsError(source.load(), 'SECRET_UNAVAILABLE');
    expect(err.temporary).toBe(temporary);
    expect(err.cause).toBeInstanceOf(SafeCause);
    expect(String(err.cause)).toContain(name);
  });

  it('a SecretString that is not JSON is SECRET_INVALID', async () => {
    const source = fromSecretsManager({ getSecretString: async () => 'wonderland' }, 'box');
    await expectCredentialsError(source.load(), 'SECRET_INVALID');
  });
});

describe('providerFor', () => {
  it('serves a password secret as it is, with method auto by default', async () => {
    const provider = providerFor({ kind: 'password', username: 'alice', password: 'wonderland' });
    expect(provider).toBeInstanceOf(StaticPasswordProvider);
    expect(provider.invalidate).toBeUndefined();
    expect(await provider.get()).toEqual({ user: 'alice', password: 'wonderland', method: 'auto' });
  });

  it('hands out copies, so a caller cannot change what the next get() returns', async () => {
    const provider = providerFor({ kind: 'password', username: 'alice', password: 'wonderland' });
    const first = await provider.get();
    first.user = 'mallory';
    expect((await provider.get()).user).toBe('alice');
  });

  it('serves an oauth2 secret with a token provider', () => {
    const provider = providerFor(oauth2, { requestTimeoutMs: 1_000 });
    expect(provider).toBeInstanceOf(OAuth2TokenProvider);
    expect(typeof provider.invalidate).toBe('function');
  });
});
