/**
 * Every failure an archive adapter raises is an ArchiveError with a stable `code` that callers
 * branch on, and `systemic`, which says whether the whole run should stop (nothing else can succeed
 * either: credentials, permissions, a missing bucket or table) or only this message failed and the
 * run should go on with the next one. A message that failed is never deleted from the server, so a
 * per-message failure costs nothing but a retry on the next run.
 *
 * SDK errors are mapped by `name` and HTTP status (never by message text, which AWS may change), and
 * kept as `cause` for logs.
 */

import { PopvaultError } from '../errors/popvault-error.js';

export type ArchiveErrorCode =
  /** Throttling, 5xx, timeouts, connection failures, batch items left unprocessed: retry later. */
  | 'STORE_UNAVAILABLE'
  /** Credentials missing, expired or invalid, a denied action, or a KMS key we may not use. */
  | 'STORE_ACCESS_DENIED'
  /** The bucket or table does not exist (wrong name, wrong region, not deployed). */
  | 'STORE_MISSING'
  /** Concurrent conditional writes on one key (S3 409) still conflicted after our retries. */
  | 'STORE_CONFLICT'
  /** The store refused the request as malformed (e.g. an item over 400 KB). Retrying will not help. */
  | 'STORE_REJECTED'
  /** Any other store failure. */
  | 'STORE_FAILED'
  /**
   * A stored item is not the record it should be (edited by hand, damaged, or written by a newer
   * popvault). Retrying will not help; the error names the item's key and the field.
   */
  | 'STORE_CORRUPT'
  /** The bytes are not the ones the caller's SHA-256 or octet count describes, or the store says so. */
  | 'CHECKSUM_MISMATCH'
  /** The spooled source file could not be read. */
  | 'SOURCE_UNREADABLE'
  /** A key attribute would exceed DynamoDB's key size limits. */
  | 'KEY_TOO_LARGE'
  /** A pagination cursor that is not one this index issued for this query. */
  | 'INVALID_CURSOR'
  /** The caller passed something no store could accept (a bad limit, date or digest). */
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND';

const SYSTEMIC: ReadonlySet<ArchiveErrorCode> = new Set(['STORE_ACCESS_DENIED', 'STORE_MISSING']);

export class ArchiveError extends PopvaultError {
  override name = 'ArchiveError';
  declare readonly code: ArchiveErrorCode;
  /** True when the whole run should stop; false when only this message (or call) failed. */
  readonly systemic: boolean;

  constructor(code: ArchiveErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.systemic = SYSTEMIC.has(code);
  }
}

export type StoreService = 's3' | 'dynamodb';

/** A failed call to S3 or DynamoDB, with what the SDK said, for logs and alarms. */
export class ArchiveStoreError extends ArchiveError {
  override name = 'ArchiveStoreError';
  readonly service: StoreService;
  readonly operation: string;
  /** The SDK error's name (AccessDenied, ThrottlingException, ...), or its errno code. */
  readonly awsErrorName: string | null;
  readonly httpStatusCode: number | null;

  constructor(
    code: ArchiveErrorCode,
    details: {
      service: StoreService;
      operation: string;
      awsErrorName: string | null;
      httpStatusCode: number | null;
      detail: string;
    },
    options?: { cause?: unknown },
  ) {
    const status = details.httpStatusCode === null ? '' : ` ${details.httpStatusCode}`;
    super(
      code,
      `${details.service} ${details.operation} failed: ${details.awsErrorName ?? 'error'}${status}: ${details.detail} (${code})`,
      options,
    );
    this.service = details.service;
    this.operation = details.operation;
    this.awsErrorName = details.awsErrorName;
    this.httpStatusCode = details.httpStatusCode;
  }
}

export class ChecksumMismatchError extends ArchiveError {
  override name = 'ChecksumMismatchError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('CHECKSUM_MISMATCH', message, options);
  }
}

export class InvalidCursorError extends ArchiveError {
  override name = 'InvalidCursorError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_CURSOR', message, options);
  }
}

export class KeyTooLargeError extends ArchiveError {
  override name = 'KeyTooLargeError';
  readonly attribute: string;
  readonly octets: number;
  readonly limit: number;

