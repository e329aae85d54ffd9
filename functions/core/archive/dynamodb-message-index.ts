/**
 * The message index, leases and run records in one DynamoDB table (layout: dynamodb-table.ts).
 *
 * Reads of the base table are strongly consistent: the pull run decides from them what is already
 * archived, and must see its own and the previous run's writes. Queries on GSIs (listings, search)
 * are eventually consistent, as GSIs always are; they serve the query API, not the pull path.
 *
 * Lookups of keys too large to be stored find nothing instead of failing: a server may send a
 * 2 KB UIDL, and only the write of that one message should fail (KEY_TOO_LARGE), not the run.
 */

import { setTimeout as delay } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import {
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
  KEY_ATTRIBUTES,
  LEASE_SK,
  MESSAGE_PREFIX,
  mailboxPk,
  messageIdPk,
  messageKeys,
  messageSk,
  PK,
  RUN_PREFIX,
  requireSortableIso,
  runSk,
  SK,
  senderPk,
  TTL_ATTRIBUTE,
} from './dynamodb-table.js';
import { ArchiveError, InvalidCursorError, toArchiveError } from './errors.js';
import type {
  LeaseRequest,
  ListMessagesQuery,
  MessageIndex,
  MessagePage,
  MessageRecord,
  PutMessageResult,
  RunRecord,
} from './ports.js';

/** BatchGetItem's limit per request. */
export const BATCH_GET_MAX_KEYS = 100;
/** Batches sent at once: enough to hide latency for a few thousand UIDLs, few enough not to throttle. */
const BATCH_GET_CONCURRENCY = 4;
/** markDeleted's UpdateItems in flight at once (one per message; there is no batch update). */
export const MARK_DELETED_CONCURRENCY = 16;
/** Query's own ceiling is 1 MB per page; this keeps one API call's page bounded in items too. */
export const MAX_PAGE_LIMIT = 1000;
/** A cursor is a few hundred characters; anything far longer is not one of ours. */
const MAX_CURSOR_LENGTH = 8192;
const CURSOR_VERSION = 1;

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

export interface DynamoMessageIndexOptions {
  client: DynamoDBClient;
  tableName: string;
  /** Back-off for unprocessed batch keys (tests shorten it). */
  batchRetry?: RetryPolicy;
}

type IndexName = typeof BY_DATE_INDEX | typeof BY_SENDER_INDEX;

interface CursorPayload {
  v: number;
  index: IndexName;
  mailboxId: string;
  /** The partition queried (for the sender index it names the address too). */
  partition: string;
  key: Record<string, string>;
}

type Item = Record<string, unknown>;

function stripKeys(item: Item): Item {
  const record: Item = { ...item };
  for (const attribute of KEY_ATTRIBUTES) delete record[attribute];
  return record;
}

function toMessage(item: Item): MessageRecord {
  return stripKeys(item) as unknown as MessageRecord;
}

function toRun(item: Item): RunRecord {
  return stripKeys(item) as unknown as RunRecord;
}

function isConditionFailed(error: unknown): error is { name: string; Item?: unknown } {
  return (error as { name?: unknown } | null)?.name === 'ConditionalCheckFailedException';
}

function requireLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new ArchiveError(
      'INVALID_ARGUMENT',
      `limit must be an integer in [1, ${MAX_PAGE_LIMIT}]`,
    );
  }
  return limit;
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

function encodeCursor(payload: CursorPayload): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

/**
 * A cursor is accepted only if it is exactly what this index issued for the same query: same index,
 * mailbox and partition, a start key with exactly that index's key attributes, inside the range
 * being queried. DynamoDB would reject some of these itself, but with a ValidationException that
 * looks like any other bad request.
 */
function decodeCursor(
  cursor: string,
  expected: { index: IndexName; mailboxId: string; partition: string; low: string; high: string },
): Record<string, string> {
  const reject = (why: string, cause?: unknown): never => {
    throw new InvalidCursorError(`invalid cursor: ${why}`, { cause });
  };
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor))
    reject('not base64url');
  let payload: Partial<CursorPayload>;
  try {
    payload = JSON.parse(
      Buffer.from(cursor, 'base64url').toString('utf8'),
    ) as Partial<CursorPayload>;
  } catch (error) {
    return reject('does not decode', error);
  }
  if (payload === null || typeof payload !== 'object') return reject('does not decode');
  if (payload.v !== CURSOR_VERSION) reject('unknown version');
  if (payload.index !== expected.index) reject('issued for another listing');
  if (payload.mailboxId !== expected.mailboxId) reject('issued for another mailbox');
  if (payload.partition !== expected.partition) reject('issued for another query');
  const key = payload.key;
  if (key === null || typeof key !== 'object') return reject('no start key');
  const [indexPk, indexSk] = expected.index === BY_DATE_INDEX ? [GSI1PK, GSI1SK] : [GSI3PK, GSI3SK];
  const names = Object.keys(key).sort();
  const wanted = [PK, SK, indexPk, indexSk].sort();
  if (names.length !== wanted.length || names.some((n, i) => n !== wanted[i])) {
    reject('start key has the wrong attributes');
  }
  if (!Object.values(key).every((v) => typeof v === 'string')) reject('start key is not strings');
  const start = key as Record<string, string>;
  const sortKey = start[indexSk] as string;
  if (
    start[PK] !== mailboxPk(expected.mailboxId) ||
    !(start[SK] as string).startsWith(MESSAGE_PREFIX) ||
    start[indexPk] !== expected.partition ||
    sortKey < expected.low ||
    sortKey > expected.high
  ) {
    reject('start key lies outside this query');
  }
  return start;
}

export class DynamoMessageIndex implements MessageIndex {
  readonly #doc: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #batchRetry: RetryPolicy;

