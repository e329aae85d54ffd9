/**
 * Where SQLite rows become records and records rows. Columns hold scalars, JSON columns hold lists;
 * a read parses them and hands the values to the one decoder (core/archive/record-decoder.ts), so a
 * damaged row fails as STORE_CORRUPT naming its key and column, not later as a TypeError.
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
import { senderOf, sortDateOf } from '../../core/archive/sort-date.js';
import { UNVERSIONED_PARSER } from '../../core/message/parser-version.js';

export interface MessageRow {
  mailbox_id: string;
  message_key: string;
  sort_date: string;
  sender: string | null;
  subject_lower: string | null;
  attachment_count: number;
  message_id: string | null;
  from_json: string;
  to_json: string;
  cc_json: string;
  addresses_truncated: number;
  subject: string | null;
  date_header: string | null;
  date: string | null;
  attachments_json: string;
  attachments_truncated: number;
  snippet: string;
  parse_error: string | null;
  parser_version: number;
  text_truncated: number;
  uidl: string | null;
  octets: number;
  sha256: string;
  raw_key: string;
  archived_at: string;
  run_id: string;
  deleted_from_server_at: string | null;
}

export interface RunRow {
  mailbox_id: string;
  started_order: string;
  run_id: string;
  started_at: string;
  ended_at: string;
  outcome: string;
  counts_json: string;
  stop_reason: string | null;
  error_code: string | null;
  error_message: string | null;
  failures_json: string;
  session_json: string | null;
}

export interface MailboxRow {
  mailbox_id: string;
  messages: number;
  octets: number;
  last_run_id: string | null;
  last_run_outcome: string | null;
  last_run_ended_at: string | null;
  last_run_error_code: string | null;
  last_run_error_message: string | null;
  last_success_at: string | null;
}

export function toRow(record: MessageRecord): MessageRow {
  return {
    mailbox_id: record.mailboxId,
    message_key: record.messageKey,
    sort_date: sortDateOf(record),
    sender: senderOf(record),
    subject_lower: record.subject === null ? null : record.subject.toLowerCase(),
    attachment_count: record.attachments.length,
    message_id: record.messageId,
    from_json: JSON.stringify(record.from),
    to_json: JSON.stringify(record.to),
    cc_json: JSON.stringify(record.cc),
    addresses_truncated: record.addressesTruncated ? 1 : 0,
    subject: record.subject,
    date_header: record.dateHeader,
    date: record.date,
    attachments_json: JSON.stringify(record.attachments),
    attachments_truncated: record.attachmentsTruncated ? 1 : 0,
    snippet: record.snippet,
    parse_error: record.parseError,
    // A record from code that predates parser versions has none: it is stored as unversioned.
    parser_version: record.parserVersion ?? UNVERSIONED_PARSER,
    text_truncated: record.textTruncated ? 1 : 0,
    uidl: record.uidl,
    octets: record.octets,
    sha256: record.sha256,
    raw_key: record.rawKey,
    archived_at: record.archivedAt,
    run_id: record.runId,
    deleted_from_server_at: record.deletedFromServerAt,
  };
}

function readerOf(table: string, key: string, values: Record<string, unknown>): FieldReader {
  return new FieldReader(values, `sqlite ${table} ${key}`);
}

/** A JSON column's value; text that does not parse is a damaged row, named by its key and column. */
function json(table: string, key: string, column: string, text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return readerOf(table, key, {}).fail(column, 'is not JSON');
  }
}

/** 0 or 1, as SQLite stores booleans; anything else is left for the decoder to refuse. */
function flag(value: number): boolean | number {
  return value === 0 || value === 1 ? value === 1 : value;
}

export function messageFromRow(row: MessageRow): MessageRecord {
  const key = JSON.stringify([row.mailbox_id, row.message_key]);
  const list = (column: keyof MessageRow) => json('messages', key, column, row[column] as string);
  return decodeMessage(
    readerOf('messages', key, {
      messageId: row.message_id,
      from: list('from_json'),
      to: list('to_json'),
      cc: list('cc_json'),
      addressesTruncated: flag(row.addresses_truncated),
      subject: row.subject,
      dateHeader: row.date_header,
      date: row.date,
      attachments: list('attachments_json'),
      attachmentsTruncated: flag(row.attachments_truncated),
      snippet: row.snippet,
      parseError: row.parse_error,
      parserVersion: row.parser_version,
      textTruncated: flag(row.text_truncated),
      mailboxId: row.mailbox_id,
      messageKey: row.message_key,
      uidl: row.uidl,
      octets: row.octets,
      sha256: row.sha256,
      rawKey: row.raw_key,
      archivedAt: row.archived_at,
      runId: row.run_id,
      deletedFromServerAt: row.deleted_from_server_at,
    }),
  );
}

export function runFromRow(row: RunRow): RunRecord {
  const key = JSON.stringify([row.mailbox_id, row.started_order, row.run_id]);
  return decodeRun(
    readerOf('runs', key, {
      mailboxId: row.mailbox_id,
      runId: row.run_id,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      outcome: row.outcome,
      counts: json('runs', key, 'counts_json', row.counts_json),
      stopReason: row.stop_reason,
      errorCode: row.error_code,
      errorMessage: row.error_message,
      failures: json('runs', key, 'failures_json', row.failures_json),
      // Runs from before RunSession have no session column value: "no session recorded".
      session: json('runs', key, 'session_json', row.session_json),
    }),
  );
}

export function summaryFromRow(row: MailboxRow): MailboxSummary {
  return decodeSummary(
    readerOf('mailboxes', JSON.stringify([row.mailbox_id]), {
      mailboxId: row.mailbox_id,
      messages: row.messages,
      octets: row.octets,
      lastRun:
        row.last_run_id === null
          ? null
          : {
              runId: row.last_run_id,
              outcome: row.last_run_outcome,
              endedAt: row.last_run_ended_at,
              errorCode: row.last_run_error_code,
              errorMessage: row.last_run_error_message,
            },
      lastSuccessAt: row.last_success_at,
    }),
  );
}

export function leaseFromRow(row: {
  mailbox_id: string;
  owner: string;
  expires_at: number;
}): LeaseHolder {
  return decodeLease(
    readerOf('leases', JSON.stringify([row.mailbox_id]), {
      owner: row.owner,
      expiresAt: row.expires_at,
    }),
  );
}
