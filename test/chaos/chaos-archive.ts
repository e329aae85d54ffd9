/**
 * The two archives a chaos run can pull into, opened the same way by the runner (to check them and
 * run recovery pulls) and by the pull child (to be killed while writing them): the local archive
 * (Maildir files + SQLite, as the CLI opens it) or the AWS adapters against DynamoDB Local and s3rver.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DynamoMessageIndex } from '../../functions/adapters/aws/dynamodb-message-index.js';
import { S3RawStore } from '../../functions/adapters/aws/s3-raw-store.js';
import { openLocalArchive } from '../../functions/cli/local-archive.js';
import type { MessageIndex, RawStore } from '../../functions/core/archive/ports.js';
import { encodeKeySegment, rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import { dynamoClientFor, s3ClientFor } from '../support/aws-clients.js';
import type { AwsEmulatorInfo } from '../support/emulators.js';

export type ArchiveLocation =
  | { kind: 'local'; directory: string }
  | { kind: 'aws'; aws: AwsEmulatorInfo; bucket: string; table: string };

/** S3RawStore's smallest part: a message just above it goes up in two parts. */
export const CHAOS_MULTIPART_OCTETS = 5 * 1024 * 1024;

export interface OpenedArchive {
  rawStore: RawStore;
  index: MessageIndex;
  persistConcurrency?: number;
  /** Every raw object key of one mailbox (the local store's tmp/ files are not objects). */
  rawKeys(mailboxId: string): Promise<string[]>;
  close(): void;
}

export async function openArchive(
  location: ArchiveLocation,
  wrapS3: (client: S3Client) => S3Client = (client) => client,
): Promise<OpenedArchive> {
  if (location.kind === 'local') {
    const local = await openLocalArchive(location.directory);
    return {
      rawStore: local.rawStore,
      index: local.index,
      persistConcurrency: local.persistConcurrency,
      async rawKeys(mailboxId) {
        const segment = encodeKeySegment(mailboxId);
        const names: string[] = [];
        for (const sub of ['new', 'cur']) {
          try {
            for (const name of await readdir(join(location.directory, 'mail', segment, sub)))
              names.push(`${segment}/${sub}/${name}`);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          }
        }
        return names;
      },
      close: () => local.close(),
    };
  }
  const s3 = s3ClientFor(location.aws);
  const dynamo = dynamoClientFor(location.aws);
  return {
    rawStore: new S3RawStore({
      client: wrapS3(s3),
      bucket: location.bucket,
      multipartThresholdOctets: CHAOS_MULTIPART_OCTETS,
      partSizeOctets: CHAOS_MULTIPART_OCTETS,
    }),
    index: new DynamoMessageIndex({ client: dynamo, tableName: location.table }),
    async rawKeys(mailboxId) {
      // Listed by the mailbox's prefix: the whole bucket grows with every run.
      const prefix = `${rawObjectKey(mailboxId, '0'.repeat(64)).split('/').slice(0, 2).join('/')}/`;
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(
          new ListObjectsV2Command({
            Bucket: location.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
        );
        for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = page.NextContinuationToken;
      } while (token !== undefined);
      return keys;
    },
    close() {
      s3.destroy();
      dynamo.destroy();
    },
  };
}
