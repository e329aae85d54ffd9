/**
 * S3SearchObjects.get on s3rver: a missing key is null; a refused GET (403, what S3 answers the
 * query function, which may not list, for a missing key) is null only where the caller said so.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { S3SearchObjects } from '../../functions/adapters/aws/s3-search-objects.js';
import { createTestBucket, s3ClientFor } from '../support/aws-clients.js';

const aws = inject('aws');
let bucket: string;

beforeAll(async () => {
  bucket = await createTestBucket(s3ClientFor(aws));
});

/**
 * A client whose every call fails the way S3 refuses a GET of a missing key to a caller without
 * s3:ListBucket. Mocked because s3rver checks no permissions, so no emulator answers 403 here.
 */
function refusedClient(): S3Client {
  const denied = Object.assign(new Error('Access Denied'), {
    name: 'AccessDenied',
    $metadata: { httpStatusCode: 403 },
  });
  return {
    send: async () => {
      throw denied;
    },
  } as unknown as S3Client;
}

describe('S3SearchObjects.get', () => {
  it('answers null for a missing key, the bytes for one that exists', async () => {
    const objects = new S3SearchObjects(s3ClientFor(aws), bucket);
    expect(await objects.get('search/manifest/none.json')).toBeNull();
    await objects.putJson('search/manifest/one.json', { a: 1 });
    expect(await objects.getJson('search/manifest/one.json')).toEqual({ a: 1 });
  });

  it('a 403 is an error, unless the caller takes it as missing', async () => {
    await expect(
      new S3SearchObjects(refusedClient(), bucket).get('search/manifest/one.json'),
    ).rejects.toMatchObject({ httpStatusCode: 403 });
    const reader = new S3SearchObjects(refusedClient(), bucket, { deniedIsMissing: true });
    expect(await reader.get('search/manifest/one.json')).toBeNull();
  });
});
