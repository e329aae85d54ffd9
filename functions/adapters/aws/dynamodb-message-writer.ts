/**
 * The DynamoDB index's writes of the pull run: a record created once with its mailbox's counts in
 * one transaction, the batch lookup of what is already archived, and the mark of deletion.
 *
 * Reads of the base table are strongly consistent: the pull run decides from them what is already
 * archived, and must see its own and the previous run's writes. Lookups of keys too large to be
 * stored find nothing instead of failing: a server may send a 2 KB UIDL, and only the write of that
 * one message should fail (KEY_TOO_LARGE), not the run.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
  ArchiveError,
  type ArchiveErrorCode,
  ArchiveStoreError,
  toArchiveError,
} from '../../core/archive/errors.js';
import type { MessageRecord, MessageWriter, PutMessageResult } from '../../core/archive/ports.js';
import { STORED_ITEM_VERSION } from '../../core/archive/record-decoder.js';
import { requireSortableIso } from '../../core/archive/sort-date.js';
import { dayCounterUpdate } from './dynamodb-activity.js';
import {
  backoffMs,
  cancellationCode,
  cancellationReasons,
  type DynamoTable,
  forEachBounded,
  httpStatusOf,
  isConditionFailed,
  type RetryPolicy,
} from './dynamodb-calls.js';
import { type Item, messageFromItem } from './dynamodb-records.js';
import {
  ENTITY,
  type Entity,
  fitsKey,
  ITEM_VERSION,
  mailboxPk,
  mailboxSummaryKey,
  messageFilterAttributes,
  messageKeys,
  messageSk,
  PK,
  SK,
} from './dynamodb-table.js';

/** BatchGetItem's limit per request. */
export const BATCH_GET_MAX_KEYS = 100;
/** Batches sent at once: enough to hide latency for a few thousand UIDLs, few enough not to throttle. */
const BATCH_GET_CONCURRENCY = 4;
/** markDeleted's UpdateItems in flight at once (one per message; there is no batch update). */
export const MARK_DELETED_CONCURRENCY = 16;
/**
 * UnprocessedKeys come back when DynamoDB throttles a batch or its answer passes 16 MB; AWS asks
 * for exponential back-off before resending them. Eight attempts wait at most ~5 s in all.
 */
export const DEFAULT_BATCH_RETRY: RetryPolicy = { attempts: 8, baseDelayMs: 50, maxDelayMs: 2000 };

/**
 * Every message put of a mailbox also updates its summary item, and DynamoDB cancels a transaction
 * that touches an item another transaction is writing (TransactionConflict). The pull run persists
 * several messages at once, so conflicts are expected now and then, and resolve within a few tries.
 */
export const DEFAULT_TRANSACT_RETRY: RetryPolicy = {
  attempts: 8,
  baseDelayMs: 20,
  maxDelayMs: 1000,
};

export class DynamoMessageWriter implements MessageWriter {
  readonly #table: DynamoTable;
  readonly #batchRetry: RetryPolicy;
  readonly #transactRetry: RetryPolicy;
  /** The record that made a put find one, when the refusal did not carry it. */
  readonly #read: (mailboxId: string, messageKey: string) => Promise<MessageRecord | null>;

  constructor(
    table: DynamoTable,
    retry: { batch: RetryPolicy; transact: RetryPolicy },
    read: (mailboxId: string, messageKey: string) => Promise<MessageRecord | null>,
  ) {
    this.#table = table;
    this.#batchRetry = retry.batch;
    this.#transactRetry = retry.transact;
    this.#read = read;
  }

