/**
 * The archive index's single DynamoDB table. One partition per mailbox (`MBX#<mailboxId>`) holds its
 * messages, run records and lease, so a mailbox's whole state is one Query away, and three sparse
 * global secondary indexes answer the query API: by date, by Message-ID (across mailboxes), by sender.
 *
 *   item     PK                 SK                          GSI1PK / GSI1SK           GSI2PK / GSI2SK                 GSI3PK / GSI3SK
 *   message  MBX#<mailboxId>    MSG#<messageKey>            MBX#<mailboxId>           MID#<messageId>                 FROM#<b64url mailboxId>#<from>
 *                                                           <sortDate>#<messageKey>   <mailboxId>#<messageKey>        <sortDate>#<messageKey>
 *   run      MBX#<mailboxId>    RUN#<startedAt>#<runId>
 *   lease    MBX#<mailboxId>    LEASE                       (owner, expiresAt epoch ms, ttl epoch s)
 *   mailbox  MAILBOXES          MBX#<mailboxId>             (messages, octets, lastRun, lastSuccessAt,
 *                                                            and their end times as UTC ISO strings)
 *
 * The mailbox summaries share one partition, so listing mailboxes is one Query and never a Scan. A
 * user has a handful of mailboxes, not thousands, so the partition stays tiny; and every message put
 * (of any mailbox) adds to it, which caps the whole table at the ~500 message puts a second that one
 * partition's 1,000 WCU allow for transactional writes: far beyond what a POP3 puller reaches.
 * Message items also carry `subjectLower` and `attachmentCount`, derived from the record, for the
 * listing filters (DynamoDB's `contains` is case-sensitive).
 *
 * Every item also carries `itemVersion`, the layout version it was written in (see ITEM_VERSION).
 *
 * Keys are the ids as they are (no encoding): DynamoDB keys are opaque strings, so "/", "..", "%" and
 * "#" are all harmless in them. Where two free-form values share one key (GSI3PK) the mailbox id is
 * base64url-encoded, so no two (mailbox, address) pairs can spell the same key; queries still filter
 * on the mailbox as a second guard.
 */

import type {
  CreateTableCommandInput,
  UpdateTimeToLiveCommandInput,
} from '@aws-sdk/client-dynamodb';
import { KeyTooLargeError } from '../../core/archive/errors.js';
import type { MessageRecord } from '../../core/archive/ports.js';
import { encodeKeySegment } from '../../core/archive/raw-object-key.js';
import { requireSortableIso, senderOf, sortDateOf } from '../../core/archive/sort-date.js';

export const PK = 'PK';
export const SK = 'SK';
export const GSI1PK = 'GSI1PK';
export const GSI1SK = 'GSI1SK';
export const GSI2PK = 'GSI2PK';
export const GSI2SK = 'GSI2SK';
export const GSI3PK = 'GSI3PK';
export const GSI3SK = 'GSI3SK';
/** Distinguishes messages, runs and the lease when someone reads the table by hand or exports it. */
export const ENTITY = 'entity';
/**
 * The layout version of the item (STORED_ITEM_VERSION), on every item: readers take an item without
 * one as version 1 and refuse a newer one (core/archive/record-decoder.ts).
 */
export const ITEM_VERSION = 'itemVersion';
/** Epoch seconds; DynamoDB's TTL deletes the lease item some time after this (within days). */
export const TTL_ATTRIBUTE = 'ttl';

/** Derived from the record for listing filters; a record read back is decoded without them. */
export const SUBJECT_LOWER = 'subjectLower';
export const ATTACHMENT_COUNT = 'attachmentCount';

export const BY_DATE_INDEX = 'GSI1';
export const BY_MESSAGE_ID_INDEX = 'GSI2';
export const BY_SENDER_INDEX = 'GSI3';

export const MAILBOX_PREFIX = 'MBX#';
export const MESSAGE_PREFIX = 'MSG#';
export const RUN_PREFIX = 'RUN#';
export const MESSAGE_ID_PREFIX = 'MID#';
export const SENDER_PREFIX = 'FROM#';
export const LEASE_SK = 'LEASE';
export const MAILBOXES_PK = 'MAILBOXES';

// DynamoDB's limits on key attribute values (UTF-8 bytes), for the table and for every GSI key:
// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
export const PARTITION_KEY_MAX_OCTETS = 2048;
export const SORT_KEY_MAX_OCTETS = 1024;

export type Entity = 'message' | 'run' | 'lease' | 'mailbox' | 'day';

const PARTITION_KEYS: ReadonlySet<string> = new Set([PK, GSI1PK, GSI2PK, GSI3PK]);