  constructor(attribute: string, octets: number, limit: number) {
    super(
      'KEY_TOO_LARGE',
      `index key ${attribute} would be ${octets} bytes; DynamoDB allows at most ${limit}`,
    );
    this.attribute = attribute;
    this.octets = octets;
    this.limit = limit;
  }
}

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidAccessKeyId',
  'InvalidClientTokenId',
  'InvalidToken',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'UnrecognizedClientException',
  'MissingAuthenticationToken',
  'MissingAuthenticationTokenException',
  'IncompleteSignatureException',
  'RequestTimeTooSkewed',
  'CredentialsProviderError',
  // A KMS key that is disabled, deleted or not granted to us fails every write the same way.
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KMS.DisabledException',
  'KMS.KMSInvalidStateException',
  'KMS.NotFoundException',
]);

const MISSING = new Set([
  'NoSuchBucket',
  'ResourceNotFoundException',
  'TableNotFoundException',
  // The bucket lives in another region than the client's: a deployment mistake, not a message's.
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'InvalidBucketName',
]);

const UNAVAILABLE = new Set([
  'ThrottlingException',
  'Throttling',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'SlowDown',
  'ServiceUnavailable',
  'InternalServerError',
  'InternalError',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'TransactionConflictException',
  'LimitExceededException',
  // Complete after an upload vanished (e.g. a retried Complete whose first try succeeded).
  'NoSuchUpload',
]);

const NETWORK_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
]);

const CHECKSUM = new Set([
  'BadDigest',
  'InvalidDigest',
  'XAmzContentSHA256Mismatch',
  'InvalidChecksum',
]);

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound']);

const REJECTED = new Set([
  'ValidationException',
  'InvalidRequest',
  'InvalidArgument',
  'EntityTooLarge',
]);

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  errors?: unknown;
}

function errnoOf(error: SdkErrorShape): string | null {
  if (typeof error.code === 'string' && NETWORK_ERRNO.has(error.code)) return error.code;
  // Node wraps a failed happy-eyeballs connect in an AggregateError of per-address errors.
  if (Array.isArray(error.errors)) {
    for (const inner of error.errors) {
      const code = (inner as SdkErrorShape | null)?.code;
      if (typeof code === 'string' && NETWORK_ERRNO.has(code)) return code;
    }
  }
  return null;
}

function codeFor(
  name: string | null,
  status: number | null,
  errno: string | null,
): ArchiveErrorCode {
  if (errno !== null) return 'STORE_UNAVAILABLE';
  if (name !== null) {
    if (ACCESS_DENIED.has(name)) return 'STORE_ACCESS_DENIED';
    if (MISSING.has(name)) return 'STORE_MISSING';
    if (UNAVAILABLE.has(name)) return 'STORE_UNAVAILABLE';
    if (CHECKSUM.has(name)) return 'CHECKSUM_MISMATCH';
    if (NOT_FOUND.has(name)) return 'NOT_FOUND';
    if (name === 'ConditionalRequestConflict') return 'STORE_CONFLICT';
    if (REJECTED.has(name)) return 'STORE_REJECTED';
  }
  if (status === 401 || status === 403) return 'STORE_ACCESS_DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'STORE_CONFLICT';
  if (status === 429 || (status !== null && status >= 500)) return 'STORE_UNAVAILABLE';
  if (status !== null && status >= 400) return 'STORE_REJECTED';
  return 'STORE_FAILED';
}

/**
 * Maps anything an AWS SDK call threw to an ArchiveError (an ArchiveError passes through as it is).
 * Only the SDK's error name, HTTP status and errno travel into the message: never request data.
 */
export function toArchiveError(
  error: unknown,
  context: { service: StoreService; operation: string },
): ArchiveError {
  if (error instanceof ArchiveError) return error;
  const shape: SdkErrorShape = error !== null && typeof error === 'object' ? error : {};
  const errno = errnoOf(shape);
  const status = shape.$metadata?.httpStatusCode;
  const httpStatusCode = typeof status === 'number' ? status : null;
  const sdkName = typeof shape.name === 'string' && shape.name !== 'Error' ? shape.name : null;
  const awsErrorName = sdkName ?? errno;
  const detail =
    typeof shape.message === 'string' && shape.message !== ''
      ? shape.message.slice(0, 300)
      : String(error).slice(0, 300);
  return new ArchiveStoreError(
    codeFor(sdkName, httpStatusCode, errno),
    { ...context, awsErrorName, httpStatusCode, detail },
    { cause: error },
  );
}

export function isArchiveError(error: unknown, code?: ArchiveErrorCode): error is ArchiveError {
  return error instanceof ArchiveError && (code === undefined || error.code === code);
}
