/**
 * The archive the query app tests share: real messages (plain, multipart with attachments, hostile
 * names, active content, a 3 MiB attachment) and two runs, seeded through the ports, with an index and
 * a store that record what the app asked of them.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { expect } from 'vitest';
import type {
  ListMessagesQuery,
  MessagePage,
  MessageRecord,
} from '../../functions/core/archive/ports.js';
import { createQueryApp, type QueryAppDeps } from '../../functions/query-api/create-query-app.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { base64Lines, fixture, mimeMessage, seed, seedWorkRuns } from './query-api-kit.js';

/** Records what the app asked the index, and which reads it made. */
class RecordingIndex extends MemoryMessageIndex {
  readonly listQueries: Array<{ kind: 'date' | 'sender'; address?: string } & ListMessagesQuery> =
    [];
  override async listMessages(mailboxId: string, query: ListMessagesQuery): Promise<MessagePage> {
    this.listQueries.push({ kind: 'date', ...query });
    return super.listMessages(mailboxId, query);
  }
  override async listBySender(
    mailboxId: string,
    address: string,
    query: ListMessagesQuery,
  ): Promise<MessagePage> {
    this.listQueries.push({ kind: 'sender', address, ...query });
    return super.listBySender(mailboxId, address, query);
  }
}

class CountingStore extends MemoryRawStore {
  gets = 0;
  override async get(key: string): Promise<Readable> {
    this.gets += 1;
    return super.get(key);
  }
}

export const BIG_ATTACHMENT = randomBytes(3 * 1024 * 1024 + 17);
const LATIN1_CSV = Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x3b, 0x31, 0x0a]); // "café;1\n" in ISO-8859-1
const HTML_ATTACHMENT = Buffer.from('<script>alert(document.cookie)</script>');

function activeMessage(): Buffer {
  const part = (type: string, disposition: string, data: Buffer) => ({
    headers: `Content-Type: ${type}\r\nContent-Disposition: ${disposition}\r\nContent-Transfer-Encoding: base64`,
    body: base64Lines(data),
  });
  return mimeMessage({
    subject: 'Active "content" / tricks',
    date: 'Mon, 20 May 2024 08:00:00 +0000',
    from: 'mallory@example.com',
    messageId: '<active-1@example.com>',
    parts: [
      part('text/html', 'attachment; filename="page.html"', HTML_ATTACHMENT),
      part('image/svg+xml', 'attachment; filename="logo.svg"', Buffer.from('<svg onload="x()"/>')),
      part('application/javascript', 'attachment; filename="app.js"', Buffer.from('alert(1)')),
      part(
        'application/pdf',
        `attachment; filename*=utf-8''na%C3%AFve%20%22r%C3%A9sum%C3%A9%22%3B%20x%25.pdf`,
        Buffer.from('%PDF-1.4 tiny'),
      ),
      part('text/csv; charset=iso-8859-1', 'attachment; filename="prices.csv"', LATIN1_CSV),
    ],
  });
}

function bigMessage(): Buffer {
  return mimeMessage({
    subject: 'Big',
    date: 'Tue, 21 May 2024 08:00:00 +0000',
    parts: [
      {
        headers:
          'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="blob.bin"\r\nContent-Transfer-Encoding: base64',
        body: base64Lines(BIG_ATTACHMENT),
      },
    ],
  });
}

/** The filename and filename* of an RFC 6266 Content-Disposition as this API writes it. */
export function dispositionNames(header: string | null): { ascii: string; utf8: string } {
  const match =
    /^attachment; filename="([\x20-\x7e]*)"; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+)$/.exec(
      header ?? '',
    );
  expect(match, `Content-Disposition ${header}`).not.toBeNull();
  return { ascii: match?.[1] ?? '', utf8: decodeURIComponent(match?.[2] ?? '') };
}

export async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

/** Reads a body that is expected to fail: how many octets arrived before it did. */
export async function octetsBeforeFailure(res: Response): Promise<number> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let received = 0;
  for (;;) {
    const chunk = await reader.read().catch(() => null);
    if (chunk === null) return received;
    if (chunk.done) throw new Error(`the body ended normally after ${received} octets`);
    received += chunk.value.length;
  }
}

export const archive = { index: new RecordingIndex(), store: new CountingStore() };
export const records: Record<string, MessageRecord> = {};

export function appWith(overrides: Partial<QueryAppDeps> = {}) {
  return createQueryApp({ index: archive.index, store: archive.store, ...overrides });
}

export const app = appWith();
export const idOf = (name: string) => encodeMessageRef(records[name] as MessageRecord);

/** Seeds `archive` and fills `records`; once per test file. */
export async function seedQueryAppArchive(): Promise<void> {
  const work = (messageKey: string, raw: Buffer) =>
    seed(archive, { mailboxId: 'work', messageKey, raw });
  records.invoice = await work('uidl-invoice', fixture('multipart-alternative-attachments.eml'));
  records.lunch = await work('uidl-lunch', fixture('plain-text.eml'));
  records.hostile = await work('uidl-hostile', fixture('hostile-filename.eml'));
  records.nested = await work('uidl-nested', fixture('nested-rfc822.eml'));
  records.encoded = await work('uidl-encoded', fixture('encoded-words.eml'));
  records.active = await work('uidl-active', activeMessage());
  records.big = await work('uidl-big', bigMessage());
  // The same message archived from a second mailbox, under a key with characters URLs dislike.
  records.copy = await seed(archive, {
    mailboxId: 'home',
    messageKey: 'a/../b "q" %2F ü#sha256:00',
    raw: fixture('multipart-alternative-attachments.eml'),
  });
  await seedWorkRuns(archive.index);
}
