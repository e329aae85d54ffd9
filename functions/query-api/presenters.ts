/**
 * Archive records as the API answers them. Each presenter returns its response schema's type
 * (schemas/), so the compiler holds what is sent to what is documented: a field missing from either
 * side, or one the schema does not declare, does not build.
 */
import type { z } from '@hono/zod-openapi';
import type { MailboxSummary, MessageRecord, RunRecord } from '../core/archive/ports.js';
import {
  type SearchHit,
  SNIPPET_MARK_END,
  SNIPPET_MARK_START,
} from '../core/search/search-ports.js';
import { encodeMessageRef } from './params.js';
import type { Mailbox } from './schemas/mailbox-schemas.js';
import {
  LIST_ITEM_MAX_FROM,
  type MessageDetail,
  type MessageListItem,
} from './schemas/message-schemas.js';
import type { Run } from './schemas/run-schemas.js';
import type { ExcerptPart, SearchHit as SearchHitSchema } from './schemas/search-schemas.js';

export function mailboxItem(summary: MailboxSummary): z.output<typeof Mailbox> {
  const run = summary.lastRun;
  return {
    mailboxId: summary.mailboxId,
    messages: summary.messages,
    octets: summary.octets,
    lastRun: run
      ? {
          runId: run.runId,
          outcome: run.outcome,
          endedAt: run.endedAt,
          errorCode: run.errorCode,
          errorMessage: run.errorMessage,
        }
      : null,
    lastSuccessAt: summary.lastSuccessAt,
    // The latest run's error, so a mailbox that has started failing stands out in the list; null once
    // a run ends cleanly again (the run history keeps older errors).
    lastError:
      run !== null && run.errorCode !== null
        ? { code: run.errorCode, message: run.errorMessage, runId: run.runId, at: run.endedAt }
        : null,
  };
}

export function listItem(record: MessageRecord): z.output<typeof MessageListItem> {
  return {
    id: encodeMessageRef(record),
    mailboxId: record.mailboxId,
    messageKey: record.messageKey,
    messageId: record.messageId,
    subject: record.subject,
    from: record.from.slice(0, LIST_ITEM_MAX_FROM),
    date: record.date,
    archivedAt: record.archivedAt,
    snippet: record.snippet,
    octets: record.octets,
    attachmentCount: record.attachments.length,
    attachmentsTruncated: record.attachmentsTruncated,
    deletedFromServerAt: record.deletedFromServerAt,
  };
}

export function messageDetail(record: MessageRecord): z.output<typeof MessageDetail> {
  return {
    id: encodeMessageRef(record),
    mailboxId: record.mailboxId,
    messageKey: record.messageKey,
    uidl: record.uidl,
    messageId: record.messageId,
    subject: record.subject,
    from: record.from,
    to: record.to,
    cc: record.cc,
    addressesTruncated: record.addressesTruncated,
    date: record.date,
    dateHeader: record.dateHeader,
    snippet: record.snippet,
    octets: record.octets,
    sha256: record.sha256,
    archivedAt: record.archivedAt,
    runId: record.runId,
    deletedFromServerAt: record.deletedFromServerAt,
    parseError: record.parseError,
    parserVersion: record.parserVersion,
    attachments: record.attachments.map((attachment, index) => ({
      index,
      filename: attachment.filename,
      contentType: attachment.contentType,
      octets: attachment.octets,
      sha256: attachment.sha256,
    })),
    attachmentsTruncated: record.attachmentsTruncated,
  };
}

export function runItem(run: RunRecord): z.output<typeof Run> {
  return {
    mailboxId: run.mailboxId,
    runId: run.runId,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    outcome: run.outcome,
    counts: run.counts,
    stopReason: run.stopReason,
    errorCode: run.errorCode,
    errorMessage: run.errorMessage,
    failures: run.failures,
    session: run.session === null ? null : { ...run.session },
  };
}

/** A marked snippet as parts: the marks are control characters, no client should have to parse. */
export function excerptParts(snippet: string): z.output<typeof ExcerptPart>[] {
  const parts: z.output<typeof ExcerptPart>[] = [];
  let match = false;
  for (const piece of snippet.split(new RegExp(`([${SNIPPET_MARK_START}${SNIPPET_MARK_END}])`))) {
    if (piece === SNIPPET_MARK_START) match = true;
    else if (piece === SNIPPET_MARK_END) match = false;
    else if (piece !== '') parts.push({ text: piece, match });
  }
  return parts;
}

export function searchHitItem(hit: SearchHit): z.output<typeof SearchHitSchema> {
  return { ...listItem(hit.record), score: hit.rank, excerpt: excerptParts(hit.snippet) };
}
