/**
 * The query API's reads of the DynamoDB index: records, newest-first listings over the date and
 * sender indexes with opaque cursors, Message-ID search, and mailbox summaries.
 *
 * Queries on GSIs (listings, search) are eventually consistent, as GSIs always are; they serve the
 * query API, not the pull path. Lookups of keys too large to be stored find nothing.
 */
import { QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { toArchiveError } from '../../core/archive/errors.js';
import {
  decodeCursor,
  encodeCursor,
  invalidCursor,
  MAX_PAGE_LIMIT,
  requirePageLimit,
} from '../../core/archive/listing-cursor.js';
import type {
  ArchiveReader,
  DayCount,
  ListMessagesQuery,
  MailboxSummary,
  MessagePage,
  MessageRecord,
  RunRecord,
} from '../../core/archive/ports.js';
import { requireSortableIso } from '../../core/archive/sort-date.js';
import { archivedPerDay } from './dynamodb-activity.js';
import type { DynamoTable } from './dynamodb-calls.js';
import { type Item, messageFromItem, summaryFromItem } from './dynamodb-records.js';
import {
  ATTACHMENT_COUNT,
  BY_DATE_INDEX,
  BY_MESSAGE_ID_INDEX,
  BY_SENDER_INDEX,
  fitsKey,
  GSI1PK,
  GSI1SK,
  GSI2PK,
  GSI3PK,
  GSI3SK,
  MAILBOXES_PK,
  MESSAGE_PREFIX,
  mailboxPk,
  messageIdPk,
  messageSk,
  PK,
  SK,
  SUBJECT_LOWER,
  senderPk,
} from './dynamodb-table.js';

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

export interface ListBudget {
  /** Query pages one listing call reads at most. */
  pagesPerCall: number;
  /** The least Limit of each Query when a subject or attachment filter is set. */
  filteredPageItems: number;
}

type IndexName = typeof BY_DATE_INDEX | typeof BY_SENDER_INDEX;

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

/** The Query of one listing page: key range on the index, filters, newest first. */
function listingQuery(
  tableName: string,
  index: IndexName,
  mailboxId: string,
  partition: string,
  query: ListMessagesQuery,
  low: string,
  high: string,
): QueryCommandInput {
  const [pkName, skName] = index === BY_DATE_INDEX ? [GSI1PK, GSI1SK] : [GSI3PK, GSI3SK];
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
  const input: QueryCommandInput = {
    TableName: tableName,
    IndexName: index,
    KeyConditionExpression: `#pk = :pk${range}`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
    ScanIndexForward: false,
    ...(filters.length === 0 ? {} : { FilterExpression: filters.join(' AND ') }),
  };
  return input;
}

export class DynamoArchiveReader implements ArchiveReader {
  readonly #table: DynamoTable;
  readonly #listBudget: ListBudget;
  readonly #runs: { listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> };

  constructor(
    table: DynamoTable,
    listBudget: ListBudget,
    runs: { listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> },
  ) {
    this.#table = table;
    this.#listBudget = listBudget;
    this.#runs = runs;
  }

  async getMessage(mailboxId: string, messageKey: string): Promise<MessageRecord | null> {
    const pk = mailboxPk(mailboxId);
    const sk = messageSk(messageKey);
    if (!fitsKey(PK, pk) || !fitsKey(SK, sk)) return null;
    const item = await this.#table.getItem(pk, sk);
    return item === undefined ? null : messageFromItem(item);
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

    const input = listingQuery(this.#table.name, index, mailboxId, partition, query, low, high);
    // A filter makes pages read ahead (see #readPages); an empty subject filters nothing.
    const selective = (query.subject ?? '') !== '' || query.hasAttachments !== undefined;
    const next = await this.#readPages(input, pkName, skName, limit, selective, start);
    return {
      items: next.items,
      cursor:
        next.last === undefined
          ? null
          : encodeCursor({ listing: index, mailboxId, partition }, next.last),
    };
  }

  /** Index pages from `start` until `limit` items, the end, or the page budget; where to go on. */
  async #readPages(
    input: QueryCommandInput,
    pkName: string,
    skName: string,
    limit: number,
    selective: boolean,
    start: Record<string, string> | undefined,
  ): Promise<{ items: MessageRecord[]; last: Record<string, string> | undefined }> {
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
        const out = await this.#table.doc.send(new QueryCommand(input));
        found = out.Items ?? [];
        last = out.LastEvaluatedKey as Record<string, string> | undefined;
      } catch (error) {
        throw toArchiveError(error, this.#table.op('Query'));
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
    return { items, last: next };
  }

  async findByMessageId(messageId: string): Promise<MessageRecord[]> {
    if (messageId === '') return [];
    const partition = messageIdPk(messageId);
    if (!fitsKey(GSI2PK, partition)) return [];
    const items = await this.#table.queryAll({
      IndexName: BY_MESSAGE_ID_INDEX,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': GSI2PK },
      ExpressionAttributeValues: { ':pk': partition },
    });
    return items.map(messageFromItem);
  }

  async listMailboxes(): Promise<MailboxSummary[]> {
    const items = await this.#table.queryAll({
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
    const item = await this.#table.getItem(MAILBOXES_PK, sk);
    return item === undefined ? null : summaryFromItem(item);
  }

  listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    return this.#runs.listRuns(mailboxId, limit);
  }

  archivedPerDay(mailboxId: string, sinceDay: string): Promise<DayCount[]> {
    return archivedPerDay(this.#table, mailboxId, sinceDay);
  }
}
