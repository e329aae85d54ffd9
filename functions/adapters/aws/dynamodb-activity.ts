/**
 * Messages archived per day, for the viewer's chart: one small counter item per mailbox and UTC day
 * (`pk = MBX#<mailbox>`, `sk = DAY#YYYY-MM-DD`), incremented in the same transaction that creates a
 * record, so it counts exactly the records created (a refused duplicate cancels it with the put).
 * Reading a month is one Query of at most 31 items. An item of its own rather than an attribute of
 * the summary item: the summary is rewritten with every message, and each day added to it would
 * make every one of those writes cost more.
 */
import type { TransactWriteCommandInput } from '@aws-sdk/lib-dynamodb';
import type { DayCount, MessageRecord } from '../../core/archive/ports.js';
import { STORED_ITEM_VERSION } from '../../core/archive/record-decoder.js';
import type { DynamoTable } from './dynamodb-calls.js';
import { ENTITY, type Entity, fitsKey, ITEM_VERSION, mailboxPk, PK, SK } from './dynamodb-table.js';

export const DAY_PREFIX = 'DAY#';
const DAY = /^\d{4}-\d{2}-\d{2}$/;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** The counter update that goes into a record's creating transaction. */
export function dayCounterUpdate(tableName: string, record: MessageRecord): TransactItem {
  return {
    Update: {
      TableName: tableName,
      Key: {
        [PK]: mailboxPk(record.mailboxId),
        [SK]: `${DAY_PREFIX}${record.archivedAt.slice(0, 10)}`,
      },
      UpdateExpression: 'SET #entity = :entity, #version = :version ADD #messages :one',
      ExpressionAttributeNames: {
        '#entity': ENTITY,
        '#version': ITEM_VERSION,
        '#messages': 'messages',
      },
      ExpressionAttributeValues: {
        ':entity': 'day' satisfies Entity,
        ':version': STORED_ITEM_VERSION,
        ':one': 1,
      },
    },
  };
}

export async function archivedPerDay(
  table: DynamoTable,
  mailboxId: string,
  sinceDay: string,
): Promise<DayCount[]> {
  const pk = mailboxPk(mailboxId);
  if (!fitsKey(PK, pk)) return [];
  const items = await table.queryAll({
    KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
    ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
    // '~' sorts after every digit: the last day there is.
    ExpressionAttributeValues: {
      ':pk': pk,
      ':from': `${DAY_PREFIX}${sinceDay}`,
      ':to': `${DAY_PREFIX}~`,
    },
    ConsistentRead: true,
  });
  return items.flatMap((item) => {
    const day = String(item[SK]).slice(DAY_PREFIX.length);
    const messages = item.messages;
    return DAY.test(day) && typeof messages === 'number' ? [{ day, messages }] : [];
  });
}