  constructor(options: DynamoMessageIndexOptions) {
    // removeUndefinedValues: an optional field left undefined is simply not stored, and reads back
    // as absent, which is what it was.
    this.#doc = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.#table = options.tableName;
    this.#batchRetry = options.batchRetry ?? DEFAULT_BATCH_RETRY;
  }

  async putMessage(record: MessageRecord): Promise<PutMessageResult> {
    const keys = messageKeys(record);
    try {
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...record, ...keys, [ENTITY]: 'message' satisfies Entity },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
          // The existing record comes back with the refusal: no second round trip.
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { created: true };
    } catch (error) {
      if (!isConditionFailed(error)) throw toArchiveError(error, this.#op('PutItem'));
      // The document client does not unmarshall items carried by errors.
      const old = error.Item as Parameters<typeof unmarshall>[0] | undefined;
      const existing =
        old !== undefined
          ? toMessage(unmarshall(old))
          : await this.getMessage(record.mailboxId, record.messageKey);
      if (existing === null) {
        // Only possible if the record was deleted between the refusal and our read.
        throw new ArchiveError(
          'STORE_CONFLICT',
          `record ${record.messageKey} existed and then vanished; retry`,
          { cause: error },
        );
      }
      return { created: false, existing };
    }
  }

  async getMessage(mailboxId: string, messageKey: string): Promise<MessageRecord | null> {
    const pk = mailboxPk(mailboxId);
    const sk = messageSk(messageKey);
    if (!fitsKey(PK, pk) || !fitsKey(SK, sk)) return null;
    try {
      const out = await this.#doc.send(
        new GetCommand({
          TableName: this.#table,
          Key: { [PK]: pk, [SK]: sk },
          ConsistentRead: true,
        }),
      );
      return out.Item === undefined ? null : toMessage(out.Item);
    } catch (error) {
      throw toArchiveError(error, this.#op('GetItem'));
    }
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
        const record = toMessage(item);
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
        // Full jitter: concurrent batches that were throttled together do not retry together.
        const cap = Math.min(
          this.#batchRetry.maxDelayMs,
          this.#batchRetry.baseDelayMs * 2 ** (attempt - 2),
        );
        await delay(Math.random() * cap);
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
    const limit = requireLimit(query.limit);
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
        : decodeCursor(query.cursor, { index, mailboxId, partition, low, high });

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
    const input: QueryCommandInput = {
      TableName: this.#table,
      IndexName: index,
      KeyConditionExpression: `#pk = :pk${range}`,
      ExpressionAttributeNames: { '#pk': pkName, ...(range === '' ? {} : { '#sk': skName }) },
      ExpressionAttributeValues: values,
      ScanIndexForward: false,
      Limit: limit,
      ExclusiveStartKey: start,
    };
    if (index === BY_SENDER_INDEX) {
      // "FROM#a#b#c@x" is mailbox "a" with sender "b#c@x" and mailbox "a#b" with sender "c@x":
      // never show one mailbox's mail in another's listing. (Such a page may come back short.)
      input.FilterExpression = '#mailbox = :mailbox';
      input.ExpressionAttributeNames = {
        ...input.ExpressionAttributeNames,
        '#mailbox': 'mailboxId',
      };
      values[':mailbox'] = mailboxId;
    }
    try {
      const out = await this.#doc.send(new QueryCommand(input));
      const last = out.LastEvaluatedKey as Record<string, string> | undefined;
      return {
        items: (out.Items ?? []).map(toMessage),
        cursor:
          last === undefined
            ? null
            : encodeCursor({ v: CURSOR_VERSION, index, mailboxId, partition, key: last }),
      };
    } catch (error) {
      throw toArchiveError(error, this.#op('Query'));
    }
  }

  async findByMessageId(messageId: string): Promise<MessageRecord[]> {
    if (messageId === '') return [];
    const partition = messageIdPk(messageId);
    if (!fitsKey(GSI2PK, partition)) return [];
    const records: MessageRecord[] = [];
    let start: Record<string, unknown> | undefined;
    try {
      do {
        const out = await this.#doc.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: BY_MESSAGE_ID_INDEX,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': GSI2PK },
            ExpressionAttributeValues: { ':pk': partition },
            ExclusiveStartKey: start,
          }),
        );
        records.push(...(out.Items ?? []).map(toMessage));
        start = out.LastEvaluatedKey;
      } while (start !== undefined);
    } catch (error) {
      throw toArchiveError(error, this.#op('Query'));
    }
    return records;
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
            mailboxId: request.mailboxId,
            owner: request.owner,
            expiresAt,
            // TTL only tidies up (it deletes days late); expiresAt is what the condition trusts.
            [TTL_ATTRIBUTE]: Math.ceil(expiresAt / 1000),
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now OR #owner = :owner',
          ExpressionAttributeNames: { '#pk': PK, '#expiresAt': 'expiresAt', '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': request.now, ':owner': request.owner },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw toArchiveError(error, this.#op('PutItem'));
    }
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
    try {
      // Unconditional: a run's record is written again when it ends, replacing the one from its start.
      await this.#doc.send(
        new PutCommand({
          TableName: this.#table,
          Item: { ...run, [PK]: pk, [SK]: sk, [ENTITY]: 'run' satisfies Entity },
        }),
      );
    } catch (error) {
      throw toArchiveError(error, this.#op('PutItem'));
    }
  }

  async listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    requireLimit(limit);
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
      return (out.Items ?? []).map(toRun);
    } catch (error) {
      throw toArchiveError(error, this.#op('Query'));
    }
  }

  #op(operation: string) {
    return { service: 'dynamodb' as const, operation };
  }
}
