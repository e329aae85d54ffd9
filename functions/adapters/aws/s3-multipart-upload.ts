/**
 * Large messages go to S3 as multipart uploads from their spool file: checksummed parts, a few in
 * flight, completed conditionally so a second writer of the same bytes finds them stored.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ArchiveError, ChecksumMismatchError, toArchiveError } from '../../core/archive/errors.js';
import {
  base64Sha256,
  CONFLICT_ATTEMPTS,
  CONFLICT_BACKOFF_MS,
  CONTENT_TYPE,
  isAlreadyStored,
  isConflict,
  S3_MAX_PARTS,
  sdkErrorName,
  sendS3,
  sourceUnreadable,
  VANISHED_UPLOAD_ATTEMPTS,
} from './s3-calls.js';

interface UploadedPart {
  PartNumber: number;
  ETag: string;
  ChecksumSHA256: string;
  digest: Buffer;
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

export class S3MultipartUpload {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #partSize: number;
  readonly #concurrency: number;

  constructor(client: S3Client, bucket: string, parts: { size: number; concurrency: number }) {
    this.#client = client;
    this.#bucket = bucket;
    this.#partSize = parts.size;
    this.#concurrency = parts.concurrency;
  }

  /**
   * NoSuchUpload on Complete almost always means the SDK retried a Complete whose answer was lost,
   * so the object is there; but the writer may not read (see the file comment), so instead of a HEAD
   * the message is uploaded once more and the conditional Complete decides: 412 says it was stored.
   */
  async put(key: string, path: string, size: number, sha256: string): Promise<void> {
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
      const created = await sendS3('CreateMultipartUpload', () =>
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
    const out = await sendS3('UploadPart', () =>
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
}
