/**
 * The S3 + DynamoDB adapters against the emulators: first the shared contracts, then what only these
 * adapters do (request shapes, the table layout, SDK failures and how they map).
 *
 * Failures the emulators cannot produce are injected, each for one call: S3 through a stubbed
 * `client.send` (s3rver never checks credentials, ignores If-None-Match and checksums, cannot abort
 * uploads), DynamoDB through a middleware on the client's stack (DynamoDB Local never throttles or
 * leaves batch keys unprocessed; and the index talks through a DynamoDBDocumentClient that shares the
 * wrapped client's middleware stack but not its `send`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CancellationReason,
  DynamoDBClient,
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import {
  DynamoMessageIndex,
  MARK_DELETED_CONCURRENCY,
} from '../../functions/adapters/aws/dynamodb-message-index.js';
import {
  GSI1PK,
  GSI1SK,
  GSI2PK,
  GSI2SK,
  GSI3PK,
  GSI3SK,
  ITEM_VERSION,
  PK,
  SK,
  TTL_ATTRIBUTE,
} from '../../functions/adapters/aws/dynamodb-table.js';
import {
  DEFAULT_PART_CONCURRENCY,
  S3_MIN_PART_OCTETS,
  S3RawStore,
} from '../../functions/adapters/aws/s3-raw-store.js';
import {
  ArchiveError,
  ArchiveStoreError,
  KeyTooLargeError,
  toArchiveError,
} from '../../functions/core/archive/errors.js';
import type { RawPutInput } from '../../functions/core/archive/ports.js';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import {
  CorruptItemError,
  STORED_ITEM_VERSION,
} from '../../functions/core/archive/record-decoder.js';
import {
  createTestBucket,
  createTestTable,
  dynamoClientFor,
  listAllKeys,
  s3ClientFor,
} from '../support/aws-clients.js';
import type { AwsEmulatorInfo } from '../support/emulators.js';
import {
  archiveErrorCode,
  describeMessageIndexContract,
  describeRawStoreContract,
  makeRecord,
  makeRun,
} from './archive-contract.js';

const aws = inject('aws');

describeRawStoreContract('S3RawStore on s3rver', async () => {
  const client = s3ClientFor(aws);
  const bucket = await createTestBucket(client);
  return {
    // The smallest sizes S3 allows, so the contract's 20 MB source goes up in four parts.
    store: new S3RawStore({
      client,
      bucket,
      multipartThresholdOctets: S3_MIN_PART_OCTETS,
      partSizeOctets: S3_MIN_PART_OCTETS,
    }),
    listKeys: () => listAllKeys(client, bucket),
  };
});

describeMessageIndexContract('DynamoMessageIndex on DynamoDB Local', async () => {
  const client = dynamoClientFor(aws);
  return new DynamoMessageIndex({ client, tableName: await createTestTable(client) });
});

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function unique(label: string): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

function s3Error(name: string, httpStatusCode: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `injected ${name}`,
  });
}

function dynamoError(name: string, httpStatusCode: number): DynamoDBServiceException {
  return new DynamoDBServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message: `injected ${name}`,
  });
}

type Forward = () => Promise<unknown>;

/**
 * Routes every S3 call through `handler`, which may answer it, fail it, or forward it to s3rver.
 * Returns the commands sent, in order.
 */
function stubS3(
  client: S3Client,
  handler: (command: object, forward: Forward) => Promise<unknown>,
) {
  const original = client.send.bind(client) as (command: object) => Promise<unknown>;
  const sent: object[] = [];
  vi.spyOn(client, 'send').mockImplementation(((command: object) => {
    sent.push(command);
    return handler(command, () => original(command));
  }) as never);
  return sent;
}

/** A closed loopback port: connecting to it is refused at once. */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1' }, () => {
      const address = server.address();
      server.close(() =>
        resolve(typeof address === 'object' && address !== null ? address.port : 0),
      );
    });
  });
}

/** Clients for an endpoint nobody listens on, failing on the first refusal (no SDK retries). */
function unreachableClients(info: AwsEmulatorInfo, port: number) {
  const common = {
    endpoint: `http://127.0.0.1:${port}`,
    region: info.region,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    maxAttempts: 1,
  };
  return {
    s3: new S3Client({ ...common, forcePathStyle: true }),
    dynamo: new DynamoDBClient(common),
  };
}

