/**
 * The invariant a chaos run must never break, checked against the server's own store (Pop3Lab's
 * `stored`, read from its files, never over POP3):
 * - every message that left the server is archived, with the exact bytes served, and indexed;
 * - no index record lacks its raw object, and each record's object holds the bytes it describes;
 * - no raw object is half-written: its content hashes to the SHA-256 in its key;
 * - no message is indexed twice.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import type { LabAccount, Pop3Lab } from '../support/pop3-lab.js';
import type { OpenedArchive } from './chaos-archive.js';

export interface MailboxLedger {
  mailboxId: string;
  account: LabAccount;
  /** Every message ever delivered to it, by its Message-ID, with the bytes the server serves for it. */
  expected: Map<string, Buffer>;
}

export interface MailboxState {
  violations: string[];
  onServer: number;
  /** Delivered messages with at least one index record. */
  archived: number;
  lost: string[];
  duplicated: string[];
}

const STORED_READ_ATTEMPTS = 50;
const STORED_READ_RETRY_MS = 20;
const MESSAGE_ID = /^Message-ID: <([^>\r\n]+)>/im;

export function messageIdOf(message: Buffer): string | null {
  return MESSAGE_ID.exec(message.subarray(0, 4096).toString('latin1'))?.[1] ?? null;
}

/** Not pop3-test-kit's: that module registers vitest hooks, and the chaos CLI runs outside vitest. */
async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads the server's store and notes what it now serves for each message it holds. */
export async function observeServer(lab: Pop3Lab, ledger: MailboxLedger): Promise<Set<string>> {
  const held = new Set<string>();
  for (const message of await storedNow(lab, ledger)) {
    const id = messageIdOf(message);
    if (id === null) continue;
    held.add(id);
    ledger.expected.set(id, message);
  }
  return held;
}

/**
 * A lab reads the server's files while the server may still be at work on them: a killed pull's
 * session ends on the server a little after the client died (Dovecot renames a file to set its
 * flags, or finishes an expunge after QUIT). A file gone between listing and reading means the
 * store changed under the read, so read it again; nothing signals when the server is done.
 */
async function storedNow(lab: Pop3Lab, ledger: MailboxLedger): Promise<Buffer[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await lab.stored(ledger.account);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= STORED_READ_ATTEMPTS)
        throw error;
      await delay(STORED_READ_RETRY_MS);
    }
  }
}

async function allRecords(archive: OpenedArchive, mailboxId: string): Promise<MessageRecord[]> {
  const records: MessageRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = await archive.index.listMessages(mailboxId, { limit: 100, cursor });
    records.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== null);
  return records;
}

export async function checkMailbox(
  lab: Pop3Lab,
  archive: OpenedArchive,
  ledger: MailboxLedger,
): Promise<MailboxState> {
  const violations: string[] = [];
  const held = await observeServer(lab, ledger);
  const records = await allRecords(archive, ledger.mailboxId);
  const contentHash = new Map<string, string | null>();
  const hashOf = async (key: string): Promise<string | null> => {
    if (!contentHash.has(key)) {
      try {
        contentHash.set(key, sha256(await collect(await archive.rawStore.get(key))));
      } catch {
        contentHash.set(key, null);
      }
    }
    return contentHash.get(key) ?? null;
  };
  for (const record of records) {
    const actual = await hashOf(record.rawKey);
    if (actual === null)
      violations.push(`record ${record.messageKey} lacks its raw object ${record.rawKey}`);
    else if (actual !== record.sha256)
      violations.push(
        `record ${record.messageKey} says sha256 ${record.sha256}, its raw object ${record.rawKey} holds ${actual}`,
      );
  }
  for (const key of await archive.rawKeys(ledger.mailboxId)) {
    const named = /([0-9a-f]{64})/.exec(key.split('/').pop() ?? '')?.[1];
    const actual = await hashOf(key);
    if (named === undefined || actual !== named)
      violations.push(`raw object ${key} is half-written or wrong: it hashes to ${actual}`);
  }
  const bySha = new Map<string, number>();
  for (const record of records) bySha.set(record.sha256, (bySha.get(record.sha256) ?? 0) + 1);
  const known = new Set<string>();
  const lost: string[] = [];
  const duplicated: string[] = [];
  let archived = 0;
  for (const [id, bytes] of ledger.expected) {
    const hash = sha256(bytes);
    known.add(hash);
    const count = bySha.get(hash) ?? 0;
    if (count > 0) archived += 1;
    if (count > 1) {
      duplicated.push(id);
      violations.push(`message <${id}> is indexed ${count} times`);
    }
    if (count === 0 && !held.has(id)) {
      lost.push(id);
      violations.push(`message <${id}> left the server but is not archived with the bytes served`);
    }
  }
  for (const record of records)
    if (!known.has(record.sha256))
      violations.push(
        `record ${record.messageKey} holds bytes (sha256 ${record.sha256}) the server never served`,
      );
  return { violations, onServer: held.size, archived, lost, duplicated };
}
