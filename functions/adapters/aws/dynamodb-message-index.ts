/**
 * The message index, leases and run records in one DynamoDB table (layout: dynamodb-table.ts).
 *
 * Reads of the base table are strongly consistent: the pull run decides from them what is already
 * archived, and must see its own and the previous run's writes. Queries on GSIs (listings, search)
 * are eventually consistent, as GSIs always are; they serve the query API, not the pull path.
 *
 * Lookups of keys too large to be stored find nothing instead of failing: a server may send a
 * 2 KB UIDL, and only the write of that one message should fail (KEY_TOO_LARGE), not the run.
 *
 * A mailbox's summary counts its records in the same transaction that creates them, so the counts
 * never drift from the records, whatever fails or is retried. Its last run is kept by conditional
 * updates that only ever move it forward in time.
 */

import { setTimeout as delay } from 'node:timers/promises';
import type { CancellationReason, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
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
import {
  decodeCursor,
  encodeCursor,
  invalidCursor,
  MAX_PAGE_LIMIT,
  requirePageLimit,
} from '../../core/archive/listing-cursor.js';
import type {
  LeaseHolder,
  LeaseRequest,
  ListMessagesQuery,
  MailboxSummary,
  MessageIndex,
  MessagePage,
  MessageRecord,
  PutMessageResult,
  RunRecord,
} from '../../core/archive/ports.js';
import { STORED_ITEM_VERSION } from '../../core/archive/record-decoder.js';
import { requireSortableIso } from '../../core/archive/sort-date.js';
import {
  type Item,
  leaseFromItem,
  messageFromItem,
  runFromItem,
  summaryFromItem,
} from './dynamodb-records.js';
import {
  ATTACHMENT_COUNT,
  BY_DATE_INDEX,
  BY_MESSAGE_ID_INDEX,
  BY_SENDER_INDEX,
  checkKeySize,
  ENTITY,
  type Entity,
  fitsKey,
  GSI1PK,
  GSI1SK,
  GSI2PK,
  GSI3PK,
  GSI3SK,
  ITEM_VERSION,
  LEASE_SK,
  MAILBOXES_PK,
  MESSAGE_PREFIX,
  mailboxPk,
  mailboxSummaryKey,
  messageFilterAttributes,
  messageIdPk,
  messageKeys,
  messageSk,
  PK,
  RUN_PREFIX,
  runSk,
  SK,
  SUBJECT_LOWER,
  senderPk,
  TTL_ATTRIBUTE,
} from './dynamodb-table.js';

/** BatchGetItem's limit per request. */
export const BATCH_GET_MAX_KEYS = 100;
/** Batches sent at once: enough to hide latency for a few thousand UIDLs, few enough not to throttle. */
const BATCH_GET_CONCURRENCY = 4;
/** markDeleted's UpdateItems in flight at once (one per message; there is no batch update). */
export const MARK_DELETED_CONCURRENCY = 16;
/**
 * A filtered listing reads index pages until it has `limit` matches, but at most this many per call,
 * so one request's cost (and latency) stays bounded however rare the matches are; the caller gets a
 * short page and a cursor instead.
 */
export const DEFAULT_LIST_PAGES_PER_CALL = 5;
/**
 * With a filter, each index page reads at least this many items: a selective filter over pages of
 * `limit` (say 10) items would spend the page budget on a few dozen items.
 */
export const DEFAULT_FILTERED_PAGE_ITEMS = 100;

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

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

export interface ListBudget {
  /** Query pages one listing call reads at most. */
  pagesPerCall: number;
  /** The least Limit of each Query when a subject or attachment filter is set. */
  filteredPageItems: number;
}

export interface DynamoMessageIndexOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Back-off for unprocessed batch keys (tests shorten it). */
  batchRetry?: RetryPolicy;
  /** Back-off for transactions cancelled by a conflict (tests shorten it). */
  transactRetry?: RetryPolicy;
  /** How much one filtered listing call may read (tests shrink it). */
  listBudget?: ListBudget;
}