describe('S3RawStore against s3rver and injected S3 failures', () => {
  let bucket: string;
  let dir: string;
  let large: { path: string; input: RawPutInput };

  beforeAll(async () => {
    bucket = await createTestBucket(s3ClientFor(aws));
    dir = mkdtempSync(join(tmpdir(), 'popvault-s3-faults-'));
    // Four parts of 5 MiB (the last shorter) with the minimum part size.
    const data = randomBytes(3 * S3_MIN_PART_OCTETS + 1234);
    const path = join(dir, 'large.eml');
    writeFileSync(path, data);
    large = {
      path,
      input: {
        mailboxId: 'large',
        sha256: sha256Hex(data),
        octets: data.length,
        source: { kind: 'file', path },
      },
    };
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function smallInput(label = 'small'): RawPutInput {
    const data = Buffer.from(`Subject: ${label} ${randomBytes(4).toString('hex')}\r\n\r\nbody\r\n`);
    return {
      mailboxId: unique('mbx'),
      sha256: sha256Hex(data),
      octets: data.length,
      source: { kind: 'buffer', data },
    };
  }

  function storeWith(client: S3Client, partConcurrency?: number): S3RawStore {
    return new S3RawStore({
      client,
      bucket,
      multipartThresholdOctets: S3_MIN_PART_OCTETS,
      partSizeOctets: S3_MIN_PART_OCTETS,
      ...(partConcurrency === undefined ? {} : { partConcurrency }),
    });
  }

  function largeInput(): RawPutInput {
    return { ...large.input, mailboxId: unique('large') };
  }

  it('maps AccessDenied to a systemic STORE_ACCESS_DENIED', async () => {
    // s3rver does not check signatures or permissions at all, so no emulator can answer 403:
    // this single failure is injected.
    const client = s3ClientFor(aws);
    const denied = s3Error('AccessDenied', 403);
    stubS3(client, async () => {
      throw denied;
    });
    const store = storeWith(client);
    const error = await store.put(smallInput()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveStoreError);
    expect(error).toMatchObject({
      code: 'STORE_ACCESS_DENIED',
      systemic: true,
      service: 's3',
      operation: 'PutObject',
      awsErrorName: 'AccessDenied',
      httpStatusCode: 403,
      cause: denied,
    });
    // has() must not read a 403 as "absent": the run has to stop, not re-upload everything.
    await expect(store.has('raw/x')).rejects.toMatchObject({ code: 'STORE_ACCESS_DENIED' });
  });

  it('maps a missing bucket to a systemic STORE_MISSING (s3rver answers NoSuchBucket)', async () => {
    const store = new S3RawStore({ client: s3ClientFor(aws), bucket: unique('no-such-bucket') });
    await expect(store.put(smallInput())).rejects.toMatchObject({
      code: 'STORE_MISSING',
      systemic: true,
      awsErrorName: 'NoSuchBucket',
    });
  });

  it('maps a refused connection to a per-message STORE_UNAVAILABLE', async () => {
    const store = storeWith(unreachableClients(aws, await closedPort()).s3);
    await expect(store.put(smallInput())).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      systemic: false,
    });
    await expect(store.has('raw/x')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    await expect(store.get('raw/x')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
  });

  it('sends one conditional, checksummed PutObject for a small message', async () => {
    const client = s3ClientFor(aws);
    const sent = stubS3(client, (_command, forward) => forward());
    const input = smallInput();
    await storeWith(client).put(input);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(PutObjectCommand);
    expect((sent[0] as PutObjectCommand).input).toMatchObject({
      Bucket: bucket,
      Key: rawObjectKey(input.mailboxId, input.sha256),
      ContentType: 'message/rfc822',
      ContentLength: input.octets,
      IfNoneMatch: '*',
      ChecksumSHA256: Buffer.from(input.sha256, 'hex').toString('base64'),
    });
  });

  it('treats 412 PreconditionFailed as already stored', async () => {
    const client = s3ClientFor(aws);
    const sent = stubS3(client, async () => {
      throw s3Error('PreconditionFailed', 412);
    });
    const input = smallInput();
    await expect(storeWith(client).put(input)).resolves.toEqual({
      key: rawObjectKey(input.mailboxId, input.sha256),
      sha256: input.sha256,
      octets: input.octets,
    });
    expect(sent).toHaveLength(1);
  });

  it('retries 409 ConditionalRequestConflict, then succeeds', async () => {
    const client = s3ClientFor(aws);
    let conflicts = 0;
    const sent = stubS3(client, async (_command, forward) => {
      if (conflicts++ < 2) throw s3Error('ConditionalRequestConflict', 409);
      return forward();
    });
    const input = smallInput();
    const store = storeWith(client);
    const ref = await store.put(input);
    expect(sent.filter((c) => c instanceof PutObjectCommand)).toHaveLength(3);
    vi.restoreAllMocks();
    expect(await store.has(ref.key)).toBe(true);
  });

  it('gives up on a conflict that persists, as a per-message STORE_CONFLICT', async () => {
    const client = s3ClientFor(aws);
    const sent = stubS3(client, async () => {
      throw s3Error('ConditionalRequestConflict', 409);
    });
    await expect(storeWith(client).put(smallInput())).rejects.toMatchObject({
      code: 'STORE_CONFLICT',
      systemic: false,
    });
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.length).toBeLessThan(10);
  });

  it('maps BadDigest (S3 found the body differs from its checksum) to CHECKSUM_MISMATCH', async () => {
    const client = s3ClientFor(aws);
    stubS3(client, async () => {
      throw s3Error('BadDigest', 400);
    });
    await expect(storeWith(client).put(smallInput())).rejects.toMatchObject({
      code: 'CHECKSUM_MISMATCH',
      systemic: false,
    });
  });

  it('refuses a PutObject whose echoed checksum differs from the one sent', async () => {
    const client = s3ClientFor(aws);
    stubS3(client, async () => ({ ChecksumSHA256: Buffer.alloc(32).toString('base64') }));
    expect(await archiveErrorCode(storeWith(client).put(smallInput()))).toBe('CHECKSUM_MISMATCH');
  });

  it('uploads a large file in checksummed parts and completes conditionally with the size', async () => {
    const client = s3ClientFor(aws);
    // Each part's bytes are hashed as it is sent: the store reuses its part buffers afterwards.
    const partDigests = new Map<number, { sha256: string; octets: number }>();
    const partMemory = new Set<ArrayBufferLike>();
    const sent = stubS3(client, (command, forward) => {
      if (command instanceof UploadPartCommand) {
        const body = command.input.Body as Buffer;
        partMemory.add(body.buffer);
        partDigests.set(command.input.PartNumber ?? 0, {
          sha256: createHash('sha256').update(body).digest('base64'),
          octets: body.length,
        });
      }
      return forward();
    });
    const input = largeInput();
    const ref = await storeWith(client).put(input);
    const create = sent.find((c) => c instanceof CreateMultipartUploadCommand);
    const parts = sent.filter((c) => c instanceof UploadPartCommand) as UploadPartCommand[];
    const complete = sent.find((c) => c instanceof CompleteMultipartUploadCommand) as
      | CompleteMultipartUploadCommand
      | undefined;
    expect((create as CreateMultipartUploadCommand).input).toMatchObject({
      Key: ref.key,
      ContentType: 'message/rfc822',
      ChecksumAlgorithm: 'SHA256',
    });
    expect(parts.map((p) => p.input.PartNumber).sort()).toEqual([1, 2, 3, 4]);
    for (const part of parts) {
      const sentPart = partDigests.get(part.input.PartNumber ?? 0);
      expect(part.input.ChecksumSHA256).toBe(sentPart?.sha256);
      expect(sentPart?.octets).toBe(part.input.PartNumber === 4 ? 1234 : S3_MIN_PART_OCTETS);
    }
    // Memory bound: the part buffers are reused, so 4 parts need no more than one per part in flight
    // plus the one being read.
    expect(partMemory.size).toBeLessThanOrEqual(DEFAULT_PART_CONCURRENCY + 1);
    expect(partMemory.size).toBeLessThan(parts.length);
    expect(complete?.input).toMatchObject({ IfNoneMatch: '*', MpuObjectSize: input.octets });
    expect(complete?.input.MultipartUpload?.Parts?.map((p) => p.PartNumber)).toEqual([1, 2, 3, 4]);
    expect(
      sent.some((c) => c instanceof PutObjectCommand || c instanceof AbortMultipartUploadCommand),
    ).toBe(false);
  });

  it('keeps at most partConcurrency parts in flight, and does overlap them', async () => {
    const client = s3ClientFor(aws);
    let inFlight = 0;
    let maxInFlight = 0;
    let started = 0;
    const arrivals: Array<() => void> = [];
    const totalParts = 4;
    stubS3(client, async (command, forward) => {
      if (!(command instanceof UploadPartCommand)) return forward();
      inFlight += 1;
      started += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      // Each part waits until the next one has been started (the last needs no partner): this
      // only finishes if the store really sends two at once, and shows the bound deterministically.
      for (const release of arrivals.splice(0)) release();
      if (started < totalParts) await new Promise<void>((resolve) => arrivals.push(resolve));
      try {
        return await forward();
      } finally {
        inFlight -= 1;
      }
    });
    await storeWith(client, 2).put(largeInput());
    expect(maxInFlight).toBe(2);
  });

  it('aborts the upload when a part fails, and reports the part’s failure', async () => {
    const client = s3ClientFor(aws);
    const sent = stubS3(client, async (command, forward) => {
      if (command instanceof UploadPartCommand && command.input.PartNumber === 3) {
        throw s3Error('InternalError', 500);
      }
      return forward();
    });
    const input = largeInput();
    await expect(storeWith(client).put(input)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      operation: 'UploadPart',
    });
    const uploadId = (sent.find((c) => c instanceof UploadPartCommand) as UploadPartCommand).input
      .UploadId;
    const aborts = sent.filter(
      (c) => c instanceof AbortMultipartUploadCommand,
    ) as AbortMultipartUploadCommand[];
    expect(aborts.map((a) => a.input.UploadId)).toEqual([uploadId]);
    expect(sent.some((c) => c instanceof CompleteMultipartUploadCommand)).toBe(false);
    // The abort itself failed on s3rver (405, not implemented); the part's failure still wins.
    vi.restoreAllMocks();
    expect(await storeWith(client).has(rawObjectKey(input.mailboxId, input.sha256))).toBe(false);
  });

  it('aborts the upload when the file does not match its digest, before completing it', async () => {
    const client = s3ClientFor(aws);
    const sent = stubS3(client, (_command, forward) => forward());
    const input = { ...largeInput(), sha256: sha256Hex(Buffer.from('something else')) };
    expect(await archiveErrorCode(storeWith(client).put(input))).toBe('CHECKSUM_MISMATCH');
    expect(sent.filter((c) => c instanceof AbortMultipartUploadCommand)).toHaveLength(1);
    expect(sent.some((c) => c instanceof CompleteMultipartUploadCommand)).toBe(false);
  });

  it('aborts the upload when a part’s echoed checksum is wrong', async () => {
    const client = s3ClientFor(aws);
    const sent = stubS3(client, async (command, forward) => {
      if (command instanceof UploadPartCommand && command.input.PartNumber === 2) {
        return { ETag: '"x"', ChecksumSHA256: Buffer.alloc(32).toString('base64') };
      }
      return forward();
    });
    expect(await archiveErrorCode(storeWith(client).put(largeInput()))).toBe('CHECKSUM_MISMATCH');
    expect(sent.filter((c) => c instanceof AbortMultipartUploadCommand)).toHaveLength(1);
  });

  it('refuses a completed upload whose composite checksum is not the one the parts make', async () => {
    const client = s3ClientFor(aws);
    stubS3(client, async (command, forward) => {
      if (command instanceof CompleteMultipartUploadCommand) {
        await forward();
        return { ChecksumSHA256: `${Buffer.alloc(32).toString('base64')}-4` };
      }
      return forward();
    });
    expect(await archiveErrorCode(storeWith(client).put(largeInput()))).toBe('CHECKSUM_MISMATCH');
  });

  it('accepts the composite checksum S3 computes from the parts, with or without "-<parts>"', async () => {
    for (const suffix of ['-4', '']) {
      const client = s3ClientFor(aws);
      let composite = '';
      stubS3(client, async (command, forward) => {
        if (command instanceof CompleteMultipartUploadCommand) {
          await forward();
          // What S3 computes: SHA-256 over the parts' binary digests.
          const digests = (command.input.MultipartUpload?.Parts ?? []).map((p) =>
            Buffer.from(p.ChecksumSHA256 ?? '', 'base64'),
          );
          composite = `${createHash('sha256').update(Buffer.concat(digests)).digest('base64')}${suffix}`;
          return { ChecksumSHA256: composite };
        }
        return forward();
      });
      await storeWith(client).put(largeInput());
      expect(composite).not.toBe('');
    }
  });

  it('refuses a composite checksum that names another part count', async () => {
    const client = s3ClientFor(aws);
    stubS3(client, async (command, forward) => {
      if (command instanceof CompleteMultipartUploadCommand) {
        await forward();
        const digests = (command.input.MultipartUpload?.Parts ?? []).map((p) =>
          Buffer.from(p.ChecksumSHA256 ?? '', 'base64'),
        );
        return {
          ChecksumSHA256: `${createHash('sha256').update(Buffer.concat(digests)).digest('base64')}-3`,
        };
      }
      return forward();
    });
    expect(await archiveErrorCode(storeWith(client).put(largeInput()))).toBe('CHECKSUM_MISMATCH');
  });

  it('treats 412 on CompleteMultipartUpload as already stored, and aborts the spare upload', async () => {
    const client = s3ClientFor(aws);
    const sent = stubS3(client, async (command, forward) => {
      if (command instanceof CompleteMultipartUploadCommand)
        throw s3Error('PreconditionFailed', 412);
      return forward();
    });
    const input = largeInput();
    await expect(storeWith(client).put(input)).resolves.toMatchObject({ sha256: input.sha256 });
    expect(sent.filter((c) => c instanceof AbortMultipartUploadCommand)).toHaveLength(1);
  });

  // Mocked: s3rver never loses a Complete's answer, and answers HEAD for anyone.
  it('a Complete whose answer was lost (NoSuchUpload on the retry) is settled by one more conditional upload, never a HEAD the puller may not send', async () => {
    const client = s3ClientFor(aws);
    let completes = 0;
    const sent = stubS3(client, async (command, forward) => {
      if (command instanceof HeadObjectCommand) throw s3Error('Forbidden', 403);
      if (command instanceof CompleteMultipartUploadCommand) {
        completes += 1;
        // The first Complete went through but its answer was lost; the SDK's retry found no upload.
        if (completes === 1) {
          await forward();
          throw s3Error('NoSuchUpload', 404);
        }
        // The object is there now, so S3 refuses the second conditional Complete.
        throw s3Error('PreconditionFailed', 412);
      }
      return forward();
    });
    const input = largeInput();
    await expect(storeWith(client).put(input)).resolves.toMatchObject({ sha256: input.sha256 });
    expect(sent.filter((c) => c instanceof HeadObjectCommand)).toEqual([]);
    expect(sent.filter((c) => c instanceof CreateMultipartUploadCommand)).toHaveLength(2);
    // Only the spare second upload is aborted; the first one completed.
    expect(sent.filter((c) => c instanceof AbortMultipartUploadCommand)).toHaveLength(1);
    const stored = await storeWith(s3ClientFor(aws)).get(
      rawObjectKey(input.mailboxId, input.sha256),
    );
    expect(sha256Hex(Buffer.concat(await stored.toArray()))).toBe(input.sha256);
  });

  it('an upload that vanished without completing is stored by the second upload', async () => {
    const client = s3ClientFor(aws);
    let completes = 0;
    const sent = stubS3(client, async (command, forward) => {
      if (command instanceof CompleteMultipartUploadCommand && ++completes === 1)
        throw s3Error('NoSuchUpload', 404);
      return forward();
    });
    const input = largeInput();
    await expect(storeWith(client).put(input)).resolves.toMatchObject({ sha256: input.sha256 });
    expect(sent.filter((c) => c instanceof HeadObjectCommand)).toEqual([]);
    expect(await storeWith(s3ClientFor(aws)).has(rawObjectKey(input.mailboxId, input.sha256))).toBe(
      true,
    );
  });

  it('gives up after a second NoSuchUpload, per message (the mail stays on the server)', async () => {
    const client = s3ClientFor(aws);
    const sent = stubS3(client, async (command, forward) => {
      if (command instanceof CompleteMultipartUploadCommand) throw s3Error('NoSuchUpload', 404);
      return forward();
    });
    await expect(storeWith(client).put(largeInput())).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      awsErrorName: 'NoSuchUpload',
      systemic: false,
    });
    expect(sent.filter((c) => c instanceof CreateMultipartUploadCommand)).toHaveLength(2);
    expect(sent.filter((c) => c instanceof HeadObjectCommand)).toEqual([]);
  });

  it('refuses a spool file that shrinks during the upload, and aborts it', async () => {
    const client = s3ClientFor(aws);
    const path = join(dir, 'shrinking.eml');
    copyFileSync(large.path, path);
    const sent = stubS3(client, async (command, forward) => {
      // The size was taken before the upload began; the file loses its tail right after.
      if (command instanceof CreateMultipartUploadCommand)
        truncateSync(path, S3_MIN_PART_OCTETS + 10);
      return forward();
    });
    const input = { ...largeInput(), source: { kind: 'file' as const, path } };
    expect(await archiveErrorCode(storeWith(client).put(input))).toBe('CHECKSUM_MISMATCH');
    expect(sent.filter((c) => c instanceof AbortMultipartUploadCommand)).toHaveLength(1);
    expect(sent.some((c) => c instanceof CompleteMultipartUploadCommand)).toBe(false);
  });

  it('reports answers S3 never gives (no UploadId, no ETag, no body) as STORE_FAILED', async () => {
    const noUploadId = s3ClientFor(aws);
    stubS3(noUploadId, async (command, forward) =>
      command instanceof CreateMultipartUploadCommand ? {} : forward(),
    );
    expect(await archiveErrorCode(storeWith(noUploadId).put(largeInput()))).toBe('STORE_FAILED');

    const noETag = s3ClientFor(aws);
    const sent = stubS3(noETag, async (command, forward) =>
      command instanceof UploadPartCommand ? {} : forward(),
    );
    expect(await archiveErrorCode(storeWith(noETag).put(largeInput()))).toBe('STORE_FAILED');
    expect(sent.filter((c) => c instanceof AbortMultipartUploadCommand)).toHaveLength(1);

    const noBody = s3ClientFor(aws);
    stubS3(noBody, async () => ({}));
    expect(await archiveErrorCode(storeWith(noBody).get('raw/x'))).toBe('STORE_FAILED');
  });

  it('reports an unreadable spool file for the multipart path too', async () => {
    const input = {
      ...largeInput(),
      source: { kind: 'file' as const, path: join(dir, 'gone.eml') },
    };
    expect(await archiveErrorCode(storeWith(s3ClientFor(aws)).put(input))).toBe(
      'SOURCE_UNREADABLE',
    );
  });

  it('refuses part sizes and thresholds S3 cannot take', () => {
    const client = s3ClientFor(aws);
    for (const options of [
      { partSizeOctets: S3_MIN_PART_OCTETS - 1 },
      { partSizeOctets: S3_MIN_PART_OCTETS + 0.5 },
      { multipartThresholdOctets: -1 },
      { partConcurrency: 0 },
    ]) {
      expect(() => new S3RawStore({ client, bucket, ...options })).toThrow(ArchiveError);
    }
  });
});

