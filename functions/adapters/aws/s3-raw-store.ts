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
import { type FileHandle, open, readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ArchiveError, ChecksumMismatchError, toArchiveError } from '../../core/archive/errors.js';
import type { RawObjectRef, RawPutInput, RawStore } from '../../core/archive/ports.js';
import { rawObjectKey } from '../../core/archive/raw-object-key.js';

const MIB = 1024 * 1024;
/** S3's limits for multipart uploads (every part but the last at least 5 MiB, 10,000 parts). */
export const S3_MIN_PART_OCTETS = 5 * MIB;
export const S3_MAX_PART_OCTETS = 5 * 1024 * MIB;
export const S3_MAX_PARTS = 10_000;
/** S3's limit for a single PutObject. */
export const S3_MAX_PUT_OCTETS = 5 * 1024 * MIB;
/**
 * Below this a file is read whole and sent in one PUT: one round trip instead of three or more. Most
 * mail is far smaller; 16 MiB in memory is comfortable for a 512 MB function.
 */
export const DEFAULT_MULTIPART_THRESHOLD_OCTETS = 16 * MIB;
export const DEFAULT_PART_SIZE_OCTETS = 8 * MIB;
/**
 * Parts in flight at once: memory stays at about part size times this, plus the part being read
 * (24 MiB, which the pull run budgets for each spool file it uploads). Two keep one part uploading
 * while the next is read; more buy little for the rare message this large.
 */
export const DEFAULT_PART_CONCURRENCY = 2;
/**
 * S3 answers 409 ConditionalRequestConflict when conditional writes to one key race; the retry then
 * sees 412 (stored by the other writer) or succeeds. The SDK does not retry 409 itself.
 */
const CONFLICT_ATTEMPTS = 4;
const CONFLICT_BACKOFF_MS = 100;
/** One upload, then one more to learn whether a vanished upload had completed (see putMultipart). */
const VANISHED_UPLOAD_ATTEMPTS = 2;
const CONTENT_TYPE = 'message/rfc822';
const HEX_SHA256 = /^[0-9a-f]{64}$/;

export interface S3RawStoreOptions {
  client: S3Client;
  bucket: string;
  /** Files larger than this go up as multipart uploads. */
  multipartThresholdOctets?: number;
  partSizeOctets?: number;
  partConcurrency?: number;
}

interface UploadedPart {
  PartNumber: number;
  ETag: string;
  ChecksumSHA256: string;
  digest: Buffer;
}

