import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { ArchiveError, InvalidCursorError } from '../../functions/core/archive/errors.js';
import type {
  ListMessagesQuery,
  MessagePage,
  MessageRecord,
} from '../../functions/core/archive/ports.js';
import { MAX_FILENAME_LENGTH } from '../../functions/core/message/message-limits.js';
import {
  createQueryApp,
  isActiveContentType,
  type QueryAppDeps,
} from '../../functions/query-api/create-query-app.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import {
  base64Lines,
  errorOf,
  fixture,
  mimeMessage,
  RecordingLogger,
  run,
  seed,
  sha256,
} from './query-api-kit.js';

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

const BIG_ATTACHMENT = randomBytes(3 * 1024 * 1024 + 17);
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
function dispositionNames(header: string | null): { ascii: string; utf8: string } {
  const match =
    /^attachment; filename="([\x20-\x7e]*)"; filename\*=UTF-8''([A-Za-z0-9!#$&+\-.^_`|~%]+)$/.exec(
      header ?? '',
    );
  expect(match, `Content-Disposition ${header}`).not.toBeNull();
  return { ascii: match?.[1] ?? '', utf8: decodeURIComponent(match?.[2] ?? '') };
}

async function bytesOf(res: Response): Promise<Buffer> {
  return Buffer.from(await res.arrayBuffer());
}

/** Reads a body that is expected to fail: how many octets arrived before it did. */
async function octetsBeforeFailure(res: Response): Promise<number> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let received = 0;
  for (;;) {
    const chunk = await reader.read().catch(() => null);
    if (chunk === null) return received;
    if (chunk.done) throw new Error(`the body ended normally after ${received} octets`);
    received += chunk.value.length;
  }
}

const archive = { index: new RecordingIndex(), store: new CountingStore() };
const records: Record<string, MessageRecord> = {};

function appWith(overrides: Partial<QueryAppDeps> = {}) {
  return createQueryApp({ index: archive.index, store: archive.store, ...overrides });
}

const app = appWith();
const idOf = (name: string) => encodeMessageRef(records[name] as MessageRecord);

beforeAll(async () => {
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
  await archive.index.putRun(run('work', 'run-1'));
  await archive.index.putRun(
    run('work', 'run-2', {
      startedAt: '2024-06-01T11:00:00.000Z',
      endedAt: '2024-06-01T11:00:02.000Z',
      outcome: 'failed',
      errorCode: 'AUTH_FAILED',
      errorMessage: 'the server refused the password',
    }),
  );
});

describe('GET /mailboxes', () => {
  it('lists every mailbox with counts, bytes, last success and last error', async () => {
    const res = await app.request('/mailboxes');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { items: Array<Record<string, unknown>> };
    expect(body.items.map((m) => m.mailboxId)).toEqual(['home', 'work']);
    const work = body.items[1];
    expect(work).toMatchObject({
      mailboxId: 'work',
      messages: 7,
      lastSuccessAt: '2024-06-01T10:00:05.000Z',
      lastRun: { runId: 'run-2', outcome: 'failed', errorCode: 'AUTH_FAILED' },
      lastError: {
        code: 'AUTH_FAILED',
        message: 'the server refused the password',
        runId: 'run-2',
        at: '2024-06-01T11:00:02.000Z',
      },
    });
    const workOctets = Object.values(records)
      .filter((r) => r.mailboxId === 'work')
      .reduce((sum, r) => sum + r.octets, 0);
    expect(work?.octets).toBe(workOctets);
    expect(body.items[0]).toMatchObject({ messages: 1, lastRun: null, lastError: null });
  });
});

