/**
 * What every role of the DynamoDB index shares: the document client on one table, the reads used by
 * several roles, and how a refused or cancelled call is recognised and retried.
 */
import type { CancellationReason, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { type ArchiveErrorCode, toArchiveError } from '../../core/archive/errors.js';
import type { Item } from './dynamodb-records.js';
import { PK, SK } from './dynamodb-table.js';

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The document client on the index's table. */
export class DynamoTable {
  readonly doc: DynamoDBDocumentClient;
  readonly name: string;

  constructor(client: DynamoDBClient, name: string) {
    // removeUndefinedValues: an optional field left undefined is simply not stored, and reads back
    // as absent, which is what it was.
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.name = name;
  }

  op(operation: string) {
    return { service: 'dynamodb' as const, operation };
  }

  /** One item by its key, read consistently (a write this run made is always seen). */
  async getItem(pk: string, sk: string): Promise<Item | undefined> {
    try {
      const out = await this.doc.send(
        new GetCommand({
          TableName: this.name,
          Key: { [PK]: pk, [SK]: sk },
          ConsistentRead: true,
        }),
      );
      return out.Item;
    } catch (error) {
      throw toArchiveError(error, this.op('GetItem'));
    }
  }

  /** Every item a query matches, page after page (for the small sets read whole). */
  async queryAll(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    try {
      do {
        const out = await this.doc.send(
          new QueryCommand({ ...input, TableName: this.name, ExclusiveStartKey: start }),
        );
        items.push(...(out.Items ?? []));
        start = out.LastEvaluatedKey;
      } while (start !== undefined);
    } catch (error) {
      throw toArchiveError(error, this.op('Query'));
    }
    return items;
  }
}

export function isConditionFailed(error: unknown): error is { name: string; Item?: unknown } {
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

export function cancellationReasons(error: unknown): CancellationReason[] | null {
  const shape = error as { name?: unknown; CancellationReasons?: unknown } | null;
  if (shape?.name !== 'TransactionCanceledException') return null;
  return Array.isArray(shape.CancellationReasons)
    ? (shape.CancellationReasons as CancellationReason[])
    : [];
}

/** What a cancelled transaction means when no condition of ours failed. */
export function cancellationCode(reasons: readonly CancellationReason[]): ArchiveErrorCode {
  const codes = new Set(reasons.map((r) => r.Code));
  if (codes.has('ThrottlingError') || codes.has('ProvisionedThroughputExceeded')) {
    return 'STORE_UNAVAILABLE';
  }
  if (codes.has('ValidationError') || codes.has('ItemCollectionSizeLimitExceeded')) {
    return 'STORE_REJECTED';
  }
  return 'STORE_FAILED';
}

export function httpStatusOf(error: unknown): number | null {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' ? status : null;
}

/** Full jitter: concurrent callers that were refused together do not retry together. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 2));
}

/** Runs `task` over `items` with at most `concurrency` in flight; the first failure wins. */
export async function forEachBounded<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  const failed = failure as { error: unknown } | null;
  if (failed !== null) throw failed.error;
}