/** Throws KEY_TOO_LARGE when `value` cannot be the key attribute `attribute`. */
export function checkKeySize(attribute: string, value: string): void {
  const limit = PARTITION_KEYS.has(attribute) ? PARTITION_KEY_MAX_OCTETS : SORT_KEY_MAX_OCTETS;
  const octets = Buffer.byteLength(value, 'utf8');
  if (octets > limit) throw new KeyTooLargeError(attribute, octets, limit);
}

/** Whether `value` fits the key attribute; lookups of keys that cannot exist just find nothing. */
export function fitsKey(attribute: string, value: string): boolean {
  const limit = PARTITION_KEYS.has(attribute) ? PARTITION_KEY_MAX_OCTETS : SORT_KEY_MAX_OCTETS;
  return Buffer.byteLength(value, 'utf8') <= limit;
}

export function mailboxPk(mailboxId: string): string {
  return `${MAILBOX_PREFIX}${mailboxId}`;
}

export function messageSk(messageKey: string): string {
  return `${MESSAGE_PREFIX}${messageKey}`;
}

export function senderPk(mailboxId: string, address: string): string {
  // base64url has no "#", so the split between mailbox and address is unambiguous.
  return `${SENDER_PREFIX}${encodeKeySegment(mailboxId)}#${address}`;
}

export function messageIdPk(messageId: string): string {
  return `${MESSAGE_ID_PREFIX}${messageId}`;
}

export function dateSk(sortDate: string, messageKey: string): string {
  return `${sortDate}#${messageKey}`;
}

/**
 * Every key attribute of a message item. Throws KEY_TOO_LARGE rather than let DynamoDB reject the
 * item with a ValidationException that names no attribute.
 */
export function messageKeys(record: MessageRecord): Record<string, string> {
  const sortDate = sortDateOf(record);
  const keys: Record<string, string> = {
    [PK]: mailboxPk(record.mailboxId),
    [SK]: messageSk(record.messageKey),
    [GSI1PK]: mailboxPk(record.mailboxId),
    [GSI1SK]: dateSk(sortDate, record.messageKey),
  };
  // GSI key attributes may not be empty strings; an absent attribute keeps the item out of the index.
  if (record.messageId !== null && record.messageId !== '') {
    keys[GSI2PK] = messageIdPk(record.messageId);
    keys[GSI2SK] = `${record.mailboxId}#${record.messageKey}`;
  }
  const sender = senderOf(record);
  if (sender !== null) {
    keys[GSI3PK] = senderPk(record.mailboxId, sender);
    keys[GSI3SK] = dateSk(sortDate, record.messageKey);
  }
  for (const [attribute, value] of Object.entries(keys)) checkKeySize(attribute, value);
  return keys;
}

/**
 * What the listing filters read: the subject lower-cased (absent without a subject, so no substring
 * matches it) and how many attachments the parser listed.
 */
export function messageFilterAttributes(record: MessageRecord): Record<string, string | number> {
  const attributes: Record<string, string | number> = {
    [ATTACHMENT_COUNT]: record.attachments.length,
  };
  if (record.subject !== null) attributes[SUBJECT_LOWER] = record.subject.toLowerCase();
  return attributes;
}

/** The mailbox's summary item; throws KEY_TOO_LARGE for an id too long to be a sort key. */
export function mailboxSummaryKey(mailboxId: string): Record<string, string> {
  const key = { [PK]: MAILBOXES_PK, [SK]: mailboxPk(mailboxId) };
  checkKeySize(SK, key[SK]);
  return key;
}

export function runSk(startedAt: string, runId: string): string {
  return `${RUN_PREFIX}${requireSortableIso('startedAt', startedAt)}#${runId}`;
}

/** The table as tests create it and as the CDK stack must declare it (on-demand, string keys). */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const stringAttribute = (name: string) => ({ AttributeName: name, AttributeType: 'S' as const });
  // Records are bounded and every query returns whole records, so projecting ALL saves the second
  // round trip a KEYS_ONLY index would need for each page.
  const index = (name: string, pk: string, sk: string) => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: pk, KeyType: 'HASH' as const },
      { AttributeName: sk, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK].map(
      stringAttribute,
    ),
    KeySchema: [
      { AttributeName: PK, KeyType: 'HASH' },
      { AttributeName: SK, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      index(BY_DATE_INDEX, GSI1PK, GSI1SK),
      index(BY_MESSAGE_ID_INDEX, GSI2PK, GSI2SK),
      index(BY_SENDER_INDEX, GSI3PK, GSI3SK),
    ],
  };
}

/** TTL is a separate call after CreateTable (CDK: `timeToLiveAttribute: TTL_ATTRIBUTE`). */
export function timeToLiveInput(tableName: string): UpdateTimeToLiveCommandInput {
  return {
    TableName: tableName,
    TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
  };
}
