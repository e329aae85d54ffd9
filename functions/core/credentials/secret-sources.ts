/**
 * Where a mailbox secret is read from (an env var, a local file, AWS Secrets Manager) and which
 * provider serves it. Sources read on load(), not on construction, so a long-lived process picks up a
 * secret rotated in the store.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import {
  CredentialsError,
  type CredentialsProvider,
  type MailboxSecret,
  type PasswordMethod,
  parseMailboxSecret,
  safeCause,
} from './credentials-provider.js';
import { OAuth2TokenProvider, type OAuth2TokenProviderOptions } from './oauth2-token-client.js';
import { StaticPasswordProvider } from './static-password-provider.js';

/**
 * Secrets Manager's own SecretString limit (65,536 bytes), applied to every source so a secret that
 * works locally also fits the store, and a wrong file (a log, a key store) is refused before parsing.
 */
export const MAX_SECRET_OCTETS = 64 * 1024;

/** Permission bits for group and others: any of them set means someone else may read the file. */
const GROUP_OTHER_BITS = 0o077;

export interface SecretSource {
  /** Where the secret lives, for messages ("file /etc/popvault/box.json"): never the secret. */
  readonly description: string;
  load(): Promise<MailboxSecret>;
}

/** The one Secrets Manager call needed; the AWS SDK adapter implements it. */
export interface SecretStringReader {
  getSecretString(secretId: string): Promise<string>;
}

export interface FromEnvOptions {
  /** User name for a bare password (a JSON secret carries its own). */
  username?: string;
  /** Login method for a bare password. Default 'auto'. */
  method?: PasswordMethod;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/**
 * A JSON secret, or a bare password, from an environment variable. A value starting with "{" is
 * always read as JSON: a broken JSON secret silently sent to the server as a password would fail
 * login confusingly and may lock the account.
 */
export function fromEnv(name: string, options: FromEnvOptions = {}): SecretSource {
  const description = `environment variable ${name}`;
  return {
    description,
    async load() {
      const value = (options.env ?? process.env)[name];
      if (value === undefined || value === '') {
        throw new CredentialsError(
          'SECRET_UNAVAILABLE',
          `${description} is not set; set it to the mailbox secret JSON or a password`,
          { temporary: false },
        );
      }
      checkSize(description, Buffer.byteLength(value, 'utf8'));
      if (value.trimStart().startsWith('{')) return parseJsonSecret(description, value);
      if (options.username === undefined) {
        throw new CredentialsError(
          'SECRET_INVALID',
          `${description} holds a bare password but no user name was given; pass the username option, or store a JSON secret with "username"`,
        );
      }
      const secret: Record<string, unknown> = {
        kind: 'password',
        username: options.username,
        password: value,
      };
      if (options.method !== undefined) secret.method = options.method;
      return parseWithContext(description, secret);
    },
  };
}

/**
 * A JSON secret from a file that only its owner can read. The mode is checked on the opened handle,
 * so the file checked is the file read.
 */
export function fromFile(path: string): SecretSource {
  const description = `file ${path}`;
  return {
    description,
    async load() {
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch (err) {
        throw openFailure(description, err);
      }
      try {
        const stat = await handle.stat();
        if (!stat.isFile()) {
          throw new CredentialsError(
            'SECRET_UNAVAILABLE',
            `${description} is not a regular file; point to the secret JSON file`,
            { temporary: false },
          );
        }
        if ((stat.mode & GROUP_OTHER_BITS) !== 0) {
          throw new CredentialsError(
            'SECRET_UNAVAILABLE',
            `${description} is accessible by group or others (mode ${(stat.mode & 0o777).toString(8).padStart(3, '0')}); it holds credentials: run chmod 600 ${path}`,
            { temporary: false },
          );
        }
        checkSize(description, stat.size);
        return parseJsonSecret(description, await handle.readFile('utf8'));
      } finally {
        await handle.close();
      }
    },
  };
}

/** Secrets Manager errors that will not go away by retrying: they need a human to fix IAM or the id. */
const PERMANENT_SECRETS_MANAGER_ERRORS: ReadonlySet<string> = new Set([
  'ResourceNotFoundException',
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidParameterException',
  'InvalidRequestException',
]);

export function fromSecretsManager(reader: SecretStringReader, secretId: string): SecretSource {
  const description = `Secrets Manager secret ${secretId}`;
  return {
    description,
    async load() {
      let text: string;
      try {
        text = await reader.getSecretString(secretId);
      } catch (err) {
        const name = err instanceof Error ? err.name : '';
        const permanent = PERMANENT_SECRETS_MANAGER_ERRORS.has(name);
        throw new CredentialsError(
          'SECRET_UNAVAILABLE',
          permanent
            ? `${description} could not be read (${name}); check the secret id and that the function's role may call secretsmanager:GetSecretValue and kms:Decrypt`
            : `${description} could not be read; the next run retries`,
          // The read failed before any secret text existed here, so the SDK's message cannot hold it.
          { cause: safeCause(err, []), temporary: !permanent },
        );
      }
      checkSize(description, Buffer.byteLength(text, 'utf8'));
      return parseJsonSecret(description, text);
    },
  };
}

export type ProviderDeps = OAuth2TokenProviderOptions;

/** The provider for a secret's kind. `deps` matter only for oauth2. */
export function providerFor(secret: MailboxSecret, deps: ProviderDeps = {}): CredentialsProvider {
  switch (secret.kind) {
    case 'password':
      return new StaticPasswordProvider(secret);
    case 'oauth2':
      return new OAuth2TokenProvider(secret, deps);
  }
}

function checkSize(description: string, octets: number): void {
  if (octets > MAX_SECRET_OCTETS) {
    throw new CredentialsError(
      'SECRET_INVALID',
      `${description} is ${octets} octets, over the ${MAX_SECRET_OCTETS} a mailbox secret may be; check it is the right secret`,
    );
  }
}

function parseJsonSecret(description: string, text: string): MailboxSecret {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // No cause, deliberately: V8's JSON.parse message quotes the text around the error.
    throw new CredentialsError(
      'SECRET_INVALID',
      `${description} is not valid JSON; check it with a JSON validator (the parser's own message is withheld because it quotes the secret)`,
    );
  }
  return parseWithContext(description, json);
}

function parseWithContext(description: string, json: unknown): MailboxSecret {
  try {
    return parseMailboxSecret(json);
  } catch (err) {
    if (err instanceof CredentialsError) {
      throw new CredentialsError(err.code, `${description}: ${err.message}`, {
        temporary: err.temporary,
      });
    }
    throw err;
  }
}

function openFailure(description: string, err: unknown): CredentialsError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') {
    return new CredentialsError(
      'SECRET_UNAVAILABLE',
      `${description} does not exist; create it (mode 600) or fix the path`,
      { temporary: false },
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new CredentialsError(
      'SECRET_UNAVAILABLE',
      `${description} cannot be opened: permission denied; run as the file's owner`,
      { temporary: false },
    );
  }
  // Filesystem errors name the path and syscall, never file contents.
  return new CredentialsError('SECRET_UNAVAILABLE', `${description} cannot be opened`, {
    cause: safeCause(err, []),
  });
}