/** Runs every DynamoDB command of `client` through `handler` (native inputs and outputs). */
function injectDynamo(
  client: DynamoDBClient,
  handler: (
    commandName: string,
    input: Record<string, unknown>,
    next: (input?: Record<string, unknown>) => Promise<unknown>,
  ) => Promise<unknown>,
): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const forward = async (input?: Record<string, unknown>) =>
        (await next(input === undefined ? args : { ...args, input })).output;
      const output = await handler(
        context.commandName ?? '',
        args.input as Record<string, unknown>,
        forward,
      );
      return { output: output as never, response: {} };
    },
    { step: 'initialize', name: 'popvaultFaultInjection' },
  );
}

describe('DynamoMessageIndex on DynamoDB Local: layout and injected failures', () => {
  let tableName: string;
  let raw: DynamoDBDocumentClient;

  beforeAll(async () => {
    const client = dynamoClientFor(aws);
    tableName = await createTestTable(client);
    raw = DynamoDBDocumentClient.from(client);
  });

  function indexWith(
    client = dynamoClientFor(aws),
    batchRetry?: { attempts: number; baseDelayMs: number; maxDelayMs: number },
  ) {
    return new DynamoMessageIndex({ client, tableName, ...(batchRetry ? { batchRetry } : {}) });
  }

  async function rawItem(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    return (await raw.send(new GetCommand({ TableName: tableName, Key: { [PK]: pk, [SK]: sk } })))
      .Item;
  }

  it('lays a message out as designed (keys for the table and the three indexes)', async () => {
    const mailboxId = unique('layout');
    const record = makeRecord({
      mailboxId,
      messageKey: 'uidl/1',
      messageId: '<Mixed.Case@Example.test>',
      from: [{ address: 'Alice@Example.TEST', name: 'Alice' }],
      date: '2024-03-05T10:00:00+01:00',
    });
    await indexWith().putMessage(record);
    expect(await rawItem(`MBX#${mailboxId}`, 'MSG#uidl/1')).toMatchObject({
      [GSI1PK]: `MBX#${mailboxId}`,
      [GSI1SK]: '2024-03-05T09:00:00.000Z#uidl/1',
      [GSI2PK]: 'MID#<Mixed.Case@Example.test>',
      [GSI2SK]: `${mailboxId}#uidl/1`,
      [GSI3PK]: `FROM#${Buffer.from(mailboxId).toString('base64url')}#alice@example.test`,
      [GSI3SK]: '2024-03-05T09:00:00.000Z#uidl/1',
      entity: 'message',
    });
  });

  it('sorts by archive time when the date is missing or unsortable, and omits empty GSI keys', async () => {
    const mailboxId = unique('layout');
    const index = indexWith();
    for (const [messageKey, date] of [
      ['none', null],
      ['garbage', 'not a date'],
      ['far-future', '+099999-01-01T00:00:00.000Z'],
    ] as const) {
      await index.putMessage(
        makeRecord({
          mailboxId,
          messageKey,
          date,
          messageId: null,
          from: [],
          archivedAt: '2024-06-01T12:00:00Z',
        }),
      );
      const item = await rawItem(`MBX#${mailboxId}`, `MSG#${messageKey}`);
      expect(item?.[GSI1SK]).toBe(`2024-06-01T12:00:00.000Z#${messageKey}`);
      for (const absent of [GSI2PK, GSI2SK, GSI3PK, GSI3SK])
        expect(item).not.toHaveProperty(absent);
    }
  });

  it('writes the lease with owner, expiresAt (ms) and ttl (s), and runs under RUN#<startedAt>#<runId>', async () => {
    const mailboxId = unique('layout');
    const index = indexWith();
    await index.acquireLease({ mailboxId, owner: 'run-1', now: 1_700_000_000_123, ttlMs: 60_000 });
    expect(await rawItem(`MBX#${mailboxId}`, 'LEASE')).toMatchObject({
      owner: 'run-1',
      expiresAt: 1_700_000_060_123,
      [TTL_ATTRIBUTE]: 1_700_000_061,
      entity: 'lease',
    });
    await index.putRun({
      ...runFor(mailboxId),
      runId: 'r1',
      startedAt: '2024-05-01T12:00:00+02:00',
    });
    expect(await rawItem(`MBX#${mailboxId}`, 'RUN#2024-05-01T10:00:00.000Z#r1')).toMatchObject({
      entity: 'run',
      startedAt: '2024-05-01T12:00:00+02:00',
    });
  });

  it('refuses keys over DynamoDB’s limits with KEY_TOO_LARGE, per message; lookups find nothing', async () => {
    const mailboxId = unique('big');
    const index = indexWith();
    const cases = [
      [makeRecord({ mailboxId, messageKey: 'k'.repeat(1100) }), SK],
      [makeRecord({ mailboxId: `${mailboxId}${'m'.repeat(2100)}` }), PK],
      [makeRecord({ mailboxId, messageId: `<${'i'.repeat(2100)}>` }), GSI2PK],
      [makeRecord({ mailboxId, from: [{ address: `${'a'.repeat(2100)}@x`, name: '' }] }), GSI3PK],
      // Each part fits its own key, but together they overflow the Message-ID index's sort key.
      [
        makeRecord({ mailboxId: `${mailboxId}${'m'.repeat(600)}`, messageKey: 'k'.repeat(600) }),
        GSI2SK,
      ],
    ] as const;
    for (const [record, attribute] of cases) {
      const error = await index.putMessage(record).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyTooLargeError);
      expect(error).toMatchObject({ code: 'KEY_TOO_LARGE', systemic: false, attribute });
    }
    const huge = 'k'.repeat(1100);
    expect(await index.getMessage(mailboxId, huge)).toBeNull();
    expect((await index.getMessages(mailboxId, [huge])).size).toBe(0);
    await expect(
      index.markDeleted(mailboxId, [huge], '2024-01-01T00:00:00Z'),
    ).resolves.toBeUndefined();
    expect(await index.findByMessageId(`<${'i'.repeat(2100)}>`)).toEqual([]);
    expect(await index.listMessages('m'.repeat(2100), { limit: 5 })).toEqual({
      items: [],
      cursor: null,
    });
    expect(
      await archiveErrorCode(index.putRun({ ...runFor(mailboxId), runId: 'r'.repeat(1100) })),
    ).toBe('KEY_TOO_LARGE');
  });

  it('rejects forged cursors that decode but do not belong to the query', async () => {
    const mailboxId = unique('cursor');
    const other = unique('cursor');
    const index = indexWith();
    for (const id of [mailboxId, other]) {
      for (let i = 0; i < 4; i++) {
        await index.putMessage(
          makeRecord({ mailboxId: id, date: `2024-01-0${i + 1}T00:00:00.000Z` }),
        );
      }
    }
    const { cursor } = await index.listMessages(mailboxId, { limit: 1 });
    const otherCursor = (await index.listMessages(other, { limit: 1 })).cursor;
    if (cursor === null || otherCursor === null) throw new Error('expected cursors');
    const decode = (c: string) => JSON.parse(Buffer.from(c, 'base64url').toString('utf8'));
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const payload = decode(cursor);
    const foreign = decode(otherCursor);
    const forged = [
      { ...payload, v: 2 },
      { ...payload, listing: 'GSI3' },
      { ...payload, mailboxId: other },
      // Another mailbox's start key under this mailbox's name.
      { ...payload, position: foreign.position },
      { ...payload, position: { ...payload.position, extra: 'x' } },
      { ...payload, position: { ...payload.position, [GSI1SK]: 5 } },
      { ...payload, position: null },
      [],
    ];
    for (const value of forged) {
      expect(
        await archiveErrorCode(index.listMessages(mailboxId, { limit: 1, cursor: encode(value) })),
      ).toBe('INVALID_CURSOR');
    }
    // A real cursor (positioned at the newest message, 4 January) reused with a range that ends
    // before its position.
    const until = '2024-01-02T00:00:00.000Z';
    expect(await archiveErrorCode(index.listMessages(mailboxId, { limit: 1, until, cursor }))).toBe(
      'INVALID_CURSOR',
    );
    // And the untouched cursor still works.
    expect((await index.listMessages(mailboxId, { limit: 1, cursor })).items).toHaveLength(1);
  });

  it('maps a missing table to a systemic STORE_MISSING (DynamoDB Local answers ResourceNotFound)', async () => {
    const index = new DynamoMessageIndex({
      client: dynamoClientFor(aws),
      tableName: unique('no-such-table'),
    });
    await expect(index.putMessage(makeRecord({ mailboxId: 'm' }))).rejects.toMatchObject({
      code: 'STORE_MISSING',
      systemic: true,
      service: 'dynamodb',
      awsErrorName: 'ResourceNotFoundException',
    });
    await expect(index.getMessages('m', ['a'])).rejects.toMatchObject({ code: 'STORE_MISSING' });
  });

  it('maps a refused connection to a per-message STORE_UNAVAILABLE', async () => {
    const { dynamo } = unreachableClients(aws, await closedPort());
    await expect(indexWith(dynamo).getMessage('m', 'k')).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      systemic: false,
    });
  });

  it('maps throttling to STORE_UNAVAILABLE and AccessDeniedException to STORE_ACCESS_DENIED', async () => {
    // DynamoDB Local accepts any credentials and never throttles: both are injected.
    const client = dynamoClientFor(aws);
    let failure: Error = new ProvisionedThroughputExceededException({
      $metadata: { httpStatusCode: 400 },
      message: 'injected',
    });
    injectDynamo(client, async () => {
      throw failure;
    });
    const index = indexWith(client);
    await expect(index.putMessage(makeRecord({ mailboxId: 'm' }))).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      systemic: false,
      awsErrorName: 'ProvisionedThroughputExceededException',
    });
    failure = dynamoError('AccessDeniedException', 400);
    for (const call of [
      () => index.putMessage(makeRecord({ mailboxId: 'm' })),
      () => index.getMessages('m', ['a']),
      () => index.listMessages('m', { limit: 1 }),
      () => index.acquireLease({ mailboxId: 'm', owner: 'o', now: 1, ttlMs: 1 }),
      () => index.releaseLease('m', 'o'),
      () => index.markDeleted('m', ['a'], '2024-01-01T00:00:00Z'),
      () => index.findByMessageId('<x>'),
      () => index.listBySender('m', 'a@b', { limit: 1 }),
      () => index.putRun(runFor('m')),
      () => index.listRuns('m', 1),
      () => index.getMessage('m', 'k'),
      () => index.listMailboxes(),
      () => index.getMailbox('m'),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'STORE_ACCESS_DENIED', systemic: true });
    }
  });

  it('retries unprocessed batch keys with back-off until all are read', async () => {
    const mailboxId = unique('unprocessed');
    const records = Array.from({ length: 30 }, (_, i) =>
      makeRecord({ mailboxId, messageKey: `k-${i}` }),
    );
    const plain = indexWith();
    for (const record of records) await plain.putMessage(record);

    const client = dynamoClientFor(aws);
    let calls = 0;
    injectDynamo(client, async (name, input, next) => {
      if (name !== 'BatchGetItemCommand') return next();
      calls += 1;
      const request = (input.RequestItems as Record<string, { Keys: unknown[] }>)[tableName];
      const keys = request?.Keys ?? [];
      // First answer: nothing processed; second: half; then everything (what throttling looks like).
      const take = calls === 1 ? 0 : calls === 2 ? Math.ceil(keys.length / 2) : keys.length;
      const processed =
        take === 0
          ? { Responses: { [tableName]: [] } }
          : ((await next({
              ...input,
              RequestItems: { [tableName]: { ...request, Keys: keys.slice(0, take) } },
            })) as { Responses?: Record<string, unknown[]> });
      const rest = keys.slice(take);
      return {
        ...processed,
        UnprocessedKeys: rest.length === 0 ? {} : { [tableName]: { ...request, Keys: rest } },
      };
    });
    const found = await indexWith(client, {
      attempts: 5,
      baseDelayMs: 1,
      maxDelayMs: 2,
    }).getMessages(
      mailboxId,
      records.map((r) => r.messageKey),
    );
    expect(calls).toBe(3);
    expect(found.size).toBe(30);
  });

  it('gives up on keys that stay unprocessed, as a per-message STORE_UNAVAILABLE', async () => {
    const client = dynamoClientFor(aws);
    let calls = 0;
    injectDynamo(client, async (name, input, next) => {
      if (name !== 'BatchGetItemCommand') return next();
      calls += 1;
      return { Responses: {}, UnprocessedKeys: input.RequestItems };
    });
    const index = indexWith(client, { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 });
    await expect(index.getMessages('m', ['a', 'b'])).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      systemic: false,
    });
    expect(calls).toBe(3);
  });

  it('reports a record that was refused as existing but is then gone as STORE_CONFLICT', async () => {
    const record = makeRecord({ mailboxId: unique('vanish') });
    await indexWith().putMessage(record);
    const client = dynamoClientFor(aws);
    injectDynamo(client, async (name, _input, next) => {
      if (name === 'GetItemCommand') return {};
      try {
        return await next();
      } catch (error) {
        throw withoutReturnedItems(error);
      }
    });
    await expect(indexWith(client).putMessage(record)).rejects.toMatchObject({
      code: 'STORE_CONFLICT',
      systemic: false,
    });
  });

  it('reads the existing record with GetItem when the refusal carries none', async () => {
    const record = makeRecord({ mailboxId: unique('old') });
    await indexWith().putMessage(record);
    const client = dynamoClientFor(aws);
    const names: string[] = [];
    injectDynamo(client, async (name, _input, next) => {
      names.push(name);
      try {
        return await next();
      } catch (error) {
        // As if the table did not support ReturnValuesOnConditionCheckFailure.
        throw withoutReturnedItems(error);
      }
    });
    expect(await indexWith(client).putMessage({ ...record, subject: 'other' })).toStrictEqual({
      created: false,
      existing: record,
    });
    expect(names).toEqual(['TransactWriteItemsCommand', 'GetItemCommand']);
    expect(await indexWith().getMailbox(record.mailboxId)).toMatchObject({ messages: 1 });
  });

  it('puts a message and counts it in one transaction, retrying one cancelled by a conflict', async () => {
    const record = makeRecord({ mailboxId: unique('conflict') });
    const client = dynamoClientFor(aws);
    let conflicts = 2;
    const names: string[] = [];
    injectDynamo(client, async (name, _input, next) => {
      names.push(name);
      if (name === 'TransactWriteItemsCommand' && conflicts-- > 0) {
        throw cancelled([{ Code: 'None' }, { Code: 'TransactionConflict' }]);
      }
      return next();
    });
    const index = new DynamoMessageIndex({ client, tableName, transactRetry: FAST_RETRY });
    expect(await index.putMessage(record)).toEqual({ created: true });
    expect(names).toEqual(Array(3).fill('TransactWriteItemsCommand'));
    expect(await indexWith().getMailbox(record.mailboxId)).toMatchObject({
      messages: 1,
      octets: record.octets,
    });
  });

  it('gives up on a conflict that persists (STORE_UNAVAILABLE), and retries no other cancellation', async () => {
    const record = makeRecord({ mailboxId: unique('conflict') });
    const client = dynamoClientFor(aws);
    let reasons: CancellationReason[] = [{ Code: 'None' }, { Code: 'TransactionConflict' }];
    let calls = 0;
    injectDynamo(client, async (name, _input, next) => {
      if (name !== 'TransactWriteItemsCommand') return next();
      calls += 1;
      throw cancelled(reasons);
    });
    const index = new DynamoMessageIndex({ client, tableName, transactRetry: FAST_RETRY });
    await expect(index.putMessage(record)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      systemic: false,
      operation: 'TransactWriteItems',
      awsErrorName: 'TransactionCanceledException',
    });
    expect(calls).toBe(FAST_RETRY.attempts);
    for (const [code, expected] of [
      ['ValidationError', 'STORE_REJECTED'],
      ['ThrottlingError', 'STORE_UNAVAILABLE'],
    ] as const) {
      calls = 0;
      reasons = [{ Code: 'None' }, { Code: code }];
      expect(await archiveErrorCode(index.putMessage(record))).toBe(expected);
      expect(calls).toBe(1);
    }
    expect(await indexWith().getMessage(record.mailboxId, record.messageKey)).toBeNull();
    expect(await indexWith().getMailbox(record.mailboxId)).toBeNull();
  });

  it('keeps mailbox summaries in one partition (MAILBOXES / MBX#<id>), and filter attributes on messages', async () => {
    const mailboxId = unique('summary-layout');
    const index = indexWith();
    const record = makeRecord({ mailboxId, messageKey: 'k1', subject: 'Mixed Case ÜNÏ' });
    await index.putMessage(record);
    await index.putMessage(makeRecord({ mailboxId, messageKey: 'k2', subject: null }));
    expect(await rawItem(`MBX#${mailboxId}`, 'MSG#k1')).toMatchObject({
      subjectLower: 'mixed case ünï',
      attachmentCount: 2,
    });
    expect(await rawItem(`MBX#${mailboxId}`, 'MSG#k2')).not.toHaveProperty('subjectLower');
    await index.putRun({
      ...runFor(mailboxId),
      endedAt: '2024-05-01T12:01:00+02:00',
    });
    expect(await rawItem('MAILBOXES', `MBX#${mailboxId}`)).toMatchObject({
      entity: 'mailbox',
      mailboxId,
      messages: 2,
      lastRun: { runId: 'r', outcome: 'success', endedAt: '2024-05-01T12:01:00+02:00' },
      lastRunEndedAt: '2024-05-01T10:01:00.000Z',
      lastSuccessAt: '2024-05-01T12:01:00+02:00',
    });
    // A mailbox id that fits the partition key but not the summary's sort key.
    const long = makeRecord({ mailboxId: `${mailboxId}${'m'.repeat(1100)}`, messageId: null });
    await expect(index.putMessage(long)).rejects.toMatchObject({
      code: 'KEY_TOO_LARGE',
      attribute: SK,
    });
    expect(await index.getMessage(long.mailboxId, long.messageKey)).toBeNull();
    expect(await index.getMailbox(long.mailboxId)).toBeNull();
  });

  it('reads at most pagesPerCall Query pages per filtered listing call, then hands back a cursor', async () => {
    const mailboxId = unique('budget');
    const plain = indexWith();
    // Ten messages an hour apart; b-0 to b-3 and b-5 have attachments. Read three at a time and two
    // reads a call, the first call finds only b-5 (a short page), and the second finds three and
    // must stop in the middle of a read, after b-2.
    const withAttachments = new Set([0, 1, 2, 3, 5]);
    const records = Array.from({ length: 10 }, (_, i) =>
      makeRecord({
        mailboxId,
        messageKey: `b-${i}`,
        date: new Date(Date.UTC(2024, 0, 1, i)).toISOString(),
        ...(withAttachments.has(i) ? {} : { attachments: [] }),
      }),
    );
    for (const record of records) await plain.putMessage(record);
    const client = dynamoClientFor(aws);
    let queries = 0;
    injectDynamo(client, async (name, _input, next) => {
      if (name === 'QueryCommand') queries += 1;
      return next();
    });
    const index = new DynamoMessageIndex({
      client,
      tableName,
      listBudget: { pagesPerCall: 2, filteredPageItems: 3 },
    });
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      queries = 0;
      const page = await index.listMessages(mailboxId, { limit: 2, hasAttachments: true, cursor });
      expect(queries).toBeLessThanOrEqual(2);
      pages.push(page.items.map((r) => r.messageKey));
      cursor = page.cursor;
    } while (cursor !== null && pages.length < 10);
    expect(pages).toEqual([['b-5'], ['b-3', 'b-2'], ['b-1', 'b-0']]);
  });

  it('marks deleted with at most 16 updates in flight, and reports a failure other than a missing key', async () => {
    const mailboxId = unique('bounded');
    const records = Array.from({ length: 40 }, (_, i) =>
      makeRecord({ mailboxId, messageKey: `k-${i}` }),
    );
    const plain = indexWith();
    for (const record of records) await plain.putMessage(record);

    const client = dynamoClientFor(aws);
    let inFlight = 0;
    let maxInFlight = 0;
    let started = 0;
    let waiting: Array<() => void> = [];
    let failOn: number | null = null;
    let total = records.length + 2;
    injectDynamo(client, async (name, _input, next) => {
      if (name !== 'UpdateItemCommand') return next();
      started += 1;
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const mine = started;
      // Hold updates until the bound is reached (or all have started): the maximum is then exact.
      if (inFlight < MARK_DELETED_CONCURRENCY && started < total) {
        await new Promise<void>((resolve) => waiting.push(resolve));
      } else {
        for (const release of waiting) release();
        waiting = [];
      }
      try {
        if (mine === failOn) throw dynamoError('InternalServerError', 500);
        return await next();
      } finally {
        inFlight -= 1;
      }
    });
    const index = indexWith(client);
    await index.markDeleted(
      mailboxId,
      [...records.map((r) => r.messageKey), 'gone-1', 'gone-2'],
      '2024-01-02T00:00:00Z',
    );
    expect(maxInFlight).toBe(MARK_DELETED_CONCURRENCY);
    expect((await plain.getMessage(mailboxId, 'k-39'))?.deletedFromServerAt).toBe(
      '2024-01-02T00:00:00Z',
    );

    started = 0;
    total = 5;
    failOn = 3;
    await expect(
      index.markDeleted(
        mailboxId,
        records.slice(0, 5).map((r) => r.messageKey),
        '2024-01-03T00:00:00Z',
      ),
    ).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', operation: 'UpdateItem' });
  });

  it('refuses lease requests it cannot store', async () => {
    const index = indexWith();
    for (const ttlMs of [0, -5, 1.5]) {
      expect(
        await archiveErrorCode(index.acquireLease({ mailboxId: 'm', owner: 'o', now: 1, ttlMs })),
      ).toBe('INVALID_ARGUMENT');
    }
    expect(await archiveErrorCode(index.markDeleted('m', ['a'], 'not a date'))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await archiveErrorCode(index.putRun({ ...runFor('m'), startedAt: 'later' }))).toBe(
      'INVALID_ARGUMENT',
    );
    expect(await archiveErrorCode(index.listRuns('m', 0))).toBe('INVALID_ARGUMENT');
  });
});

