/**
 * The few S3 calls the search index makes under `search/` (search-keys.ts): small JSON objects
 * (pending documents, manifests), segment files, the listing of a prefix (only the flush lists:
 * pending documents and stray segments), and deletes. Failures become ArchiveErrors like every
 * other store call; a missing object is null, not an error.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { base64Sha256, httpStatus, isNotFound, sdkErrorName, sendS3 } from './s3-calls.js';

function isDenied(error: unknown): boolean {
  return sdkErrorName(error) === 'AccessDenied' || httpStatus(error) === 403;
}

export interface ListedObject {
  key: string;
  octets: number;
}

export interface S3SearchObjectsOptions {
  /**
   * Take a 403 on GET as "no such object". S3 answers a GET of a missing key with 403 to a caller
   * without s3:ListBucket, and the query function is deliberately not allowed to list (it would see
   * every mailbox's raw keys). Its grant to read search keys is tested with the stack, so a 403 there
   * is a key that is not (or no longer) there: a mailbox never flushed, a segment merged away.
   */
  deniedIsMissing?: boolean;
}

export class S3SearchObjects {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #deniedIsMissing: boolean;

  constructor(client: S3Client, bucket: string, options: S3SearchObjectsOptions = {}) {
    this.#client = client;
    this.#bucket = bucket;
    this.#deniedIsMissing = options.deniedIsMissing ?? false;
  }

  get bucket(): string {
    return this.#bucket;
  }

  /** PUTs bytes with their SHA-256, so S3 refuses a body damaged on the way. */
  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    const data = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    await sendS3('PutObject', () =>
      this.#client.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: key,
          Body: data,
          ContentLength: data.length,
          ContentType: contentType,
          ChecksumSHA256: base64Sha256(data),
        }),
      ),
    );
  }

  putJson(key: string, value: unknown): Promise<void> {
    return this.put(key, Buffer.from(JSON.stringify(value), 'utf8'), 'application/json');
  }

  /** The object's bytes, or null when there is none. */
  async get(key: string): Promise<Uint8Array | null> {
    try {
      const out = await sendS3('GetObject', () =>
        this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key })),
      );
      if (out.Body === undefined) return new Uint8Array(0);
      return await out.Body.transformToByteArray();
    } catch (error) {
      const cause = (error as { cause?: unknown }).cause ?? error;
      if (isNotFound(cause)) return null;
      if (this.#deniedIsMissing && isDenied(cause)) return null;
      throw error;
    }
  }

  /** The object parsed as JSON, or null when there is none. */
  async getJson(key: string): Promise<unknown> {
    const bytes = await this.get(key);
    if (bytes === null) return null;
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (error) {
      throw new Error(`s3://${this.#bucket}/${key} is not JSON; it was not written by popvault`, {
        cause: error,
      });
    }
  }

  /** Every object under `prefix`, across pages, in key order. */
  async list(prefix: string): Promise<ListedObject[]> {
    const found: ListedObject[] = [];
    let token: string | undefined;
    do {
      const page = await sendS3('ListObjectsV2', () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) found.push({ key: object.Key, octets: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return found;
  }

  /** Deletes each key (a missing one is no error: deletes are idempotent in S3). */
  async delete(keys: readonly string[], concurrency = DELETE_CONCURRENCY): Promise<void> {
    await forEachLimited(keys, concurrency, (key) =>
      sendS3('DeleteObject', () =>
        this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: key })),
      ).then(() => undefined),
    );
  }
}

/**
 * Requests at once when reading or deleting many small objects: enough to hide the round trip,
 * few enough to stay far below S3's per-prefix request rates and the SDK's socket pool (50).
 */
export const DELETE_CONCURRENCY = 16;

/** Runs `task` on every item, at most `limit` at a time; the first failure rejects. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