type IndexName = typeof BY_DATE_INDEX | typeof BY_SENDER_INDEX;

function isConditionFailed(error: unknown): error is { name: string; Item?: unknown } {
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

function cancellationReasons(error: unknown): CancellationReason[] | null {
  const shape = error as { name?: unknown; CancellationReasons?: unknown } | null;
  if (shape?.name !== 'TransactionCanceledException') return null;
  return Array.isArray(shape.CancellationReasons)
    ? (shape.CancellationReasons as CancellationReason[])
    : [];
}

/** What a cancelled transaction means when no condition of ours failed. */
function cancellationCode(reasons: readonly CancellationReason[]): ArchiveErrorCode {
  const codes = new Set(reasons.map((r) => r.Code));
  if (codes.has('ThrottlingError') || codes.has('ProvisionedThroughputExceeded')) {
    return 'STORE_UNAVAILABLE';
  }
  if (codes.has('ValidationError') || codes.has('ItemCollectionSizeLimitExceeded')) {
    return 'STORE_REJECTED';
  }
  return 'STORE_FAILED';
}

function httpStatusOf(error: unknown): number | null {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata
    ?.httpStatusCode;
  return typeof status === 'number' ? status : null;
}

/** Full jitter: concurrent callers that were refused together do not retry together. */
function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 2));
}