const FAST_RETRY = { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 };

function cancelled(reasons: CancellationReason[]): TransactionCanceledException {
  return new TransactionCanceledException({
    $metadata: { httpStatusCode: 400 },
    message: 'injected cancellation',
    CancellationReasons: reasons,
  });
}

/** A cancelled transaction as if the table returned no items with the refusal. */
function withoutReturnedItems(error: unknown): unknown {
  const reasons = (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons;
  for (const reason of reasons ?? []) delete reason.Item;
  return error;
}

function runFor(mailboxId: string) {
  return {
    mailboxId,
    runId: 'r',
    startedAt: '2024-05-01T10:00:00Z',
    endedAt: '2024-05-01T10:01:00Z',
    outcome: 'success' as const,
    counts: {
      listed: 0,
      retrieved: 0,
      stored: 0,
      alreadyStored: 0,
      deleted: 0,
      skipped: 0,
      failed: 0,
      octets: 0,
      remainingOnServer: 0,
    },
    stopReason: null,
    errorCode: null,
    errorMessage: null,
    failures: [],
    session: null,
  };
}

describe('toArchiveError', () => {
  const context = { service: 's3' as const, operation: 'PutObject' };

  it.each([
    ['AccessDenied', 403, 'STORE_ACCESS_DENIED', true],
    ['InvalidAccessKeyId', 403, 'STORE_ACCESS_DENIED', true],
    ['ExpiredToken', 400, 'STORE_ACCESS_DENIED', true],
    ['UnrecognizedClientException', 400, 'STORE_ACCESS_DENIED', true],
    ['KMSDisabledException', 400, 'STORE_ACCESS_DENIED', true],
    ['SomethingNew', 403, 'STORE_ACCESS_DENIED', true],
    ['NoSuchBucket', 404, 'STORE_MISSING', true],
    ['ResourceNotFoundException', 400, 'STORE_MISSING', true],
    ['PermanentRedirect', 301, 'STORE_MISSING', true],
    ['SlowDown', 503, 'STORE_UNAVAILABLE', false],
    ['ThrottlingException', 400, 'STORE_UNAVAILABLE', false],
    ['RequestLimitExceeded', 400, 'STORE_UNAVAILABLE', false],
    ['SomethingNew', 502, 'STORE_UNAVAILABLE', false],
    ['SomethingNew', 429, 'STORE_UNAVAILABLE', false],
    ['BadDigest', 400, 'CHECKSUM_MISMATCH', false],
    ['NoSuchKey', 404, 'NOT_FOUND', false],
    ['ConditionalRequestConflict', 409, 'STORE_CONFLICT', false],
    ['ValidationException', 400, 'STORE_REJECTED', false],
    ['SomethingNew', 400, 'STORE_REJECTED', false],
  ] as const)('%s (%i) -> %s', (name, status, code, systemic) => {
    const error = toArchiveError(s3Error(name, status), context);
    expect(error).toMatchObject({ code, systemic, awsErrorName: name, httpStatusCode: status });
    expect(error.message).toContain(name);
  });

  it('maps network failures by errno, including one wrapped in an AggregateError', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toArchiveError(refused, context)).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      awsErrorName: 'ECONNREFUSED',
      httpStatusCode: null,
    });
    const aggregate = new AggregateError([refused], 'all addresses failed');
    expect(toArchiveError(aggregate, context).code).toBe('STORE_UNAVAILABLE');
    const timeout = Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
    expect(toArchiveError(timeout, context).code).toBe('STORE_UNAVAILABLE');
  });

  it('passes an ArchiveError through and maps anything else to STORE_FAILED', () => {
    const original = new ArchiveError('INVALID_CURSOR', 'x');
    expect(toArchiveError(original, context)).toBe(original);
    expect(toArchiveError('a string', context)).toMatchObject({
      code: 'STORE_FAILED',
      systemic: false,
    });
    expect(toArchiveError(new Error('odd'), context)).toMatchObject({
      code: 'STORE_FAILED',
      cause: expect.any(Error),
    });
  });
});

