/** Attachments: decoded, verified, named and typed safely, streamed with backpressure. */
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { MAX_FILENAME_LENGTH } from '../../functions/core/message/message-limits.js';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { isActiveContentType } from '../../functions/query-api/download-headers.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { errorOf, fixture, RecordingLogger, seed, sha256 } from './query-api-kit.js';
import {
  app,
  appWith,
  archive,
  BIG_ATTACHMENT,
  bytesOf,
  dispositionNames,
  idOf,
  octetsBeforeFailure,
  records,
  seedQueryAppArchive,
} from './query-app-fixture.js';

beforeAll(seedQueryAppArchive);

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