  async putMessage(record: MessageRecord): Promise<PutMessageResult> {
    const keys = messageKeys(record);
    const summaryKey = mailboxSummaryKey(record.mailboxId);
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) await delay(backoffMs(this.#transactRetry, attempt));
      try {
        // The SDK fills in ClientRequestToken and reuses it on its own retries, so a retry of a
        // transaction that went through (its answer lost) succeeds again instead of being refused.
        await this.#table.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.#table.name,
                  Item: {
                    ...record,
                    ...keys,
                    ...messageFilterAttributes(record),
                    [ENTITY]: 'message' satisfies Entity,
                    [ITEM_VERSION]: STORED_ITEM_VERSION,
                  },
                  ConditionExpression: 'attribute_not_exists(#pk)',
                  ExpressionAttributeNames: { '#pk': PK },
                  // The existing record comes back with the refusal: no second round trip.
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              {
                Update: {
                  TableName: this.#table.name,
                  Key: summaryKey,
                  // ADD creates the counters at zero on the mailbox's first record.
                  UpdateExpression:
                    'SET #mailboxId = :mailboxId, #entity = :entity, #version = :version ADD #messages :one, #octets :octets',
                  ExpressionAttributeNames: {
                    '#mailboxId': 'mailboxId',
                    '#entity': ENTITY,
                    '#version': ITEM_VERSION,
                    '#messages': 'messages',
                    '#octets': 'octets',
                  },
                  ExpressionAttributeValues: {
                    ':mailboxId': record.mailboxId,
                    ':entity': 'mailbox' satisfies Entity,
                    ':version': STORED_ITEM_VERSION,
                    ':one': 1,
                    ':octets': record.octets,
                  },
                },
              },
              dayCounterUpdate(this.#table.name, record),
            ],
          }),
        );
        return { created: true };
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === null) throw toArchiveError(error, this.#table.op('TransactWriteItems'));
        if (reasons[0]?.Code === 'ConditionalCheckFailed') {
          return { created: false, existing: await this.#existing(record, reasons[0], error) };
        }
        if (!reasons.some((r) => r.Code === 'TransactionConflict')) {
          throw this.#cancelled(cancellationCode(reasons), reasons, error);
        }
        if (attempt >= this.#transactRetry.attempts) {
          throw this.#cancelled('STORE_UNAVAILABLE', reasons, error, attempt);
        }
      }
    }
  }

  /** The record whose existence cancelled the put: from the cancellation, else read back. */
  async #existing(
    record: MessageRecord,
    reason: CancellationReason,
    error: unknown,
  ): Promise<MessageRecord> {
    // The document client does not unmarshall items carried by errors.
    const old = reason.Item;
    const existing =
      old !== undefined
        ? messageFromItem(unmarshall(old))
        : await this.#read(record.mailboxId, record.messageKey);
    if (existing === null) {
      // Only possible if the record was deleted between the refusal and our read.
      throw new ArchiveError(
        'STORE_CONFLICT',
        `record ${record.messageKey} existed and then vanished; retry`,
        { cause: error },
      );
    }
    return existing;
  }

  #cancelled(
    code: ArchiveErrorCode,
    reasons: readonly CancellationReason[],
    error: unknown,
    attempts?: number,
  ): ArchiveStoreError {
    const codes = reasons.map((r) => r.Code ?? 'None').join(', ');
    const tries = attempts === undefined ? '' : ` (${attempts} attempts)`;
    return new ArchiveStoreError(
      code,
      {
        ...this.#table.op('TransactWriteItems'),
        awsErrorName: 'TransactionCanceledException',
        httpStatusCode: httpStatusOf(error),
        detail: `transaction cancelled: [${codes}]${tries}`,
      },
      { cause: error },
    );
  }

  async getMessages(
    mailboxId: string,
    messageKeys: readonly string[],
  ): Promise<Map<string, MessageRecord>> {
    const found = new Map<string, MessageRecord>();
    const pk = mailboxPk(mailboxId);
    if (!fitsKey(PK, pk)) return found;
    // BatchGetItem refuses a request that names one key twice.
    const unique = [...new Set(messageKeys)].filter((key) => fitsKey(SK, messageSk(key)));
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += BATCH_GET_MAX_KEYS) {
      chunks.push(unique.slice(i, i + BATCH_GET_MAX_KEYS));
    }
    await forEachBounded(chunks, BATCH_GET_CONCURRENCY, async (chunk) => {
      for (const item of await this.#batchGet(
        chunk.map((k) => ({ [PK]: pk, [SK]: messageSk(k) })),
      )) {
        const record = messageFromItem(item);
        found.set(record.messageKey, record);
      }
    });
    return found;
  }

  async #batchGet(keys: Item[]): Promise<Item[]> {
    const items: Item[] = [];
    let pending = keys;
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) {
        if (attempt > this.#batchRetry.attempts) {
          throw new ArchiveError(
            'STORE_UNAVAILABLE',
            `dynamodb BatchGetItem left ${pending.length} keys unprocessed after ${this.#batchRetry.attempts} attempts`,
          );
        }
        await delay(backoffMs(this.#batchRetry, attempt));
      }
      let out: BatchGetCommandOutput;
      try {
        out = await this.#sendBatchGet(pending);
      } catch (error) {
        throw toArchiveError(error, this.#table.op('BatchGetItem'));
      }
      items.push(...(out.Responses?.[this.#table.name] ?? []));
      pending = out.UnprocessedKeys?.[this.#table.name]?.Keys ?? [];
    }
    return items;
  }

  #sendBatchGet(keys: Item[]): Promise<BatchGetCommandOutput> {
    return this.#table.doc.send(
      new BatchGetCommand({
        RequestItems: { [this.#table.name]: { Keys: keys, ConsistentRead: true } },
      }),
    );
  }

  async markDeleted(mailboxId: string, messageKeys: readonly string[], at: string): Promise<void> {
    requireSortableIso('at', at);
    const pk = mailboxPk(mailboxId);
    if (!fitsKey(PK, pk)) return;
    const unique = [...new Set(messageKeys)].filter((key) => fitsKey(SK, messageSk(key)));
    await forEachBounded(unique, MARK_DELETED_CONCURRENCY, async (messageKey) => {
      try {
        await this.#table.doc.send(
          new UpdateCommand({
            TableName: this.#table.name,
            Key: { [PK]: pk, [SK]: messageSk(messageKey) },
            UpdateExpression: 'SET #deleted = :at',
            // Without the condition an unknown key would create a stub item holding only this.
            ConditionExpression: 'attribute_exists(#pk)',
            ExpressionAttributeNames: { '#deleted': 'deletedFromServerAt', '#pk': PK },
            ExpressionAttributeValues: { ':at': at },
          }),
        );
      } catch (error) {
        if (isConditionFailed(error)) return;
        throw toArchiveError(error, this.#table.op('UpdateItem'));
      }
    });
  }
}
