/**
 * Run records in DynamoDB, and the mailbox summary's last run and last success, which conditional
 * updates only ever move forward in time.
 */
import { PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { toArchiveError } from '../../core/archive/errors.js';
import { requirePageLimit } from '../../core/archive/listing-cursor.js';
import type { MailboxSummary, RunLog, RunRecord } from '../../core/archive/ports.js';
import { STORED_ITEM_VERSION } from '../../core/archive/record-decoder.js';
import { requireSortableIso } from '../../core/archive/sort-date.js';
import { type DynamoTable, isConditionFailed } from './dynamodb-calls.js';
import { runFromItem } from './dynamodb-records.js';
import {
  checkKeySize,
  ENTITY,
  type Entity,
  fitsKey,
  ITEM_VERSION,
  mailboxPk,
  mailboxSummaryKey,
  PK,
  RUN_PREFIX,
  runSk,
  SK,
} from './dynamodb-table.js';

export class DynamoRunLog implements RunLog {
  readonly #table: DynamoTable;

  constructor(table: DynamoTable) {
    this.#table = table;
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
      await this.#table.doc.send(
        new PutCommand({
          TableName: this.#table.name,
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
      throw toArchiveError(error, this.#table.op('PutItem'));
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
      await this.#table.doc.send(
        new UpdateCommand({
          TableName: this.#table.name,
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
      throw toArchiveError(error, this.#table.op('UpdateItem'));
    }
  }

  async listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    requirePageLimit(limit);
    const pk = mailboxPk(mailboxId);
    if (!fitsKey(PK, pk)) return [];
    try {
      const out = await this.#table.doc.send(
        new QueryCommand({
          TableName: this.#table.name,
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
      throw toArchiveError(error, this.#table.op('Query'));
    }
  }
}
