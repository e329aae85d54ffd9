import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Provider, SourceData } from '@smithy/types';
import { CliError } from './cli-error.js';

function bytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** SHA-256 (or HMAC-SHA-256 with a key) for the signer, from node:crypto. */
class NodeSha256 {
  readonly #secret: Buffer | undefined;
  #hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.#secret = secret === undefined ? undefined : bytes(secret);
    this.#hash = this.#fresh();
  }

  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
  }

  update(data: SourceData): void {
    this.#hash.update(bytes(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }

  reset(): void {
    this.#hash = this.#fresh();
  }
}

/** "abc123.execute-api.eu-west-1.amazonaws.com" names its region; custom domains do not. */
export function regionOf(url: URL, fallback: string | undefined): string {
  const match = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/.exec(url.hostname);
  const region = match?.[1] ?? fallback;
  if (!region) {
    throw new CliError(
      `cannot tell the AWS region of ${url.host}; pass --region or set AWS_REGION`,
    );
  }
  return region;
}

/**
 * GETs from a deployed popvault API with SigV4 (service execute-api), using the standard AWS
 * credential chain (env, profile, SSO, instance role). Redirects (the raw message's presigned S3 URL)
 * are followed without the Authorization header, as fetch does for any other origin.
 */
export function createSignedApiClient(options: {
  baseUrl: string;
  region?: string;
  credentials?: AwsCredentialIdentity | Provider<AwsCredentialIdentity>;
}): (path: string) => Promise<Response> {
  let base: URL;
  try {
    base = new URL(options.baseUrl);
  } catch {
    throw new CliError(
      `--api must be the API URL the stack printed (https://...), got "${options.baseUrl}"`,
    );
  }
  const signer = new SignatureV4({
    service: 'execute-api',
    region: regionOf(base, options.region),
    credentials: options.credentials ?? defaultProvider(),
    sha256: NodeSha256,
  });
  return async (path) => {
    const url = new URL(path, base.href.endsWith('/') ? base.href : `${base.href}/`);
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const signed = await signer.sign({
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname,
      query,
      headers: { host: url.host },
    });
    const headers = { ...signed.headers };
    delete headers.host;
    return fetch(url, { headers, redirect: 'follow' });
  };
}
