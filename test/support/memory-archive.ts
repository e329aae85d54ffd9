/**
 * In-memory archive ports: a test double for the pull run's decision logic, where the emulators would
 * only add start-up time. The adapters themselves are proven by the contract suite on the emulators,
 * and the pull run's invariants are also tested end to end on them.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ArchiveError, ChecksumMismatchError } from '../../functions/core/archive/errors.js';
import type {
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
import { UNVERSIONED_PARSER } from '../../functions/core/message/parser-version.js';
import { sha256 } from './pop3-test-kit.js';

export class MemoryRawStore implements RawStore {
  readonly objects = new Map<string, Buffer>();
  puts = 0;

  async put(input: RawPutInput): Promise<RawObjectRef> {
    this.puts += 1;
    const data =
      input.source.kind === 'buffer' ? input.source.data : await readFile(input.source.path);
    if (sha256(data) !== input.sha256) throw new ChecksumMismatchError('checksum mismatch');
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

export class MemoryMessageIndex implements MessageIndex {
  readonly messages = new Map<string, MessageRecord>();
  readonly runs: RunRecord[] = [];
  readonly leases = new Map<string, { owner: string; expiresAt: number }>();

  #id(mailboxId: string, key: string): string {
    return JSON.stringify([mailboxId, key]);
  }

  async putMessage(record: MessageRecord): Promise<PutMessageResult> {
    const id = this.#id(record.mailboxId, record.messageKey);
    const existing = this.messages.get(id);
    if (existing) return { created: false, existing: structuredClone(existing) };
    // As the adapters store it: a record without a parser version (older code) is unversioned.
    this.messages.set(id, {
      ...structuredClone(record),
      parserVersion: record.parserVersion ?? UNVERSIONED_PARSER,
    });
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
    for (const key of keys) {
      const found = this.messages.get(this.#id(mailboxId, key));
      if (found) found.deletedFromServerAt = at;
    }
  }

  async listMessages(mailboxId: string, query: ListMessagesQuery): Promise<MessagePage> {
    const items = [...this.messages.values()]
      .filter((m) => m.mailboxId === mailboxId)
      .sort((a, b) => (b.date ?? b.archivedAt).localeCompare(a.date ?? a.archivedAt))
      .slice(0, query.limit);
    return { items, cursor: null };
  }

  async findByMessageId(messageId: string): Promise<MessageRecord[]> {
    return [...this.messages.values()].filter((m) => m.messageId === messageId);
  }

  async listBySender(
    mailboxId: string,
    address: string,
    query: ListMessagesQuery,
  ): Promise<MessagePage> {
    const page = await this.listMessages(mailboxId, { ...query, limit: Number.MAX_SAFE_INTEGER });
    const items = page.items
      .filter((m) => m.from[0]?.address === address.toLowerCase())
      .slice(0, query.limit);
    return { items, cursor: null };
  }

  async acquireLease(request: LeaseRequest): Promise<boolean> {
    const held = this.leases.get(request.mailboxId);
    if (
      held &&
      held.owner !== request.owner &&
      held.owner !== request.takeOverFrom &&
      held.expiresAt > request.now
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
    this.runs.push(structuredClone(run));
  }

  async listMailboxes(): Promise<MailboxSummary[]> {
    const ids = new Set(
      [...this.messages.values()].map((m) => m.mailboxId).concat(this.runs.map((r) => r.mailboxId)),
    );
    return Promise.all(
      [...ids].sort().map(async (id) => (await this.getMailbox(id)) as MailboxSummary),
    );
  }

  async getMailbox(mailboxId: string): Promise<MailboxSummary | null> {
    const records = [...this.messages.values()].filter((m) => m.mailboxId === mailboxId);
    const runs = this.runs.filter((r) => r.mailboxId === mailboxId);
    if (records.length === 0 && runs.length === 0) return null;
    const last = runs[runs.length - 1];
    const lastSuccess = runs
      .filter((r) => r.outcome === 'success' || r.outcome === 'partial')
      .pop();
    return {
      mailboxId,
      messages: records.length,
      octets: records.reduce((sum, r) => sum + r.octets, 0),
      lastRun: last
        ? {
            runId: last.runId,
            outcome: last.outcome,
            endedAt: last.endedAt,
            errorCode: last.errorCode,
            errorMessage: last.errorMessage,
          }
        : null,
      lastSuccessAt: lastSuccess?.endedAt ?? null,
    };
  }

  async listRuns(mailboxId: string, limit: number): Promise<RunRecord[]> {
    return this.runs
      .filter((r) => r.mailboxId === mailboxId)
      .reverse()
      .slice(0, limit);
  }
}
