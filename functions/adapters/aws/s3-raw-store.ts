/**
 * Raw message bytes in S3, content-addressed (rawObjectKey), verified end to end:
 *
 * - The store first checks the bytes against the caller's SHA-256 and octet count itself, so a
 *   corrupted spool file or buffer is refused before anything is sent (and on emulators that do not
 *   check checksums). Every request then carries the SHA-256, so S3 verifies what it received:
 *   a single PUT carries the whole object's digest, a multipart upload each part's (S3 builds the
 *   composite checksum from them) and the whole object's size.
 * - `If-None-Match: *` makes the write conditional: a key that already exists holds these very bytes
 *   (the key is their digest), so 412 Precondition Failed means "already stored" and no second
 *   version is created in a versioned bucket.
 * - Bodies are always Buffers with an explicit checksum header: the SDK then sends them as they are,
 *   never as aws-chunked streams with trailers, and can replay them on its own retries.
 *
 * put() reads nothing back, so a writer needs s3:PutObject (and AbortMultipartUpload) only: the
 * puller is granted neither GetObject nor ListBucket, and S3 answers its HEAD of any key with 403,
 * which cannot tell "missing" from "there". get() and has() are for readers (the query API, tests),
 * which need GetObject, and ListBucket for has() to see 404 rather than 403 for a missing key. The
 * bucket needs a lifecycle rule aborting incomplete multipart uploads, in case our own abort fails.
 */

import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ArchiveError, ChecksumMismatchError, toArchiveError } from '../../core/archive/errors.js';
import type { RawObjectRef, RawPutInput, RawStore } from '../../core/archive/ports.js';
import { rawObjectKey } from '../../core/archive/raw-object-key.js';
import {
  CONFLICT_ATTEMPTS,
  CONFLICT_BACKOFF_MS,
  CONTENT_TYPE,
  DEFAULT_MULTIPART_THRESHOLD_OCTETS,
  DEFAULT_PART_CONCURRENCY,
  DEFAULT_PART_SIZE_OCTETS,
  HEX_SHA256,
  isAlreadyStored,
  isConflict,
  isNotFound,
  S3_MAX_PART_OCTETS,
  S3_MAX_PARTS,
  S3_MAX_PUT_OCTETS,
  S3_MIN_PART_OCTETS,
  sourceUnreadable,
} from './s3-calls.js';
import { S3MultipartUpload } from './s3-multipart-upload.js';

export {
  DEFAULT_MULTIPART_THRESHOLD_OCTETS,
  DEFAULT_PART_CONCURRENCY,
  DEFAULT_PART_SIZE_OCTETS,
  S3_MAX_PART_OCTETS,
  S3_MAX_PARTS,
  S3_MAX_PUT_OCTETS,
  S3_MIN_PART_OCTETS,
} from './s3-calls.js';

export interface S3RawStoreOptions {
  client: S3Client;
  bucket: string;
  /** Files larger than this go up as multipart uploads. */
  multipartThresholdOctets?: number;
  partSizeOctets?: number;
  partConcurrency?: number;
}

