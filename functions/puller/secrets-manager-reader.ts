import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SecretStringReader } from '../core/credentials/secret-sources.js';

/** The one Secrets Manager call the puller makes, over an injected client. */
export class SecretsManagerReader implements SecretStringReader {
  readonly #client: SecretsManagerClient;

  constructor(client: SecretsManagerClient) {
    this.#client = client;
  }

  async getSecretString(secretId: string): Promise<string> {
    const out = await this.#client.send(new GetSecretValueCommand({ SecretId: secretId }));
    if (out.SecretString === undefined) {
      throw new Error(
        `secret ${secretId} has no value yet; set it with: aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string file://mailbox-secret.json`,
      );
    }
    return out.SecretString;
  }
}
