import type {
  CredentialsProvider,
  PasswordCredentials,
  PasswordSecret,
} from './credentials-provider.js';

/**
 * A stored password. No invalidate(): there is nothing cached to drop, and a rejected password stays
 * rejected until a human changes the secret.
 */
export class StaticPasswordProvider implements CredentialsProvider {
  readonly #credentials: PasswordCredentials;

  constructor(secret: PasswordSecret) {
    this.#credentials = {
      user: secret.username,
      password: secret.password,
      method: secret.method ?? 'auto',
    };
  }

  async get(): Promise<PasswordCredentials> {
    // A copy: the POP3 client or a caller must not be able to change what later runs receive.
    return { ...this.#credentials };
  }
}
