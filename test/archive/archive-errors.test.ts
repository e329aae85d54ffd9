/**
 * The errors every archive adapter raises: their names, codes and messages (what a user reads in a
 * run's log), and how anything an AWS SDK call throws maps to one stable code, by the SDK's error
 * name, HTTP status and errno, never by message text.
 */
import { describe, expect, it } from 'vitest';
import {
  ArchiveError,
  type ArchiveErrorCode,
  ArchiveStoreError,
  ChecksumMismatchError,
  InvalidCursorError,
  isArchiveError,
  KeyTooLargeError,
  toArchiveError,
} from '../../functions/core/archive/errors.js';

const S3_PUT = { service: 's3', operation: 'PutObject' } as const;

/** An error as the AWS SDK v3 throws it: a name, a message and the response's HTTP status. */
function sdkError(name: string, status: number | undefined, message = 'the store said no'): Error {
  const error = new Error(message);
  error.name = name;
  if (status !== undefined) Object.assign(error, { $metadata: { httpStatusCode: status } });
  return error;
}

/** A failed socket as Node raises it: a plain Error carrying an errno code. */
function errnoError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code });
}

describe('archive error classes', () => {
  it('an ArchiveError carries its code, message and cause, and is systemic only for access and missing stores', () => {
    const cause = new Error('underlying');
    const error = new ArchiveError('STORE_FAILED', 'the store failed', { cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ArchiveError');
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toBe('the store failed');
    expect(error.cause).toBe(cause);
    expect(error.systemic).toBe(false);
    expect(new ArchiveError('STORE_ACCESS_DENIED', 'denied').systemic).toBe(true);
    expect(new ArchiveError('STORE_MISSING', 'no bucket').systemic).toBe(true);
  });

  it('a store error names the service, operation, SDK error and HTTP status in its message', () => {
    const cause = new Error('sdk');
    const error = new ArchiveStoreError(
      'STORE_UNAVAILABLE',
      {
        service: 'dynamodb',
        operation: 'PutItem',
        awsErrorName: 'ThrottlingException',
        httpStatusCode: 400,
        detail: 'Rate exceeded',
      },
      { cause },
    );
    expect(error.name).toBe('ArchiveStoreError');
    expect(error.message).toBe(
      'dynamodb PutItem failed: ThrottlingException 400: Rate exceeded (STORE_UNAVAILABLE)',
    );
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error.service).toBe('dynamodb');
    expect(error.operation).toBe('PutItem');
    expect(error.awsErrorName).toBe('ThrottlingException');
    expect(error.httpStatusCode).toBe(400);
    expect(error.cause).toBe(cause);
  });

  it('a store error without an SDK error name or HTTP status says "error" and leaves the status out', () => {
    const error = new ArchiveStoreError('STORE_FAILED', {
      service: 's3',
      operation: 'GetObject',
      awsErrorName: null,
      httpStatusCode: null,
      detail: 'something broke',
    });
    expect(error.message).toBe('s3 GetObject failed: error: something broke (STORE_FAILED)');
    expect(error.awsErrorName).toBeNull();
    expect(error.httpStatusCode).toBeNull();
  });

  it('a checksum mismatch, an invalid cursor and a too-large key each have their own name and code', () => {
    const cause = new Error('digest');
    const checksum = new ChecksumMismatchError('sha256 differs', { cause });
    expect(checksum).toBeInstanceOf(ArchiveError);
    expect([checksum.name, checksum.code, checksum.message]).toEqual([
      'ChecksumMismatchError',
      'CHECKSUM_MISMATCH',
      'sha256 differs',
    ]);
    expect(checksum.cause).toBe(cause);

    const cursor = new InvalidCursorError('invalid cursor: x');
    expect([cursor.name, cursor.code, cursor.message]).toEqual([
      'InvalidCursorError',
      'INVALID_CURSOR',
      'invalid cursor: x',
    ]);

    const key = new KeyTooLargeError('gsi1pk', 2049, 2048);
    expect([key.name, key.code, key.message]).toEqual([
      'KeyTooLargeError',
      'KEY_TOO_LARGE',
      'index key gsi1pk would be 2049 bytes; DynamoDB allows at most 2048',
    ]);
    expect([key.attribute, key.octets, key.limit]).toEqual(['gsi1pk', 2049, 2048]);
  });
});

describe('isArchiveError', () => {
  it('recognises an ArchiveError of any code, or of the one code asked for', () => {
    const notFound = new ArchiveError('NOT_FOUND', 'gone');
    expect(isArchiveError(notFound)).toBe(true);
    expect(isArchiveError(notFound, 'NOT_FOUND')).toBe(true);
    expect(isArchiveError(notFound, 'STORE_FAILED')).toBe(false);
  });

  it('refuses anything that is not an ArchiveError, even with an archive code on it', () => {
    const lookalike = Object.assign(new Error('gone'), { code: 'NOT_FOUND' });
    expect(isArchiveError(lookalike)).toBe(false);
    expect(isArchiveError(lookalike, 'NOT_FOUND')).toBe(false);
    expect(isArchiveError(null)).toBe(false);
  });
});

describe('toArchiveError', () => {
  it('passes an ArchiveError through unchanged', () => {
    const error = new ArchiveError('STORE_CORRUPT', 'bad item');
    expect(toArchiveError(error, S3_PUT)).toBe(error);
  });

  it.each<[string, number | undefined, ArchiveErrorCode]>([
    ['AccessDenied', 403, 'STORE_ACCESS_DENIED'],
    ['NoSuchBucket', 404, 'STORE_MISSING'],
    ['SlowDown', 503, 'STORE_UNAVAILABLE'],
    ['BadDigest', 400, 'CHECKSUM_MISMATCH'],
    ['NoSuchKey', undefined, 'NOT_FOUND'],
    ['NotFound', undefined, 'NOT_FOUND'],
    ['ConditionalRequestConflict', undefined, 'STORE_CONFLICT'],
    ['ValidationException', undefined, 'STORE_REJECTED'],
    ['EntityTooLarge', undefined, 'STORE_REJECTED'],
  ])('an SDK error named %s (HTTP %s) maps to %s by its name', (name, status, code) => {
    const cause = sdkError(name, status);
    const error = toArchiveError(cause, S3_PUT);
    expect(error.code).toBe(code);
    expect(error.cause).toBe(cause);
    expect(error).toMatchObject({ awsErrorName: name, httpStatusCode: status ?? null });
  });

  it.each<[number, ArchiveErrorCode]>([
    [401, 'STORE_ACCESS_DENIED'],
    [403, 'STORE_ACCESS_DENIED'],
    [404, 'NOT_FOUND'],
    [409, 'STORE_CONFLICT'],
    [429, 'STORE_UNAVAILABLE'],
    [500, 'STORE_UNAVAILABLE'],
    [503, 'STORE_UNAVAILABLE'],
    [400, 'STORE_REJECTED'],
    [413, 'STORE_REJECTED'],
    [302, 'STORE_FAILED'],
  ])('an SDK error of an unknown name with HTTP %i maps to %s by its status', (status, code) => {
    expect(toArchiveError(sdkError('SomethingNew', status), S3_PUT).code).toBe(code);
  });

  it('an unknown SDK error without a status is STORE_FAILED, and its message says what the SDK said', () => {
    const error = toArchiveError(sdkError('SomethingNew', undefined, 'it broke'), S3_PUT);
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toBe('s3 PutObject failed: SomethingNew: it broke (STORE_FAILED)');
  });

  it('a network errno maps to STORE_UNAVAILABLE and names the errno', () => {
    const error = toArchiveError(errnoError('ECONNRESET'), S3_PUT);
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error).toMatchObject({ awsErrorName: 'ECONNRESET', httpStatusCode: null });
    expect(error.message).toBe(
      's3 PutObject failed: ECONNRESET: connect ECONNRESET 10.0.0.1:443 (STORE_UNAVAILABLE)',
    );
  });

  it('an errno that is not a network failure does not make the store count as unavailable', () => {
    const error = toArchiveError(errnoError('ENOENT'), S3_PUT);
    expect(error.code).toBe('STORE_FAILED');
    expect(error).toMatchObject({ awsErrorName: null });
  });

  it('a failed happy-eyeballs connect (an AggregateError of per-address errors) is unavailable', () => {
    const aggregate = new AggregateError(
      [null, errnoError('ENOENT'), { code: 42 }, errnoError('ECONNREFUSED')],
      'connect failed',
    );
    const error = toArchiveError(aggregate, S3_PUT);
    expect(error.code).toBe('STORE_UNAVAILABLE');
    expect(error).toMatchObject({ awsErrorName: 'AggregateError' });
  });

  it('an AggregateError of non-network failures only is not counted as unavailable', () => {
    const aggregate = new AggregateError([{}, errnoError('ENOENT')], 'two failures');
    const error = toArchiveError(aggregate, S3_PUT);
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toBe('s3 PutObject failed: AggregateError: two failures (STORE_FAILED)');
  });

  it('a name that is not a string is not reported as the SDK error name', () => {
    const odd = { name: 42, message: 'odd thing', $metadata: { httpStatusCode: 'x' } };
    const error = toArchiveError(odd, S3_PUT);
    expect(error).toMatchObject({ code: 'STORE_FAILED', awsErrorName: null, httpStatusCode: null });
    expect(error.message).toBe('s3 PutObject failed: error: odd thing (STORE_FAILED)');
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a string', 'socket hang up', 'socket hang up'],
  ])('a thrown %s becomes STORE_FAILED with the value as its detail', (_what, thrown, detail) => {
    const error = toArchiveError(thrown, S3_PUT);
    expect(error.code).toBe('STORE_FAILED');
    expect(error.message).toBe(`s3 PutObject failed: error: ${detail} (STORE_FAILED)`);
    expect(error.cause).toBe(thrown);
  });

  it('an error with an empty message is described by its string form instead', () => {
    const error = toArchiveError(sdkError('Weird', undefined, ''), S3_PUT);
    expect(error.message).toBe('s3 PutObject failed: Weird: Weird (STORE_FAILED)');
  });

  it('a long SDK message is cut to 300 characters in the error message', () => {
    const long = 'x'.repeat(400);
    const error = toArchiveError(sdkError('SomethingNew', undefined, long), S3_PUT);
    expect(error.message).toBe(
      `s3 PutObject failed: SomethingNew: ${'x'.repeat(300)} (STORE_FAILED)`,
    );
  });

  it('a long thrown value without a message is cut to 300 characters too', () => {
    const error = toArchiveError('y'.repeat(400), S3_PUT);
    expect(error.message).toBe(`s3 PutObject failed: error: ${'y'.repeat(300)} (STORE_FAILED)`);
  });
});