describe('GET /mailboxes/{id}/messages', () => {
  it('lists newest first, with ids that open each message', async () => {
    const res = await app.request('/mailboxes/work/messages');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as {
      items: Array<{ id: string; subject: string; date: string | null }>;
      nextCursor: string | null;
    };
    expect(body.items).toHaveLength(7);
    expect(body.nextCursor).toBeNull();
    const dates = body.items.map((m) => m.date ?? '');
    expect(dates).toEqual([...dates].sort().reverse());
    expect(body.items[0]?.subject).toBe('Big');
    for (const item of body.items) {
      const detail = await app.request(`/messages/${item.id}`);
      expect(detail.status).toBe(200);
      expect(((await detail.json()) as { subject: string }).subject).toBe(item.subject);
    }
  });

  it('passes filters to the index in its terms: UTC bounds, a lower-cased sender, the default limit', async () => {
    archive.index.listQueries.length = 0;
    const res = await app.request(
      '/mailboxes/work/messages?since=2024-05-14&until=2024-05-15&subject=Invoice&hasAttachments=true',
    );
    expect(res.status).toBe(200);
    expect(archive.index.listQueries).toEqual([
      {
        kind: 'date',
        since: '2024-05-14T00:00:00.000Z',
        until: '2024-05-15T23:59:59.999Z',
        subject: 'Invoice',
        hasAttachments: true,
        limit: 50,
        cursor: null,
      },
    ]);

    archive.index.listQueries.length = 0;
    // "+02:00" sent unencoded arrives as " 02:00", and is read as the "+" it was.
    const bySender = await app.request(
      '/mailboxes/work/messages?from=Alice@Example.ORG&since=2024-05-14T09:00:00+02:00&limit=200',
    );
    expect(bySender.status).toBe(200);
    // (The memory double's listBySender reads through its own listMessages: only the first is ours.)
    expect(archive.index.listQueries.slice(0, 1)).toEqual([
      {
        kind: 'sender',
        address: 'alice@example.org',
        since: '2024-05-14T07:00:00.000Z',
        limit: 200,
        cursor: null,
      },
    ]);
    const items = ((await bySender.json()) as { items: Array<{ subject: string }> }).items;
    expect(items.map((m) => m.subject)).toEqual(['Lunch on Thursday?']);
  });

  it.each([
    ['since=yesterday', 'INVALID_PARAMETER', /since "yesterday" is invalid/],
    ['since=2024-02-30', 'INVALID_PARAMETER', /no such day/],
    ['until=2023-02-29', 'INVALID_PARAMETER', /no such day/],
    ['since=2024-05-15T10:00:00', 'INVALID_PARAMETER', /with a zone/],
    ['since=2024-05-15T10:00:00 0200', 'INVALID_PARAMETER', /with a zone/],
    ['since=2024-05-15 10:00:00Z', 'INVALID_PARAMETER', /with a zone/],
    ['since=2024-05-15T24:00:00Z', 'INVALID_PARAMETER', /no such time/],
    ['since=2024-05-16&until=2024-05-15', 'INVALID_PARAMETER', /since is later than until/],
    ['limit=0', 'INVALID_PARAMETER', /limit "0" is invalid: an integer from 1 to 200/],
    ['limit=201', 'INVALID_PARAMETER', /limit "201"/],
    ['limit=abc', 'INVALID_PARAMETER', /limit "abc"/],
    ['limit=1.5', 'INVALID_PARAMETER', /limit "1.5"/],
    ['limit=-1', 'INVALID_PARAMETER', /limit "-1"/],
    ['limit=5&limit=6', 'INVALID_PARAMETER', /limit is given more than once/],
    ['hasAttachments=yes', 'INVALID_PARAMETER', /hasAttachments "yes" is invalid: true or false/],
    ['subject=', 'INVALID_PARAMETER', /subject "" is invalid/],
    ['subject=%07bell', 'INVALID_PARAMETER', /subject/],
    ['from=a%20b@example.com', 'INVALID_PARAMETER', /from "a b@example.com" is invalid/],
    ['from=', 'INVALID_PARAMETER', /from "" is invalid/],
    ['cursor=', 'INVALID_CURSOR', /invalid cursor/],
    [`cursor=${'A'.repeat(8193)}`, 'INVALID_CURSOR', /invalid cursor/],
    ['sinse=2024-01-01', 'UNKNOWN_PARAMETER', /unknown query parameter "sinse"/],
  ])('?%s is refused with %s', async (query, code, message) => {
    const res = await app.request(`/mailboxes/work/messages?${query}`);
    expect(res.status).toBe(400);
    const error = await errorOf(res);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
  });

  it('refuses a cursor the index rejects (tampered, or from another listing) with 400', async () => {
    class RejectingIndex extends MemoryMessageIndex {
      override async listMessages(): Promise<MessagePage> {
        throw new InvalidCursorError('invalid cursor: issued for another mailbox');
      }
    }
    const index = new RejectingIndex();
    await seed(
      { index, store: new MemoryRawStore() },
      {
        mailboxId: 'work',
        messageKey: 'k',
        raw: fixture('plain-text.eml'),
      },
    );
    const res = await createQueryApp({ index, store: new MemoryRawStore() }).request(
      '/mailboxes/work/messages?cursor=eyJ2IjoxfQ',
    );
    expect(res.status).toBe(400);
    expect(await errorOf(res)).toEqual({
      code: 'INVALID_CURSOR',
      message: 'invalid cursor: issued for another mailbox',
    });
  });

  it('answers 404 for a mailbox that does not exist and 400 for an id that cannot be one', async () => {
    const missing = await app.request('/mailboxes/nobody/messages');
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe('MAILBOX_NOT_FOUND');
    for (const bad of ['.hidden', '%2E%2E%2Fwork', 'a%20b', 'x'.repeat(65)]) {
      const res = await app.request(`/mailboxes/${bad}/messages`);
      expect(res.status, bad).toBe(400);
      expect((await errorOf(res)).code).toBe('INVALID_PARAMETER');
    }
  });
});

