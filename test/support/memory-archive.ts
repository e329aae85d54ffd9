/**
 * In-memory archive ports: a test double for the pull run's decision logic and the query API, where
 * the emulators would only add start-up time. It is held to the same contract suite as the real
 * adapters (test/archive/memory-archive.test.ts), so what a test learns from it holds for them too:
 * the same errors, orderings, cursors, validation and summary rules.
 */

import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ArchiveError, ChecksumMismatchError } from '../../functions/core/archive/errors.js';
import { checkLeaseRequest } from '../../functions/core/archive/lease-request.js';
import {
  datePage,
  encodeCursor,
  requirePageLimit,
} from '../../functions/core/archive/listing-cursor.js';
import type {
  DayCount,
  LeaseHolder,
  LeaseRequest,
  ListMessagesQuery,
  MailboxSummary,
  MessageIndex,
  MessagePage,
  MessageRecord,
  PutMessageResult,
  RawObjectRef,
  RawPutInput,
  RawStore,
  RunRecord,
} from '../../functions/core/archive/ports.js';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import {
  requireSortableIso,
  senderOf,
  sortDateOf,
} from '../../functions/core/archive/sort-date.js';
import { UNVERSIONED_PARSER } from '../../functions/core/message/parser-version.js';
import { sha256 } from './pop3-test-kit.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** UTF-8 byte order: what DynamoDB and SQLite's BINARY collation sort by (not UTF-16's). */
function binary(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class MemoryRawStore implements RawStore {
  readonly objects = new Map<string, Buffer>();
  puts = 0;

  async put(input: RawPutInput): Promise<RawObjectRef> {
    this.puts += 1;
    if (!SHA256_HEX.test(input.sha256)) {
      throw new ArchiveError('INVALID_ARGUMENT', 'sha256 must be 64 lower-case hex digits');
    }
    const data =
      input.source.kind === 'buffer' ? input.source.data : await readSpool(input.source.path);
    if (sha256(data) !== input.sha256 || data.length !== input.octets) {
      throw new ChecksumMismatchError(
        `the bytes are not the ones described (sha256 ${input.sha256}, ${input.octets} octets)`,
      );
    }
    const key = rawObjectKey(input.mailboxId, input.sha256);
    this.objects.set(key, Buffer.from(data));
    return { key, sha256: input.sha256, octets: data.length };
  }

  async get(key: string): Promise<Readable> {
    const data = this.objects.get(key);
    if (!data) throw new ArchiveError('NOT_FOUND', `no object ${key}`);
    return Readable.from([data]);
  }

  async has(key: string): Promise<boolean> {
    return this.objects.has(key);
  }
}

async function readSpool(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new ArchiveError('SOURCE_UNREADABLE', `cannot read the spooled message ${path}`, {
      cause: error,
    });
  }
}

type Listing = 'date' | 'sender';

interface Summary {
  messages: number;
  octets: number;
  lastRun: MailboxSummary['lastRun'];
  lastRunOrder: string | null;
  lastSuccessAt: string | null;
  lastSuccessOrder: string | null;
}

export class MemoryMessageIndex implements MessageIndex {
  readonly messages = new Map<string, MessageRecord>();
  /** One record per run, as the adapters keep it: a run put again replaces its record. */
  readonly runs: RunRecord[] = [];
  readonly leases = new Map<string, { owner: string; expiresAt: number }>();
  readonly #summaries = new Map<string, Summary>();

  #id(mailboxId: string, key: string): string {
    return JSON.stringify([mailboxId, key]);
  }

  #summary(mailboxId: string): Summary {
    let summary = this.#summaries.get(mailboxId);
    if (summary === undefined) {
      summary = {
        messages: 0,
        octets: 0,
        lastRun: null,
        lastRunOrder: null,
        lastSuccessAt: null,
        lastSuccessOrder: null,
      };
      this.#summaries.set(mailboxId, summary);
    }
    return summary;
  }

  async putMessage(record: MessageRecord): Promise<PutMessageResult> {
    // As the adapters do: a record whose listing date cannot be derived is refused before it is kept.
    sortDateOf(record);
    const id = this.#id(record.mailboxId, record.messageKey);
    const existing = this.messages.get(id);
    if (existing) return { created: false, existing: structuredClone(existing) };
    // As the adapters store it: a record without a parser version (older code) is unversioned.
    this.messages.set(id, {
      ...structuredClone(record),
      parserVersion: record.parserVersion ?? UNVERSIONED_PARSER,
    });
    const summary = this.#summary(record.mailboxId);
    summary.messages += 1;
    summary.octets += record.octets;
    return { created: true };
  }

  async getMessage(mailboxId: string, messageKey: string): Promise<MessageRecord | null> {
    return structuredClone(this.messages.get(this.#id(mailboxId, messageKey)) ?? null);
  }

  async getMessages(
    mailboxId: string,
    keys: readonly string[],
  ): Promise<Map<string, MessageRecord>> {
    const out = new Map<string, MessageRecord>();
    for (const key of keys) {
      const found = this.messages.get(this.#id(mailboxId, key));
      if (found) out.set(key, structuredClone(found));
    }
    return out;
  }

  async markDeleted(mailboxId: string, keys: readonly string[], at: string): Promise<void> {
    requireSortableIso('at', at);
    for (const key of keys) {
      const found = this.messages.get(this.#id(mailboxId, key));
      if (found) found.deletedFromServerAt = at;
    }
  }

  async listMessages(mailboxId: string, query: ListMessagesQuery): Promise<MessagePage> {
    return this.#list('date', mailboxId, '', query);
  }

  async listBySender(
    mailboxId: string,
    address: string,
    query: ListMessagesQuery,
  ): Promise<MessagePage> {
    return this.#list('sender', mailboxId, address.trim().toLowerCase(), query);
  }

  /** Newest first by (listing date, message key), from just past the cursor's position. */
  async #list(
    listing: Listing,
    mailboxId: string,
    partition: string,
    query: ListMessagesQuery,
  ): Promise<MessagePage> {
    const scope = { listing, mailboxId, partition };
    const { limit, low, high, after } = datePage(scope, query);
    const subject = query.subject === undefined ? '' : query.subject.toLowerCase();
    const rows = [...this.messages.values()]
      .filter((m) => m.mailboxId === mailboxId && (listing === 'date' || senderOf(m) === partition))
      .map((record) => ({ record, sortDate: sortDateOf(record) }))
      .filter(({ sortDate }) => sortDate >= low && sortDate <= high)
      .filter(
        ({ record, sortDate }) =>
          after === null ||
          sortDate < after.sortDate ||
          (sortDate === after.sortDate && binary(record.messageKey, after.messageKey) < 0),
      )
      .filter(
        ({ record }) =>
          (subject === '' || record.subject?.toLowerCase().includes(subject) === true) &&
          (query.hasAttachments === undefined ||
            record.attachments.length > 0 === query.hasAttachments),
      )
      .sort(
        (a, b) =>
          binary(b.sortDate, a.sortDate) || binary(b.record.messageKey, a.record.messageKey),
      );
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(({ record }) => structuredClone(record)),
      cursor:
        rows.length > limit && last !== undefined
          ? encodeCursor(scope, { sortDate: last.sortDate, messageKey: last.record.messageKey })
          : null,
    };
  }

  async findByMessageId(messageId: string): Promise<MessageRecord[]> {
    if (messageId === '') return [];
    return [...this.messages.values()]
      .filter((m) => m.messageId === messageId)
      .sort((a, b) => binary(a.mailboxId, b.mailboxId) || binary(a.messageKey, b.messageKey))
      .map((m) => structuredClone(m));
  }

  async acquireLease(request: LeaseRequest): Promise<boolean> {
    checkLeaseRequest(request);
    const held = this.leases.get(request.mailboxId);
    if (
      held &&
      held.owner !== request.owner &&
      held.owner !== request.takeOverFrom &&
      held.expiresAt >= request.now
    ) {
      return false;
    }
    this.leases.set(request.mailboxId, {
      owner: request.owner,
      expiresAt: request.now + request.ttlMs,
    });
    return true;
  }

  async leaseHolder(mailboxId: string): Promise<LeaseHolder | null> {
    const held = this.leases.get(mailboxId);
    return held === undefined ? null : { ...held };
  }

  async releaseLease(mailboxId: string, owner: string): Promise<void> {
    if (this.leases.get(mailboxId)?.owner === owner) this.leases.delete(mailboxId);
  }

  async putRun(run: RunRecord): Promise<void> {
    const startedOrder = requireSortableIso('startedAt', run.startedAt);
    const endedOrder = requireSortableIso('endedAt', run.endedAt);
    const at = this.runs.findIndex(
      (r) =>
        r.mailboxId === run.mailboxId &&
        r.runId === run.runId &&
        requireSortableIso('startedAt', r.startedAt) === startedOrder,
    );
    if (at === -1) this.runs.push(structuredClone(run));
    else this.runs[at] = structuredClone(run);
    const summary = this.#summary(run.mailboxId);
    // Only forward in time: a late writer of an older run leaves the newer one in place.
    if (summary.lastRunOrder === null || summary.lastRunOrder <= endedOrder) {
      summary.lastRunOrder = endedOrder;
      summary.lastRun = {
        runId: run.runId,
        outcome: run.outcome,
        endedAt: run.endedAt,
        errorCode: run.errorCode,
        errorMessage: run.errorMessage,
      };
    }
    const succeeded = run.outcome === 'success' || run.outcome === 'partial';
    if (
      succeeded &&
      (summary.lastSuccessOrder === null || summary.lastSuccessOrder <= endedOrder)
    ) {
      summary.lastSuccessOrder = endedOrder;
      summary.lastSuccessAt = run.endedAt;
    }
  }

  async listMailboxes(): Promise<MailboxSummary[]> {
    return [...this.#summaries.keys()]
      .sort(binary)
      .map((id) => this.#toSummary(id, this.#summaries.get(id) as Summary));
  }

  async archivedPerDay(mailboxId: string, sinceDay: string): Promise<DayCount[]> {
    const days = new Map<string, number>();
    for (const record of this.messages.values()) {
      const day = record.archivedAt.slice(0, 10);
      if (record.mailboxId === mailboxId && day >= sinceDay)
        days.set(day, (days.get(day) ?? 0) + 1);
    }
    return [...days].sort(([a], [b]) => binary(a, b)).map(([day, messages]) => ({ day, messages }));
  }

  async getMailbox(mailboxId: string): Promise<MailboxSummary | null> {
    const summary = this.#summaries.get(mailboxId);
    return summary === undefined ? null : this.#toSummary(mailboxId, summary);
  }

  #toSummary(mailboxId: string, summary: Summary): MailboxSummary {
    return {
      mailboxId,
      messages: summary.messages,
      octets: summary.octets,
      lastRun: summary.lastRun === null ? null : { ...summary.lastRun },
      lastSuccessAt: summary.lastSuccessAt,
    };
  }

  async listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    requirePageLimit(limit);
    return this.runs
      .filter((r) => r.mailboxId === mailboxId)
      .map((run) => ({ run, order: requireSortableIso('startedAt', run.startedAt) }))
      .sort((a, b) => binary(b.order, a.order) || binary(b.run.runId, a.run.runId))
      .slice(0, limit)
      .map(({ run }) => structuredClone(run));
  }
}
