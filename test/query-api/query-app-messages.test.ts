/** A message by id: its metadata and its raw bytes. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { errorOf, fixture, RecordingLogger, seed } from './query-api-kit.js';
import {
  app,
  appWith,
  archive,
  bytesOf,
  dispositionNames,
  idOf,
  octetsBeforeFailure,
  records,
  seedQueryAppArchive,
} from './query-app-fixture.js';

beforeAll(seedQueryAppArchive);

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