describe('DynamoMessageIndex on DynamoDB Local: item versions and decoding', () => {
  let tableName: string;
  let raw: DynamoDBDocumentClient;
  let index: DynamoMessageIndex;

  beforeAll(async () => {
    const client = dynamoClientFor(aws);
    tableName = await createTestTable(client);
    raw = DynamoDBDocumentClient.from(client);
    index = new DynamoMessageIndex({ client, tableName });
  });

  async function rawItem(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    return (await raw.send(new GetCommand({ TableName: tableName, Key: { [PK]: pk, [SK]: sk } })))
      .Item;
  }

  async function setAttribute(pk: string, sk: string, name: string, value: unknown) {
    await raw.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { [PK]: pk, [SK]: sk },
        ...(value === undefined
          ? { UpdateExpression: 'REMOVE #a' }
          : { UpdateExpression: 'SET #a = :v', ExpressionAttributeValues: { ':v': value } }),
        ExpressionAttributeNames: { '#a': name },
      }),
    );
  }

  /** A mailbox with one of each item kind: message, run, lease and summary. */
  async function everyKind() {
    const mailboxId = unique('versions');
    const record = makeRecord({ mailboxId });
    const run = makeRun(mailboxId, '2024-05-01T10:00:00.000Z');
    await index.putMessage(record);
    await index.putRun(run);
    expect(await index.acquireLease({ mailboxId, owner: 'run-1', now: 1_000, ttlMs: 60_000 })).toBe(
      true,
    );
    const pk = `MBX#${mailboxId}`;
    const runSortKey = `RUN#${run.startedAt}#${run.runId}`;
    const keys = {
      message: [pk, `MSG#${record.messageKey}`],
      run: [pk, runSortKey],
      lease: [pk, 'LEASE'],
      summary: ['MAILBOXES', pk],
    } as const;
    return { mailboxId, record, run, keys };
  }

  it('writes the layout version on every item kind', async () => {
    const { keys } = await everyKind();
    for (const [pk, sk] of Object.values(keys)) {
      expect(await rawItem(pk, sk)).toMatchObject({ [ITEM_VERSION]: STORED_ITEM_VERSION });
    }
  });

  it('reads items written before versions (no version attribute) as version 1', async () => {
    const { mailboxId, record, run, keys } = await everyKind();
    const before = await index.getMailbox(mailboxId);
    for (const [pk, sk] of Object.values(keys)) await setAttribute(pk, sk, ITEM_VERSION, undefined);
    expect(await index.getMessage(mailboxId, record.messageKey)).toStrictEqual(record);
    expect(await index.listRuns(mailboxId, 5)).toStrictEqual([run]);
    expect(await index.leaseHolder(mailboxId)).toEqual({ owner: 'run-1', expiresAt: 61_000 });
    expect(await index.getMailbox(mailboxId)).toStrictEqual(before);
  });

  it('refuses an item of a future version, naming its key and the version attribute', async () => {
    const { mailboxId, record, keys } = await everyKind();
    for (const [pk, sk] of Object.values(keys)) {
      await setAttribute(pk, sk, ITEM_VERSION, STORED_ITEM_VERSION + 1);
    }
    const reads: Array<[string, () => Promise<unknown>]> = [
      [keys.message[1], () => index.getMessage(mailboxId, record.messageKey)],
      [keys.message[1], () => index.getMessages(mailboxId, [record.messageKey])],
      [keys.run[1], () => index.listRuns(mailboxId, 5)],
      [keys.lease[1], () => index.leaseHolder(mailboxId)],
      [keys.summary[1], () => index.getMailbox(mailboxId)],
    ];
    for (const [sk, read] of reads) {
      const error = await read().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CorruptItemError);
      expect((error as CorruptItemError).code).toBe('STORE_CORRUPT');
      expect((error as Error).message).toContain(sk);
      expect((error as Error).message).toContain(`${ITEM_VERSION} is ${STORED_ITEM_VERSION + 1}`);
      expect((error as Error).message).toContain('newer popvault');
    }
  });

  it('refuses an item whose field is not what the record holds, naming the key and field', async () => {
    const { mailboxId, record, keys } = await everyKind();
    await setAttribute(keys.message[0], keys.message[1], 'octets', 'many');
    await setAttribute(keys.run[0], keys.run[1], 'outcome', 'exploded');
    const message = await index.getMessage(mailboxId, record.messageKey).catch((e: unknown) => e);
    expect(message).toBeInstanceOf(CorruptItemError);
    expect(message).toMatchObject({
      key: expect.stringContaining(keys.message[1]),
      field: 'octets',
    });
    const runs = await index.listRuns(mailboxId, 5).catch((e: unknown) => e);
    expect(runs).toMatchObject({ code: 'STORE_CORRUPT', field: 'outcome' });
  });
});
