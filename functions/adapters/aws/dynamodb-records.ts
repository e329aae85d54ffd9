/**
 * Where DynamoDB items become records: each read goes through one of these, which checks the item's
 * version and shape once (core/archive/record-decoder.ts) and names the item's key when it fails.
 */

import type {
  LeaseHolder,
  MailboxSummary,
  MessageRecord,
  RunRecord,
} from '../../core/archive/ports.js';
import {
  decodeLease,
  decodeMessage,
  decodeRun,
  decodeSummary,
  FieldReader,
} from '../../core/archive/record-decoder.js';
import { ITEM_VERSION, PK, SK } from './dynamodb-table.js';

export type Item = Record<string, unknown>;

function readerOf(item: Item): FieldReader {
  const reader = new FieldReader(item, `dynamodb ${String(item[PK])} / ${String(item[SK])}`);
  reader.version(ITEM_VERSION);
  return reader;
}

export function messageFromItem(item: Item): MessageRecord {
  return decodeMessage(readerOf(item));
}

export function runFromItem(item: Item): RunRecord {
  return decodeRun(readerOf(item));
}

export function leaseFromItem(item: Item): LeaseHolder {
  return decodeLease(readerOf(item));
}

export function summaryFromItem(item: Item): MailboxSummary {
  return decodeSummary(readerOf(item));
}
