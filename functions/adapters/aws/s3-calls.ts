/**
 * What the S3 raw store's single and multipart uploads share: S3's limits, how its answers are told
 * apart (already stored, conflict, not found), and the mapping of a failed call to an ArchiveError.
 */
import { createHash } from 'node:crypto';
import { ArchiveError, toArchiveError } from '../../core/archive/errors.js';

export const MIB = 1024 * 1024;
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
export const CONFLICT_ATTEMPTS = 4;
export const CONFLICT_BACKOFF_MS = 100;
/** One upload, then one more to learn whether a vanished upload had completed (see putMultipart). */
export const VANISHED_UPLOAD_ATTEMPTS = 2;
export const CONTENT_TYPE = 'message/rfc822';
export const HEX_SHA256 = /^[0-9a-f]{64}$/;

export function sdkErrorName(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

export function httpStatus(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** 412: the key exists, so (content-addressed) these bytes are already stored. */
export function isAlreadyStored(error: unknown): boolean {
  return sdkErrorName(error) === 'PreconditionFailed' || httpStatus(error) === 412;
}

export function isConflict(error: unknown): boolean {
  return sdkErrorName(error) === 'ConditionalRequestConflict' || httpStatus(error) === 409;
}

export function isNotFound(error: unknown): boolean {
  const name = sdkErrorName(error);
  return name === 'NotFound' || name === 'NoSuchKey' || httpStatus(error) === 404;
}

export function base64Sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64');
}

export function sourceUnreadable(path: string, error: unknown): ArchiveError {
  const code = (error as NodeJS.ErrnoException | null)?.code ?? 'error';
  return new ArchiveError(
    'SOURCE_UNREADABLE',
    `cannot read the spooled message (${code}): ${path}`,
    {
      cause: error,
    },
  );
}

export async function sendS3<T>(operation: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toArchiveError(error, { service: 's3', operation });
  }
}