function sdkErrorName(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

function httpStatus(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** 412: the key exists, so (content-addressed) these bytes are already stored. */
function isAlreadyStored(error: unknown): boolean {
  return sdkErrorName(error) === 'PreconditionFailed' || httpStatus(error) === 412;
}

function isConflict(error: unknown): boolean {
  return sdkErrorName(error) === 'ConditionalRequestConflict' || httpStatus(error) === 409;
}

function isNotFound(error: unknown): boolean {
  const name = sdkErrorName(error);
  return name === 'NotFound' || name === 'NoSuchKey' || httpStatus(error) === 404;
}

function base64Sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}

/**
 * Whether S3's echo is our composite. The "-<parts>" suffix is accepted with or without: it could
 * not be checked against real S3 here (s3rver echoes nothing), and a false alarm would fail every
 * large message. Base64 has no "-", so the split is unambiguous.
 */
function sameComposite(echoed: string, composite: string, partCount: number): boolean {
  const [digest, count, ...rest] = echoed.split('-');
  return (
    digest === composite &&
    rest.length === 0 &&
    (count === undefined || count === String(partCount))
  );
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

function sourceUnreadable(path: string, error: unknown): ArchiveError {
  const code = (error as NodeJS.ErrnoException | null)?.code ?? 'error';
  return new ArchiveError(
    'SOURCE_UNREADABLE',
    `cannot read the spooled message (${code}): ${path}`,
    {
      cause: error,
    },
  );
}

/** Reads exactly `buffer.length` bytes at `position`, or fewer only at end of file. */
async function readAt(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(
      buffer,
      filled,
      buffer.length - filled,
      position + filled,
    );
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}

export class S3RawStore implements RawStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #threshold: number;
  readonly #partSize: number;
  readonly #concurrency: number;

  constructor(options: S3RawStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#threshold = requireOctets(
      'multipartThresholdOctets',
      options.multipartThresholdOctets ?? DEFAULT_MULTIPART_THRESHOLD_OCTETS,
      0,
      S3_MAX_PUT_OCTETS,
    );
    this.#partSize = requireOctets(
      'partSizeOctets',
      options.partSizeOctets ?? DEFAULT_PART_SIZE_OCTETS,
      S3_MIN_PART_OCTETS,
      S3_MAX_PART_OCTETS,
    );
    this.#concurrency = requireOctets(
      'partConcurrency',
      options.partConcurrency ?? DEFAULT_PART_CONCURRENCY,
      1,
      S3_MAX_PARTS,
    );
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
      await this.#putMultipart(key, source.path, size, input.sha256);
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

  /**
   * NoSuchUpload on Complete almost always means the SDK retried a Complete whose answer was lost,
   * so the object is there; but the writer may not read (see the file comment), so instead of a HEAD
   * the message is uploaded once more and the conditional Complete decides: 412 says it was stored.
   */
  async #putMultipart(key: string, path: string, size: number, sha256: string): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw sourceUnreadable(path, error);
    }
    try {
      for (let attempt = 1; ; attempt++) {
        const last = attempt >= VANISHED_UPLOAD_ATTEMPTS;
        const outcome = await this.#uploadOnce(handle, key, path, size, sha256, last);
        if (outcome !== 'upload-vanished') return;
      }
    } finally {
      await handle.close();
    }
  }

  async #uploadOnce(
    handle: FileHandle,
    key: string,
    path: string,
    size: number,
    sha256: string,
    lastAttempt: boolean,
  ): Promise<'stored' | 'already-stored' | 'upload-vanished'> {
    let uploadId: string | undefined;
    try {
      const created = await this.#send('CreateMultipartUpload', () =>
        this.#client.send(
          new CreateMultipartUploadCommand({
            Bucket: this.#bucket,
            Key: key,
            ContentType: CONTENT_TYPE,
            ChecksumAlgorithm: 'SHA256',
          }),
        ),
      );
      uploadId = created.UploadId;
      if (uploadId === undefined) {
        throw new ArchiveError(
          'STORE_FAILED',
          `s3 CreateMultipartUpload returned no UploadId for ${key}`,
        );
      }
      const parts = await this.#uploadParts(handle, path, key, uploadId, size, sha256);
      const outcome = await this.#complete(key, uploadId, parts, size, lastAttempt);
      if (outcome === 'already-stored') {
        // The upload stays open after a refused Complete, and its parts would be billed.
        await this.#abort(key, uploadId);
      }
      return outcome;
    } catch (error) {
      if (uploadId !== undefined) await this.#abort(key, uploadId);
      throw error;
    }
  }

  /**
   * Reads the file part by part in order (hashing the whole object on the way), uploading up to
   * `concurrency` parts at once. Waits for every started upload before returning or throwing, so
   * nothing is still sending when the caller aborts the upload.
   */
  async #uploadParts(
    handle: FileHandle,
    path: string,
    key: string,
    uploadId: string,
    size: number,
    sha256: string,
  ): Promise<UploadedPart[]> {
    // A 50 GiB message would need more than 10,000 parts of the configured size.
    const partSize = Math.max(this.#partSize, Math.ceil(size / S3_MAX_PARTS));
    const partCount = Math.max(1, Math.ceil(size / partSize));
    const whole = createHash('sha256');
    const parts: UploadedPart[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | null = null;
    // Part buffers are reused once their upload has settled: a fresh 8 MiB buffer per part would be
    // garbage V8 collects only after ~64 MB of external memory has piled up, so a 100 MB message
    // would peak far above the concurrency x part size this store promises.
    const spare: Buffer[] = [];

    try {
      for (let partNumber = 1; partNumber <= partCount && failure === null; partNumber++) {
        while (inFlight.size >= this.#concurrency && failure === null) await Promise.race(inFlight);
        if (failure !== null) break;
        const offset = (partNumber - 1) * partSize;
        const length = Math.min(partSize, size - offset);
        const buffer = spare.pop() ?? Buffer.allocUnsafe(partSize);
        const body = buffer.subarray(0, length);
        let read: number;
        try {
          read = await readAt(handle, body, offset);
        } catch (error) {
          throw sourceUnreadable(path, error);
        }
        if (read !== body.length) {
          throw new ChecksumMismatchError(`spool file ${path} shrank while it was uploaded`);
        }
        whole.update(body);
        const tracked: Promise<void> = this.#uploadPart(key, uploadId, partNumber, body)
          .then(
            (part) => {
              parts.push(part);
            },
            (error: unknown) => {
              failure ??= { error };
            },
          )
          .finally(() => {
            inFlight.delete(tracked);
            spare.push(buffer);
          });
        inFlight.add(tracked);
      }
    } finally {
      await Promise.all(inFlight);
    }
    // Re-read for the type checker: the callbacks above assign it.
    const failed = failure as { error: unknown } | null;
    if (failed !== null) throw failed.error;

    const actual = whole.digest('hex');
    if (actual !== sha256) {
      throw new ChecksumMismatchError(`spool file has sha256 ${actual}, expected ${sha256}`);
    }
    return parts.sort((a, b) => a.PartNumber - b.PartNumber);
  }

  async #uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Buffer,
  ): Promise<UploadedPart> {
    const digest = createHash('sha256').update(body).digest();
    const checksum = digest.toString('base64');
    const out = await this.#send('UploadPart', () =>
      this.#client.send(
        new UploadPartCommand({
          Bucket: this.#bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          Body: body,
          ContentLength: body.length,
          ChecksumSHA256: checksum,
        }),
      ),
    );
    if (out.ETag === undefined) {
      throw new ArchiveError(
        'STORE_FAILED',
        `s3 UploadPart ${partNumber} returned no ETag for ${key}`,
      );
    }
    if (out.ChecksumSHA256 !== undefined && out.ChecksumSHA256 !== checksum) {
      throw new ChecksumMismatchError(
        `s3 stored part ${partNumber} of ${key} with checksum ${out.ChecksumSHA256}, sent ${checksum}`,
      );
    }
    return { PartNumber: partNumber, ETag: out.ETag, ChecksumSHA256: checksum, digest };
  }

  async #complete(
    key: string,
    uploadId: string,
    parts: UploadedPart[],
    size: number,
    lastAttempt: boolean,
  ): Promise<'stored' | 'already-stored' | 'upload-vanished'> {
    // S3's composite checksum: the SHA-256 of the parts' binary digests (then "-<part count>").
    const composite = base64Sha256(Buffer.concat(parts.map((p) => p.digest)));
    for (let attempt = 1; ; attempt++) {
      let echoed: string | undefined;
      try {
        const out = await this.#client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.#bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: {
              Parts: parts.map(({ PartNumber, ETag, ChecksumSHA256 }) => ({
                PartNumber,
                ETag,
                ChecksumSHA256,
              })),
            },
            // S3 refuses to complete when the parts do not add up to this.
            MpuObjectSize: size,
            IfNoneMatch: '*',
          }),
        );
        echoed = out.ChecksumSHA256;
      } catch (error) {
        if (isAlreadyStored(error)) return 'already-stored';
        if (isConflict(error) && attempt < CONFLICT_ATTEMPTS) {
          await delay(CONFLICT_BACKOFF_MS * attempt);
          continue;
        }
        if (sdkErrorName(error) === 'NoSuchUpload' && !lastAttempt) return 'upload-vanished';
        throw toArchiveError(error, { service: 's3', operation: 'CompleteMultipartUpload' });
      }
      if (echoed !== undefined && !sameComposite(echoed, composite, parts.length)) {
        throw new ChecksumMismatchError(
          `s3 completed ${key} with checksum ${echoed}, expected ${composite}-${parts.length}`,
        );
      }
      return 'stored';
    }
  }

  /** Best effort: the original failure matters more, and the bucket's lifecycle rule cleans up. */
  async #abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.#client.send(
        new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: key, UploadId: uploadId }),
      );
    } catch {
      // Deliberately ignored, see above.
    }
  }

  async #send<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw toArchiveError(error, { service: 's3', operation });
    }
  }
}