describe('GET /messages/{id}', () => {
  it('returns metadata, the attachment list in order and the snippet, not storage internals', async () => {
    const res = await app.request(`/messages/${idOf('invoice')}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as Record<string, unknown>;
    const invoice = records.invoice as MessageRecord;
    expect(body).toMatchObject({
      id: idOf('invoice'),
      mailboxId: 'work',
      messageKey: 'uidl-invoice',
      messageId: '<inv-2024-0042@shop.example>',
      subject: 'Your invoice 2024-0042',
      from: [{ address: 'billing@shop.example', name: 'Billing' }],
      date: '2024-05-15T16:03:11.000Z',
      snippet: invoice.snippet,
      sha256: invoice.sha256,
      attachments: invoice.attachments.map((a, index) => ({ index, ...a })),
    });
    expect(body.snippet).toMatch(/^Thank you for your order/);
    expect(body).not.toHaveProperty('rawKey');
  });

  it('opens a message whose key holds "/", "..", quotes, "%" and non-ASCII', async () => {
    const res = await app.request(`/messages/${idOf('copy')}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { messageKey: string }).messageKey).toBe(
      'a/../b "q" %2F ü#sha256:00',
    );
  });

  const b64 = (text: string) => Buffer.from(text).toString('base64url');
  it.each([
    ['not base64url', 'abc!def'],
    ['padding', `${b64('["work","uidl-lunch"]')}=`],
    ['non-canonical base64 (stray bits)', `${b64('["work","uidl-lunch"]').slice(0, -1)}B`],
    ['JSON that is not an array', b64('{"mailboxId":"work"}')],
    ['one element', b64('["work"]')],
    ['three elements', b64('["work","k","x"]')],
    ['a number', b64('["work",1]')],
    ['an empty key', b64('["work",""]')],
    ['a mailbox id that cannot exist', b64('["../work","k"]')],
    ['non-canonical JSON', b64('[ "work", "uidl-lunch" ]')],
    ['invalid UTF-8', Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]).toString('base64url')],
    ['too long', 'A'.repeat(5000)],
  ])('refuses an id with %s', async (_why, id) => {
    const res = await app.request(`/messages/${id}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('INVALID_MESSAGE_ID');
  });

  it('answers 404 for a well-formed id of no message', async () => {
    const res = await app.request(
      `/messages/${encodeMessageRef({ mailboxId: 'work', messageKey: 'gone' })}`,
    );
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('MESSAGE_NOT_FOUND');
  });
});

describe('GET /messages/{id}/raw', () => {
  it('streams the exact stored bytes as a download named after the subject', async () => {
    const res = await app.request(`/messages/${idOf('invoice')}/raw`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('message/rfc822');
    expect(res.headers.get('content-length')).toBe(String(records.invoice?.octets));
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(dispositionNames(res.headers.get('content-disposition'))).toEqual({
      ascii: 'Your invoice 2024-0042.eml',
      utf8: 'Your invoice 2024-0042.eml',
    });
    expect((await bytesOf(res)).equals(fixture('multipart-alternative-attachments.eml'))).toBe(
      true,
    );
  });

  it('names the download safely whatever the subject holds', async () => {
    const res = await app.request(`/messages/${idOf('active')}/raw`);
    // Sent as 'Active "content" / tricks': no quote to play games with, no path.
    expect(dispositionNames(res.headers.get('content-disposition'))).toEqual({
      ascii: 'Active _content_ - tricks.eml',
      utf8: 'Active _content_ - tricks.eml',
    });
    await res.arrayBuffer();
  });

  it('answers 302 to the raw link when one is configured, without reading the store', async () => {
    const asked: string[] = [];
    const linked = appWith({
      rawLink: async (rawKey) => {
        asked.push(rawKey);
        return `https://bucket.s3.example/${rawKey}?X-Amz-Expires=300&X-Amz-Signature=abc`;
      },
    });
    const before = archive.store.gets;
    const res = await linked.request(`/messages/${idOf('invoice')}/raw`);
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe(
      `https://bucket.s3.example/${records.invoice?.rawKey}?X-Amz-Expires=300&X-Amz-Signature=abc`,
    );
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(asked).toEqual([records.invoice?.rawKey]);
    expect(archive.store.gets).toBe(before);
  });

  it('answers HEAD with the headers and without opening the stored object', async () => {
    const before = archive.store.gets;
    const res = await app.request(`/messages/${idOf('lunch')}/raw`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(records.lunch?.octets));
    expect(await res.text()).toBe('');
    expect(archive.store.gets).toBe(before);
  });

  it('refuses a body over maxBodyOctets with RESPONSE_TOO_LARGE instead of failing in transport', async () => {
    const res = await appWith({ maxBodyOctets: 100 }).request(`/messages/${idOf('lunch')}/raw`);
    expect(res.status).toBe(422);
    expect((await errorOf(res)).code).toBe('RESPONSE_TOO_LARGE');
  });

  it('fails the transfer, never serves other bytes, when the stored object no longer matches', async () => {
    const store = new MemoryRawStore();
    const index = new MemoryMessageIndex();
    const record = await seed(
      { index, store },
      {
        mailboxId: 'work',
        messageKey: 'k',
        raw: fixture('plain-text.eml'),
      },
    );
    const tampered = Buffer.from(store.objects.get(record.rawKey) as Buffer);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 3) ^ 0x20, tampered.length - 3);
    store.objects.set(record.rawKey, tampered);
    const logger = new RecordingLogger();
    const res = await createQueryApp({ index, store, logger }).request(
      `/messages/${encodeMessageRef(record)}/raw`,
    );
    expect(res.status).toBe(200);
    // Short of Content-Length: the client can tell the transfer failed.
    expect(await octetsBeforeFailure(res)).toBeLessThan(record.octets);
    expect(logger.entries.map((e) => e.message)).toEqual(['query API response stream failed']);
    expect(String(logger.entries[0]?.attributes.error)).toMatch(/the index recorded/);
  });
});