function requireOctets(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ArchiveError('INVALID_ARGUMENT', `${name} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

function verify(data: Buffer, input: RawPutInput): void {
  if (data.length !== input.octets) {
    throw new ChecksumMismatchError(
      `source holds ${data.length} octets, expected ${input.octets} (sha256 ${input.sha256})`,
    );
  }
  const actual = createHash('sha256').update(data).digest('hex');
  if (actual !== input.sha256) {
    throw new ChecksumMismatchError(`source has sha256 ${actual}, expected ${input.sha256}`);
  }
}

export class S3RawStore implements RawStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #threshold: number;
  readonly #multipart: S3MultipartUpload;

  constructor(options: S3RawStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#threshold = requireOctets(
      'multipartThresholdOctets',
      options.multipartThresholdOctets ?? DEFAULT_MULTIPART_THRESHOLD_OCTETS,
      0,
      S3_MAX_PUT_OCTETS,
    );
    const size = requireOctets(
      'partSizeOctets',
      options.partSizeOctets ?? DEFAULT_PART_SIZE_OCTETS,
      S3_MIN_PART_OCTETS,
      S3_MAX_PART_OCTETS,
    );
    const concurrency = requireOctets(
      'partConcurrency',
      options.partConcurrency ?? DEFAULT_PART_CONCURRENCY,
      1,
      S3_MAX_PARTS,
    );
    this.#multipart = new S3MultipartUpload(this.#client, this.#bucket, { size, concurrency });
  }

  async put(input: RawPutInput): Promise<RawObjectRef> {
    if (!HEX_SHA256.test(input.sha256)) {
      throw new ArchiveError(
        'INVALID_ARGUMENT',
        `not a lower-case hex SHA-256: ${input.sha256.slice(0, 80)}`,
      );
    }
    requireOctets('octets', input.octets, 0, Number.MAX_SAFE_INTEGER);
    const key = rawObjectKey(input.mailboxId, input.sha256);
    const ref: RawObjectRef = { key, sha256: input.sha256, octets: input.octets };
    const { source } = input;

    if (source.kind === 'buffer') {
      // Already in memory, so one PUT whatever its size; multipart would only add round trips.
      verify(source.data, input);
      await this.#putObject(key, source.data, input.sha256);
      return ref;
    }

    let size: number;
    try {
      size = (await stat(source.path)).size;
    } catch (error) {
      throw sourceUnreadable(source.path, error);
    }
    if (size !== input.octets) {
      throw new ChecksumMismatchError(
        `spool file holds ${size} octets, expected ${input.octets} (sha256 ${input.sha256})`,
      );
    }
    if (size <= this.#threshold) {
      let data: Buffer;
      try {
        data = await readFile(source.path);
      } catch (error) {
        throw sourceUnreadable(source.path, error);
      }
      verify(data, input);
      await this.#putObject(key, data, input.sha256);
    } else {
      await this.#multipart.put(key, source.path, size, input.sha256);
    }
    return ref;
  }

  async get(key: string): Promise<Readable> {
    try {
      const out = await this.#client.send(
        // ENABLED: where S3 returns a full-object checksum, the SDK checks the body against it.
        new GetObjectCommand({ Bucket: this.#bucket, Key: key, ChecksumMode: 'ENABLED' }),
      );
      if (!(out.Body instanceof Readable)) {
        throw new ArchiveError('STORE_FAILED', `s3 GetObject returned no readable body for ${key}`);
      }
      return out.Body;
    } catch (error) {
      throw toArchiveError(error, { service: 's3', operation: 'GetObject' });
    }
  }

  async has(key: string): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return true;
    } catch (error) {
      // A HEAD response has no body, so S3 cannot say whether the key or the bucket is missing:
      // both are "not here".
      if (isNotFound(error)) return false;
      throw toArchiveError(error, { service: 's3', operation: 'HeadObject' });
    }
  }

  async #putObject(key: string, data: Buffer, sha256: string): Promise<void> {
    const checksum = Buffer.from(sha256, 'hex').toString('base64');
    for (let attempt = 1; ; attempt++) {
      let echoed: string | undefined;
      try {
        const out = await this.#client.send(
          new PutObjectCommand({
            Bucket: this.#bucket,
            Key: key,
            Body: data,
            ContentLength: data.length,
            ContentType: CONTENT_TYPE,
            ChecksumSHA256: checksum,
            IfNoneMatch: '*',
          }),
        );
        echoed = out.ChecksumSHA256;
      } catch (error) {
        if (isAlreadyStored(error)) return;
        if (isConflict(error) && attempt < CONFLICT_ATTEMPTS) {
          await delay(CONFLICT_BACKOFF_MS * attempt);
          continue;
        }
        throw toArchiveError(error, { service: 's3', operation: 'PutObject' });
      }
      // S3 has verified the digest already; a different echo would mean a broken proxy or SDK.
      if (echoed !== undefined && echoed !== checksum) {
        throw new ChecksumMismatchError(
          `s3 stored ${key} with checksum ${echoed}, sent ${checksum}`,
        );
      }
      return;
    }
  }
}
