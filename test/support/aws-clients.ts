/**
 * SDK clients for the emulators (see emulators.ts for the gaps these settings work around), and a
 * fresh bucket and table per caller, so test files share one emulator process without sharing data.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createTableInput, timeToLiveInput } from '../../functions/adapters/aws/dynamodb-table.js';
import type { AwsEmulatorInfo } from './emulators.js';

// DynamoDB Local reports a new table ACTIVE at once; a real endpoint takes seconds.
const TABLE_ACTIVE_ATTEMPTS = 50;
const TABLE_ACTIVE_POLL_MS = 100;

function credentials(info: AwsEmulatorInfo) {
  return { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey };
}

export function s3ClientFor(info: AwsEmulatorInfo): S3Client {
  return new S3Client({
    endpoint: info.s3Endpoint,
    region: info.region,
    credentials: credentials(info),
    // s3rver serves path-style only (bucket.127.0.0.1 does not resolve).
    forcePathStyle: true,
    // With the default (WHEN_SUPPORTED) the SDK sends streaming bodies aws-chunked with a CRC32
    // trailer, which s3rver stores verbatim, framing and all. The store under test always sends
    // Buffers with its own SHA-256 header, which this setting does not affect.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    // s3rver returns no checksum headers, so there is nothing to validate either way.
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function dynamoClientFor(info: AwsEmulatorInfo): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: info.dynamoEndpoint,
    region: info.region,
    credentials: credentials(info),
  });
}

function uniqueName(): string {
  return `popvault-test-${randomBytes(6).toString('hex')}`;
}

export async function createTestBucket(client: S3Client): Promise<string> {
  const bucket = uniqueName();
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return bucket;
}

/** A table laid out exactly as production's (createTableInput), TTL on, ACTIVE when this resolves. */
export async function createTestTable(client: DynamoDBClient): Promise<string> {
  const tableName = uniqueName();
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  for (let attempt = 1; ; attempt++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    if (attempt >= TABLE_ACTIVE_ATTEMPTS) {
      throw new Error(`table ${tableName} is still ${Table?.TableStatus ?? 'unknown'}`);
    }
    // DescribeTable is the only signal DynamoDB offers for table creation.
    await delay(TABLE_ACTIVE_POLL_MS);
  }
  await client.send(new UpdateTimeToLiveCommand(timeToLiveInput(tableName)));
  return tableName;
}

/** Every key in the bucket, across pages. */
export async function listAllKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) if (object.Key !== undefined) keys.push(object.Key);
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys;
}
