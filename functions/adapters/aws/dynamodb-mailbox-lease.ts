/**
 * The mailbox lease in DynamoDB: one item per mailbox, taken by a conditional put (free, expired, or
 * already ours) and released by a conditional delete, so two runs never hold it together.
 */

import { DeleteCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { toArchiveError } from '../../core/archive/errors.js';
import { checkLeaseRequest } from '../../core/archive/lease-request.js';
import type { LeaseHolder, LeaseRequest, MailboxLease } from '../../core/archive/ports.js';
import { STORED_ITEM_VERSION } from '../../core/archive/record-decoder.js';
import { type DynamoTable, isConditionFailed } from './dynamodb-calls.js';
import { leaseFromItem } from './dynamodb-records.js';
import {
  checkKeySize,
  ENTITY,
  type Entity,
  fitsKey,
  ITEM_VERSION,
  LEASE_SK,
  mailboxPk,
  PK,
  SK,
  TTL_ATTRIBUTE,
} from './dynamodb-table.js';

export class DynamoMailboxLease implements MailboxLease {
  readonly #table: DynamoTable;

  constructor(table: DynamoTable) {
    this.#table = table;
  }

  async acquireLease(request: LeaseRequest): Promise<boolean> {
    checkLeaseRequest(request);
    const pk = mailboxPk(request.mailboxId);
    checkKeySize(PK, pk);
    const expiresAt = request.now + request.ttlMs;
    try {
      await this.#table.doc.send(
        new PutCommand({
          TableName: this.#table.name,
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
      throw toArchiveError(error, this.#table.op('PutItem'));
    }
  }

  async leaseHolder(mailboxId: string): Promise<LeaseHolder | null> {
    const pk = mailboxPk(mailboxId);
    if (!fitsKey(PK, pk)) return null;
    const item = await this.#table.getItem(pk, LEASE_SK);
    return item === undefined ? null : leaseFromItem(item);
  }

  async releaseLease(mailboxId: string, owner: string): Promise<void> {
    const pk = mailboxPk(mailboxId);
    if (!fitsKey(PK, pk)) return;
    try {
      await this.#table.doc.send(
        new DeleteCommand({
          TableName: this.#table.name,
          Key: { [PK]: pk, [SK]: LEASE_SK },
          // Someone else's lease (ours expired and was taken over) is theirs to release.
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) return;
      throw toArchiveError(error, this.#table.op('DeleteItem'));
    }
  }
}