describe('GET /messages/{id}/attachments/{n}', () => {
  it('serves every listed attachment of every message decoded, equal to its recorded hash', async () => {
    let served = 0;
    for (const name of ['invoice', 'hostile', 'nested', 'active', 'big', 'copy']) {
      const record = records[name] as MessageRecord;
      for (const [n, attachment] of record.attachments.entries()) {
        const res = await app.request(`/messages/${encodeMessageRef(record)}/attachments/${n}`);
        expect(res.status, `${name} #${n}`).toBe(200);
        const body = await bytesOf(res);
        expect(body.length).toBe(attachment.octets);
        expect(sha256(body), `${name} #${n}`).toBe(attachment.sha256);
        expect(res.headers.get('content-length')).toBe(String(attachment.octets));
        served++;
      }
    }
    expect(served).toBeGreaterThanOrEqual(16);
  });

  it('decodes to the original bytes, checked against the fixture independently of the parser', async () => {
    const eml = fixture('multipart-alternative-attachments.eml').toString('latin1');
    const pdfBase64 = /filename="invoice.pdf"\r?\n\r?\n([\s\S]+?)\r?\n\r?\n--/.exec(eml)?.[1] ?? '';
    const pdf = Buffer.from(pdfBase64.replace(/\s+/g, ''), 'base64');
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const pdfIndex = records.invoice?.attachments.findIndex((a) => a.filename === 'invoice.pdf');
    const res = await app.request(`/messages/${idOf('invoice')}/attachments/${pdfIndex}`);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(dispositionNames(res.headers.get('content-disposition')).utf8).toBe('invoice.pdf');
    expect(sha256(await bytesOf(res))).toBe(sha256(pdf));

    const csvIndex = records.invoice?.attachments.findIndex((a) => a.filename === 'expenses.csv');
    const csv = await app.request(`/messages/${idOf('invoice')}/attachments/${csvIndex}`);
    // Quoted-printable keeps the message's line breaks (CRLF in this fixture).
    expect((await bytesOf(csv)).toString('utf8')).toBe(
      'date,amount,note\r\n2024-05-01,12.50,café = coffee\r\n2024-05-02,7.00,"tea, green"\r\n',
    );

    const big = await app.request(`/messages/${idOf('big')}/attachments/0`);
    expect(sha256(await bytesOf(big))).toBe(sha256(BIG_ATTACHMENT));
  });

  it('serves active types as application/octet-stream downloads, others as recorded', async () => {
    const types: Array<string | null> = [];
    for (const n of [0, 1, 2, 3, 4]) {
      const res = await app.request(`/messages/${idOf('active')}/attachments/${n}`);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; sandbox");
      expect(res.headers.get('content-disposition')).toMatch(/^attachment; /);
      types.push(res.headers.get('content-type'));
      await res.arrayBuffer();
    }
    expect(types).toEqual([
      'application/octet-stream',
      'application/octet-stream',
      'application/octet-stream',
      'application/pdf',
      'text/csv',
    ]);
    expect(isActiveContentType('application/xhtml+xml')).toBe(true);
    expect(isActiveContentType('text/javascript')).toBe(true);
    expect(isActiveContentType('image/png')).toBe(false);
  });

  it('makes hostile filenames safe in both forms of Content-Disposition', async () => {
    const names = [];
    for (const n of [0, 1, 2, 3, 4]) {
      const res = await app.request(`/messages/${idOf('hostile')}/attachments/${n}`);
      expect(res.status).toBe(200);
      names.push(dispositionNames(res.headers.get('content-disposition')));
      await res.arrayBuffer();
    }
    expect(names[0]).toEqual({ ascii: 'passwd', utf8: 'passwd' });
    expect(names[1]).toEqual({ ascii: 'windowsevil[31m.txt', utf8: 'windowsevil[31m.txt' });
    expect(names[2]?.utf8).toBe(`${'A'.repeat(MAX_FILENAME_LENGTH - 4)}.pdf`);
    // The bidi override that would show "invoice\u202Efdp.exe" as "invoiceexe.pdf" is gone.
    expect(names[3]).toEqual({ ascii: 'invoicefdp.exe', utf8: 'invoicefdp.exe' });
    // ".." is no name at all: the position stands in.
    expect(names[4]).toEqual({ ascii: 'attachment-4', utf8: 'attachment-4' });
    for (const { ascii, utf8 } of names) {
      expect(ascii).not.toMatch(/["\\/%]|\.\./);
      expect(utf8).not.toMatch(/[/\\\p{Cc}\p{Cf}"]/u);
    }

    const res = await app.request(`/messages/${idOf('active')}/attachments/3`);
    // Sent as 'naïve "résumé"; x%.pdf': the quotes become "_", and the ASCII form loses accents and "%".
    expect(dispositionNames(res.headers.get('content-disposition'))).toEqual({
      ascii: 'naive _resume_; x_.pdf',
      utf8: 'naïve _résumé_; x%.pdf',
    });
    await res.arrayBuffer();
  });

  it.each(['x', '-1', '01', '1.0', '1e2', '%20', '0x1', '1234567890'])(
    'refuses attachment index %j with 400',
    async (n) => {
      const res = await app.request(`/messages/${idOf('invoice')}/attachments/${n}`);
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('INVALID_PARAMETER');
      expect(error.message).toMatch(/attachment index/);
    },
  );

  it('answers 404 for a position past the list, and for a message without attachments', async () => {
    const res = await app.request(`/messages/${idOf('invoice')}/attachments/3`);
    expect(res.status).toBe(404);
    expect(await errorOf(res)).toEqual({
      code: 'ATTACHMENT_NOT_FOUND',
      message: 'the message lists 3 attachments; 3 is not one (0-based)',
    });
    const none = await app.request(`/messages/${idOf('lunch')}/attachments/0`);
    expect(none.status).toBe(404);
  });

  it('stops reading the stored message when the client stops reading', async () => {
    const raw = archive.store.objects.get(records.big?.rawKey ?? '') as Buffer;
    const opened: Readable[] = [];
    class ChunkedStore extends MemoryRawStore {
      override async get(): Promise<Readable> {
        // Lazily, 16 KB at a time, as a file or S3 would: backpressure can stop it mid-message.
        const chunks = function* () {
          for (let at = 0; at < raw.length; at += 16 * 1024) yield raw.subarray(at, at + 16 * 1024);
        };
        const source = Readable.from(chunks());
        opened.push(source);
        return source;
      }
    }
    const logger = new RecordingLogger();
    const res = await createQueryApp({
      index: archive.index,
      store: new ChunkedStore(),
      logger,
    }).request(`/messages/${idOf('big')}/attachments/0`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).done).toBe(false);
    const [source] = opened as [Readable];
    expect(source.readableEnded).toBe(false);
    await reader.cancel();
    if (!source.destroyed) await once(source, 'close');
    expect(source.readableEnded).toBe(false);
    expect(logger.entries).toEqual([]);
  });

  it('refuses an attachment over maxBodyOctets', async () => {
    const res = await appWith({ maxBodyOctets: 1024 * 1024 }).request(
      `/messages/${idOf('big')}/attachments/0`,
    );
    expect(res.status).toBe(422);
    expect((await errorOf(res)).message).toMatch(/Download the raw message instead/);
  });

  it('fails the transfer when the stored message yields other bytes than recorded', async () => {
    const store = new MemoryRawStore();
    const index = new MemoryMessageIndex();
    const record = await seed(
      { index, store },
      {
        mailboxId: 'work',
        messageKey: 'k',
        raw: fixture('multipart-alternative-attachments.eml'),
      },
    );
    const original = (store.objects.get(record.rawKey) as Buffer).toString('latin1');
    // Same length, other bytes: one base64 character of invoice.pdf changed.
    store.objects.set(
      record.rawKey,
      Buffer.from(original.replace('JVBERi0x', 'JVBERi0y'), 'latin1'),
    );
    const logger = new RecordingLogger();
    const pdf = record.attachments.findIndex((a) => a.filename === 'invoice.pdf');
    const res = await createQueryApp({ index, store, logger }).request(
      `/messages/${encodeMessageRef(record)}/attachments/${pdf}`,
    );
    expect(await octetsBeforeFailure(res)).toBeLessThan(record.attachments[pdf]?.octets ?? 0);
    expect(logger.entries).toHaveLength(1);
  });

  it('answers 500 ATTACHMENT_UNREADABLE with a request id when the message no longer holds it', async () => {
    const store = new MemoryRawStore();
    const index = new MemoryMessageIndex();
    const record = await seed(
      { index, store },
      {
        mailboxId: 'work',
        messageKey: 'k',
        raw: fixture('multipart-alternative-attachments.eml'),
      },
    );
    store.objects.set(record.rawKey, fixture('plain-text.eml'));
    const logger = new RecordingLogger();
    const res = await createQueryApp({ index, store, logger }).request(
      `/messages/${encodeMessageRef(record)}/attachments/0`,
    );
    expect(res.status).toBe(500);
    const error = await errorOf(res);
    expect(error.code).toBe('ATTACHMENT_UNREADABLE');
    expect(error.requestId).toBe(res.headers.get('x-request-id'));
    expect(logger.entries[0]?.attributes.cause).toMatch(/yields 0 attachments/);
  });
});

describe('GET /messages?messageId=', () => {
  it('finds every copy, with or without the angle brackets', async () => {
    for (const query of ['%3Cinv-2024-0042%40shop.example%3E', 'inv-2024-0042@shop.example']) {
      const res = await app.request(`/messages?messageId=${query}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        items: Array<{ mailboxId: string; id: string }>;
        truncated: boolean;
      };
      expect(body.items.map((m) => m.mailboxId).sort()).toEqual(['home', 'work']);
      expect(body.items.map((m) => m.id).sort()).toEqual([idOf('copy'), idOf('invoice')].sort());
      expect(body.truncated).toBe(false);
    }
  });

  it('answers an empty list for an id nobody sent', async () => {
    const res = await app.request('/messages?messageId=nobody@example.com');
    expect(await res.json()).toEqual({ items: [], truncated: false });
  });

  it.each([
    ['', 'MISSING_PARAMETER'],
    ['?messageId=', 'INVALID_PARAMETER'],
    ['?messageId=%3C%3E', 'INVALID_PARAMETER'],
    ['?messageId=a%20b@example.com', 'INVALID_PARAMETER'],
    ['?messageId=%3Ca@x', 'INVALID_PARAMETER'],
    ['?messageId=%3C%3Ca@x%3E%3E', 'INVALID_PARAMETER'],
    [`?messageId=${'x'.repeat(300)}`, 'INVALID_PARAMETER'],
    ['?id=x', 'UNKNOWN_PARAMETER'],
  ])('refuses %j with %s', async (query, code) => {
    const res = await app.request(`/messages${query}`);
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe(code);
  });
});

describe('GET /mailboxes/{id}/runs', () => {
  it('lists recent runs, most recent first, bounded by limit', async () => {
    const res = await app.request('/mailboxes/work/runs');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: Array<{ runId: string; counts: object }> };
    expect(body.items.map((r) => r.runId)).toEqual(['run-2', 'run-1']);
    expect(body.items[1]?.counts).toMatchObject({ listed: 3, stored: 3 });
    const one = (await (await app.request('/mailboxes/work/runs?limit=1')).json()) as {
      items: unknown[];
    };
    expect(one.items).toHaveLength(1);
  });

  it.each(['limit=0', 'limit=101', 'limit=x', 'cursor=abc'])('refuses ?%s', async (query) => {
    const res = await app.request(`/mailboxes/work/runs?${query}`);
    expect(res.status).toBe(400);
  });

  it('answers 404 for an unknown mailbox', async () => {
    const res = await app.request('/mailboxes/nobody/runs');
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('MAILBOX_NOT_FOUND');
  });
});

describe('bearer token (local serving)', () => {
  const token = 'x5Vq0n2-Lk8_ZpT3wR9yB7cD1eF4gH6j';
  const secured = appWith({ auth: { bearerToken: token } });

  it.each([
    ['no header', {}, 'UNAUTHORIZED'],
    ['another scheme', { Authorization: `Basic ${token}` }, 'UNAUTHORIZED'],
    ['an empty token', { Authorization: 'Bearer ' }, 'UNAUTHORIZED'],
    ['a wrong token', { Authorization: `Bearer ${token.slice(0, -1)}k` }, 'INVALID_TOKEN'],
    ['a prefix of the token', { Authorization: `Bearer ${token.slice(0, 10)}` }, 'INVALID_TOKEN'],
    ['the token and more', { Authorization: `Bearer ${token}x` }, 'INVALID_TOKEN'],
  ])('refuses %s with 401', async (_why, headers, code) => {
    for (const path of ['/mailboxes', '/openapi.json', `/messages/${idOf('lunch')}/raw`, '/nope']) {
      const res = await secured.request(path, { headers });
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="popvault"/);
      expect((await errorOf(res)).code).toBe(code);
    }
  });

  it('serves with the right token, whatever the case of the scheme', async () => {
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await secured.request('/mailboxes', {
        headers: { Authorization: `${scheme} ${token}` },
      });
      expect(res.status).toBe(200);
    }
  });

  it('refuses to start with a token that is short or not a bearer token', () => {
    expect(() => appWith({ auth: { bearerToken: 'short' } })).toThrow(/at least 16/);
    expect(() => appWith({ auth: { bearerToken: 'has spaces in it, sixteen+' } })).toThrow();
  });
});

describe('errors', () => {
  it('answers unknown routes with 404 and other methods with 405, in JSON', async () => {
    const missing = await app.request('/nope');
    expect(missing.status).toBe(404);
    expect((await errorOf(missing)).code).toBe('ROUTE_NOT_FOUND');
    const post = await app.request('/mailboxes', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await errorOf(post)).code).toBe('METHOD_NOT_ALLOWED');
  });

  it('hides an unexpected failure behind a request id and logs its details', async () => {
    class BrokenIndex extends MemoryMessageIndex {
      override async listMailboxes(): Promise<never> {
        throw new Error('connect ECONNREFUSED 10.0.0.7:8000 for user secret-user');
      }
    }
    const logger = new RecordingLogger();
    const res = await createQueryApp({
      index: new BrokenIndex(),
      store: new MemoryRawStore(),
      logger,
    }).request('/mailboxes');
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).not.toMatch(/ECONNREFUSED|secret-user|at |\.ts/);
    const error = (JSON.parse(text) as { error: { code: string; requestId: string } }).error;
    expect(error.code).toBe('INTERNAL');
    expect(error.requestId).toBe(res.headers.get('x-request-id'));
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]?.attributes).toMatchObject({
      requestId: error.requestId,
      message: expect.stringMatching(/ECONNREFUSED/),
      stack: expect.any(String),
    });
  });

  it('answers a throttled store with 503 and Retry-After', async () => {
    class BusyIndex extends MemoryMessageIndex {
      override async listMailboxes(): Promise<never> {
        throw new ArchiveError('STORE_UNAVAILABLE', 'dynamodb Query failed: ThrottlingException');
      }
    }
    const res = await createQueryApp({
      index: new BusyIndex(),
      store: new MemoryRawStore(),
      logger: new RecordingLogger(),
    }).request('/mailboxes');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect((await errorOf(res)).code).toBe('SERVICE_UNAVAILABLE');
  });
});