/** Runs `task` over `items` with at most `concurrency` in flight; the first failure wins. */
async function forEachBounded<T>(
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

/**
 * A cursor's position is accepted only if it is a start key with exactly this index's key
 * attributes, inside the range being queried. DynamoDB would reject some of these itself, but with a
 * ValidationException that looks like any other bad request.
 */
function startKeyFrom(
  position: Record<string, unknown>,
  expected: { index: IndexName; mailboxId: string; partition: string; low: string; high: string },
): Record<string, string> {
  const [indexPk, indexSk] = expected.index === BY_DATE_INDEX ? [GSI1PK, GSI1SK] : [GSI3PK, GSI3SK];
  const names = Object.keys(position).sort();
  const wanted = [PK, SK, indexPk, indexSk].sort();
  if (names.length !== wanted.length || names.some((n, i) => n !== wanted[i])) {
    invalidCursor('start key has the wrong attributes');
  }
  if (!Object.values(position).every((v) => typeof v === 'string'))
    invalidCursor('start key is not strings');
  const start = position as Record<string, string>;
  const sortKey = start[indexSk] as string;
  if (
    start[PK] !== mailboxPk(expected.mailboxId) ||
    !(start[SK] as string).startsWith(MESSAGE_PREFIX) ||
    start[indexPk] !== expected.partition ||
    sortKey < expected.low ||
    sortKey > expected.high
  ) {
    invalidCursor('start key lies outside this query');
  }
  return start;
}

export class DynamoMessageIndex implements MessageIndex {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #batchRetry: RetryPolicy;
  readonly #transactRetry: RetryPolicy;
  readonly #listBudget: ListBudget;

  constructor(options: DynamoMessageIndexOptions) {
    // removeUndefinedValues: an optional field left undefined is simply not stored, and reads back
    // as absent, which is what it was.
    this.#doc = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#table = options.tableName;
    this.#batchRetry = options.batchRetry ?? DEFAULT_BATCH_RETRY;
    this.#transactRetry = options.transactRetry ?? DEFAULT_TRANSACT_RETRY;
    this.#listBudget = options.listBudget ?? {
      pagesPerCall: DEFAULT_LIST_PAGES_PER_CALL,
      filteredPageItems: DEFAULT_FILTERED_PAGE_ITEMS,
    };
  }

  async putMessage(record: MessageRecord): Promise<PutMessageResult> {
    const keys = messageKeys(record);
    const summaryKey = mailboxSummaryKey(record.mailboxId);
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) await delay(backoffMs(this.#transactRetry, attempt));
      try {
        // The SDK fills in ClientRequestToken and reuses it on its own retries, so a retry of a
        // transaction that went through (its answer lost) succeeds again instead of being refused.
        await this.#doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: this.#table,
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
                  TableName: this.#table,
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
            ],
          }),
        );
        return { created: true };
      } catch (error) {
        const reasons = cancellationReasons(error);
        if (reasons === null) throw toArchiveError(error, this.#op('TransactWriteItems'));
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
        : await this.getMessage(record.mailboxId, record.messageKey);
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
        ...this.#op('TransactWriteItems'),
        awsErrorName: 'TransactionCanceledException',
        httpStatusCode: httpStatusOf(error),
        detail: `transaction cancelled: [${codes}]${tries}`,
      },
      { cause: error },
    );
  }

  async getMessage(mailboxId: string, messageKey: string): Promise<MessageRecord | null> {
    const pk = mailboxPk(mailboxId);
    const sk = messageSk(messageKey);
    if (!fitsKey(PK, pk) || !fitsKey(SK, sk)) return null;
    const item = await this.#getItem(pk, sk);
    return item === undefined ? null : messageFromItem(item);
  }

  /** One item by its key, read consistently (a write this run made is always seen). */
  async #getItem(pk: string, sk: string): Promise<Item | undefined> {
    try {
      const out = await this.#doc.send(
        new GetCommand({
          TableName: this.#table,
          Key: { [PK]: pk, [SK]: sk },
          ConsistentRead: true,
        }),
      );
      return out.Item;
    } catch (error) {
      throw toArchiveError(error, this.#op('GetItem'));
    }
  }

  /** Every item a query matches, page after page (for the small sets read whole). */
  async #queryAll(
    input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  ): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    try {
      do {
        const out = await this.#doc.send(
          new QueryCommand({ ...input, TableName: this.#table, ExclusiveStartKey: start }),
        );
        items.push(...(out.Items ?? []));
        start = out.LastEvaluatedKey;
      } while (start !== undefined);
    } catch (error) {
      throw toArchiveError(error, this.#op('Query'));
    }
    return items;
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
        throw toArchiveError(error, this.#op('BatchGetItem'));
      }
      items.push(...(out.Responses?.[this.#table] ?? []));
      pending = out.UnprocessedKeys?.[this.#table]?.Keys ?? [];
    }
    return items;
  }

  #sendBatchGet(keys: Item[]): Promise<BatchGetCommandOutput> {
    return this.#doc.send(
      new BatchGetCommand({
        RequestItems: { [this.#table]: { Keys: keys, ConsistentRead: true } },
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
        await this.#doc.send(
          new UpdateCommand({
            TableName: this.#table,
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
        throw toArchiveError(error, this.#op('UpdateItem'));
      }
    });
  }

  listMessages(mailboxId: string, query: ListMessagesQuery): Promise<MessagePage> {
    return this.#listByDate(BY_DATE_INDEX, mailboxId, mailboxPk(mailboxId), query);
  }

  listBySender(mailboxId: string, address: string, query: ListMessagesQuery): Promise<MessagePage> {
    return this.#listByDate(
      BY_SENDER_INDEX,
      mailboxId,
      senderPk(mailboxId, address.trim().toLowerCase()),
      query,
    );
  }

  async #listByDate(
    index: IndexName,
    mailboxId: string,
    partition: string,
    query: ListMessagesQuery,
  ): Promise<MessagePage> {
    const limit = requirePageLimit(query.limit);
    const [pkName, skName] = index === BY_DATE_INDEX ? [GSI1PK, GSI1SK] : [GSI3PK, GSI3SK];
    // Sort keys are "<ISO date>#<messageKey>": "<since>#" sorts before every key of that instant,
    // and "<until>$" ("$" follows "#") after every one, so both bounds are inclusive.
    const low = query.since === undefined ? '' : `${requireSortableIso('since', query.since)}#`;
    const high =
      query.until === undefined ? '\u{10FFFF}' : `${requireSortableIso('until', query.until)}$`;
    if (!fitsKey(pkName, partition)) return { items: [], cursor: null };
    const start =
      query.cursor === undefined || query.cursor === null
        ? undefined
        : startKeyFrom(decodeCursor(query.cursor, { listing: index, mailboxId, partition }), {
            index,
            mailboxId,
            partition,
            low,
            high,
          });

    const values: Record<string, unknown> = { ':pk': partition };
    let range = '';
    if (query.since !== undefined && query.until !== undefined) {
      range = ' AND #sk BETWEEN :low AND :high';
      Object.assign(values, { ':low': low, ':high': high });
    } else if (query.since !== undefined) {
      range = ' AND #sk >= :low';
      values[':low'] = low;
    } else if (query.until !== undefined) {
      range = ' AND #sk <= :high';
      values[':high'] = high;
    }
    const names: Record<string, string> = {
      '#pk': pkName,
      ...(range === '' ? {} : { '#sk': skName }),
    };
    const filters: string[] = [];
    if (index === BY_SENDER_INDEX) {
      // "FROM#a#b#c@x" is mailbox "a" with sender "b#c@x" and mailbox "a#b" with sender "c@x":
      // never show one mailbox's mail in another's listing.
      filters.push('#mailbox = :mailbox');
      names['#mailbox'] = 'mailboxId';
      values[':mailbox'] = mailboxId;
    }
    // An empty substring would match every subject, and nothing else about the query changes.
    const subject = query.subject === undefined ? '' : query.subject.toLowerCase();
    if (subject !== '') {
      filters.push('contains(#subject, :subject)');
      names['#subject'] = SUBJECT_LOWER;
      values[':subject'] = subject;
    }
    if (query.hasAttachments !== undefined) {
      filters.push(query.hasAttachments ? '#attachments > :none' : '#attachments = :none');
      names['#attachments'] = ATTACHMENT_COUNT;
      values[':none'] = 0;
    }
    const selective = subject !== '' || query.hasAttachments !== undefined;
    const input: QueryCommandInput = {
      TableName: this.#table,
      IndexName: index,
      KeyConditionExpression: `#pk = :pk${range}`,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ScanIndexForward: false,
      ...(filters.length === 0 ? {} : { FilterExpression: filters.join(' AND ') }),
    };
    // A start key is exactly the table's and the index's key attributes of an item.
    const keyOf = (item: Item): Record<string, string> =>
      Object.fromEntries([PK, SK, pkName, skName].map((name) => [name, item[name] as string]));

    const items: MessageRecord[] = [];
    let exclusiveStart: Record<string, string> | undefined = start;
    let next: Record<string, string> | undefined;
    for (let page = 1; ; page++) {
      const remaining = limit - items.length;
      // Limit counts items read, before the filter: with a filter, read ahead, and cut below.
      input.Limit = selective
        ? Math.min(MAX_PAGE_LIMIT, Math.max(remaining, this.#listBudget.filteredPageItems))
        : remaining;
      input.ExclusiveStartKey = exclusiveStart;
      let found: Item[];
      let last: Record<string, string> | undefined;
      try {
        const out = await this.#doc.send(new QueryCommand(input));
        found = out.Items ?? [];
        last = out.LastEvaluatedKey as Record<string, string> | undefined;
      } catch (error) {
        throw toArchiveError(error, this.#op('Query'));
      }
      if (found.length > remaining) {
        // More matches than the page holds: continue right after the last one returned.
        const kept = found.slice(0, remaining);
        items.push(...kept.map(messageFromItem));
        next = keyOf(kept[kept.length - 1] as Item);
        break;
      }
      items.push(...found.map(messageFromItem));
      next = last;
      if (last === undefined || items.length === limit || page >= this.#listBudget.pagesPerCall) {
        break;
      }
      exclusiveStart = last;
    }
    return {
      items,
      cursor:
        next === undefined ? null : encodeCursor({ listing: index, mailboxId, partition }, next),
    };
  }

  async findByMessageId(messageId: string): Promise<MessageRecord[]> {
    if (messageId === '') return [];
    const partition = messageIdPk(messageId);
    if (!fitsKey(GSI2PK, partition)) return [];
    const items = await this.#queryAll({
      IndexName: BY_MESSAGE_ID_INDEX,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': GSI2PK },
      ExpressionAttributeValues: { ':pk': partition },
    });
    return items.map(messageFromItem);
  }

  async acquireLease(request: LeaseRequest): Promise<boolean> {
    if (
      !Number.isSafeInteger(request.now) ||
      !Number.isSafeInteger(request.ttlMs) ||
      request.ttlMs <= 0
    ) {
      throw new ArchiveError('INVALID_ARGUMENT', 'lease now and ttlMs must be integers, ttlMs > 0');
    }
    const pk = mailboxPk(request.mailboxId);
    checkKeySize(PK, pk);
    const expiresAt = request.now + request.ttlMs;
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            [PK]: pk,
            [SK]: LEASE_SK,
            [ENTITY]: 'lease' satisfies Entity,
            [ITEM_VERSION]: STORED_ITEM_VERSION,
            mailboxId: request.mailboxId,
            owner: request.owner,
            expiresAt,
            // TTL only tidies up (it deletes days late); expiresAt is what the condition trusts.
            [TTL_ATTRIBUTE]: Math.ceil(expiresAt / 1000),
          },
          ConditionExpression: `attribute_not_exists(#pk) OR #expiresAt < :now OR #owner = :owner${
            request.takeOverFrom === undefined ? '' : ' OR #owner = :takeOverFrom'
          }`,
          ExpressionAttributeNames: { '#pk': PK, '#expiresAt': 'expiresAt', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':now': request.now,
            ':owner': request.owner,
            ...(request.takeOverFrom === undefined
              ? {}
              : { ':takeOverFrom': request.takeOverFrom }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw toArchiveError(error, this.#op('PutItem'));
    }
  }

  async leaseHolder(mailboxId: string): Promise<LeaseHolder | null> {
    const pk = mailboxPk(mailboxId);
    if (!fitsKey(PK, pk)) return null;
    const item = await this.#getItem(pk, LEASE_SK);
    return item === undefined ? null : leaseFromItem(item);
  }

  async releaseLease(mailboxId: string, owner: string): Promise<void> {
    const pk = mailboxPk(mailboxId);
    if (!fitsKey(PK, pk)) return;
    try {
      await this.#doc.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { [PK]: pk, [SK]: LEASE_SK },
          // Someone else's lease (ours expired and was taken over) is theirs to release.
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) return;
      throw toArchiveError(error, this.#op('DeleteItem'));
    }
  }

  async putRun(run: RunRecord): Promise<void> {
    const pk = mailboxPk(run.mailboxId);
    const sk = runSk(run.startedAt, run.runId);
    checkKeySize(PK, pk);
    checkKeySize(SK, sk);
    const summaryKey = mailboxSummaryKey(run.mailboxId);
    // Compared as instants: "01:00+02:00" is earlier than "23:30Z" the day before, as strings not.
    const endedAt = requireSortableIso('endedAt', run.endedAt);
    try {
      // Unconditional: a run's record is written again when it ends, replacing the one from its start.
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...run,
            [PK]: pk,
            [SK]: sk,
            [ENTITY]: 'run' satisfies Entity,
            [ITEM_VERSION]: STORED_ITEM_VERSION,
          },
        }),
      );
    } catch (error) {
      throw toArchiveError(error, this.#op('PutItem'));
    }
    // Not in one transaction with the record: a conditional part that fails would cancel the record
    // too. A crash in between leaves the summary a run behind until the next run ends.
    const succeeded = run.outcome === 'success' || run.outcome === 'partial';
    const lastRun: MailboxSummary['lastRun'] = {
      runId: run.runId,
      outcome: run.outcome,
      endedAt: run.endedAt,
      errorCode: run.errorCode,
      errorMessage: run.errorMessage,
    };
    // The last success can never be later than the last run, so a run that becomes the last run
    // moves the last success too when it succeeded; a run older than the last (a late writer) may
    // still be the latest success.
    const newest = await this.#advanceSummary(summaryKey, run.mailboxId, endedAt, {
      orderAttribute: 'lastRunEndedAt',
      set: {
        lastRun,
        ...(succeeded ? { lastSuccessAt: run.endedAt, lastSuccessEndedAt: endedAt } : {}),
      },
    });
    if (!newest && succeeded) {
      await this.#advanceSummary(summaryKey, run.mailboxId, endedAt, {
        orderAttribute: 'lastSuccessEndedAt',
        set: { lastSuccessAt: run.endedAt },
      });
    }
  }

  /**
   * Sets `set` (and `orderAttribute` to `endedAt`) on the summary unless it already holds a later
   * `orderAttribute`; creates the summary if there is none. Returns whether it did.
   */
  async #advanceSummary(
    key: Record<string, string>,
    mailboxId: string,
    endedAt: string,
    change: { orderAttribute: string; set: Record<string, unknown> },
  ): Promise<boolean> {
    const names: Record<string, string> = {
      '#order': change.orderAttribute,
      '#mailboxId': 'mailboxId',
      '#entity': ENTITY,
      '#version': ITEM_VERSION,
      '#messages': 'messages',
      '#octets': 'octets',
    };
    const values: Record<string, unknown> = {
      ':endedAt': endedAt,
      ':mailboxId': mailboxId,
      ':entity': 'mailbox' satisfies Entity,
      ':version': STORED_ITEM_VERSION,
      ':zero': 0,
    };
    const assignments = [
      '#order = :endedAt',
      '#mailboxId = :mailboxId',
      '#entity = :entity',
      '#version = :version',
    ];
    for (const [i, [attribute, value]] of Object.entries(change.set).entries()) {
      names[`#a${i}`] = attribute;
      values[`:a${i}`] = value;
      assignments.push(`#a${i} = :a${i}`);
    }
    try {
      await this.#doc.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: key,
          // ADD of zero: a summary first created by a run still reads back with counts.
          UpdateExpression: `SET ${assignments.join(', ')} ADD #messages :zero, #octets :zero`,
          // ">=": the run's record written again at its end, with the same endedAt, replaces itself.
          ConditionExpression: 'attribute_not_exists(#order) OR #order <= :endedAt',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw toArchiveError(error, this.#op('UpdateItem'));
    }
  }

  async listMailboxes(): Promise<MailboxSummary[]> {
    const items = await this.#queryAll({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': PK },
      ExpressionAttributeValues: { ':pk': MAILBOXES_PK },
      ConsistentRead: true,
    });
    return items.map(summaryFromItem);
  }

  async getMailbox(mailboxId: string): Promise<MailboxSummary | null> {
    const sk = mailboxPk(mailboxId);
    if (!fitsKey(SK, sk)) return null;
    const item = await this.#getItem(MAILBOXES_PK, sk);
    return item === undefined ? null : summaryFromItem(item);
  }

  async listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    requirePageLimit(limit);
    const pk = mailboxPk(mailboxId);
    if (!fitsKey(PK, pk)) return [];
    try {
      const out = await this.#doc.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :run)',
          ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
          ExpressionAttributeValues: { ':pk': pk, ':run': RUN_PREFIX },
          ScanIndexForward: false,
          Limit: limit,
          ConsistentRead: true,
        }),
      );
      return (out.Items ?? []).map(runFromItem);
    } catch (error) {
      throw toArchiveError(error, this.#op('Query'));
    }
  }

  #op(operation: string) {
    return { service: 'dynamodb' as const, operation };
  }
}
