import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readAttachment } from '../../functions/core/message/attachment-reader.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';

const FIXTURES = new URL('../fixtures/mail/', import.meta.url);

function fixture(name: string): Buffer {
  const text = readFileSync(new URL(name, FIXTURES)).toString('latin1');
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function listed(raw: Buffer) {
  const parser = createMessageParser();
  parser.sink.end(raw);
  return (await parser.metadata).attachments;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A message whose parts exercise every rule that decides what is an attachment. */
function mixedMessage(): Buffer {
  const b64 = (data: Buffer) => data.toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    [
      'Content-Type: multipart/mixed; boundary="m"',
      '',
      '--m',
      'Content-Type: text/plain',
      '',
      'inline text, not an attachment',
      '--m',
      'Content-Type: text/plain',
      'Content-Disposition: attachment; filename="a.txt"',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'caf=C3=A9 =3D soft=',
      'break',
      '--m',
      'Content-Type: image/png',
      'Content-Disposition: inline',
      'Content-Transfer-Encoding: base64',
      '',
      b64(randomBytes(5000)),
      '--m',
      'Content-Type: message/rfc822',
      'Content-Disposition: inline',
      '',
      'Subject: embedded',
      'Content-Type: multipart/mixed; boundary="e"',
      '',
      '--e',
      'Content-Type: application/pdf; name="inner.pdf"',
      'Content-Transfer-Encoding: base64',
      '',
      b64(randomBytes(700)),
      '--e--',
      '--m',
      'Content-Type: message/rfc822',
      '',
      'Subject: attached whole',
      '',
      'body',
      '--m--',
      '',
    ].join('\r\n'),
    'latin1',
  );
}

describe('an attachment read back is the one the parser listed', () => {
  const messages = [
    ...readdirSync(FIXTURES)
      .filter((name) => name.endsWith('.eml'))
      .map((name) => [name, fixture(name)] as const),
    ['every attachment rule', mixedMessage()] as const,
  ];

  it.each(messages)(
    '%s: every listed attachment, by position, with its size and hash',
    async (_, raw) => {
      for (const [position, attachment] of (await listed(raw)).entries()) {
        const content = await readAll(await readAttachment(Readable.from([raw]), position));
        expect(content.length).toBe(attachment.octets);
        expect(sha256(content)).toBe(attachment.sha256);
      }
    },
  );

  it('a position past the last attachment is a rejection that says how many there are', async () => {
    const raw = mixedMessage();
    const count = (await listed(raw)).length;
    await expect(readAttachment(Readable.from([raw]), count)).rejects.toThrow(
      `the message yields ${count} attachments, not ${count + 1}`,
    );
  });

  it('a read error before the target is a rejection', async () => {
    const raw = mixedMessage();
    const failing = new Readable({
      read() {
        this.destroy(new Error('disk gone'));
      },
    });
    await expect(readAttachment(failing, 0)).rejects.toThrow(/disk gone/);
    expect(raw.length).toBeGreaterThan(0);
  });
});

describe('backpressure: the message is read only as fast as the attachment is', () => {
  it('a message handed over as one 12 MB chunk is scanned a slice at a time while nobody reads', async () => {
    const data = randomBytes(9 * 1024 * 1024);
    const raw = Buffer.from(
      `Content-Type: multipart/mixed; boundary="big"\r\n\r\n--big\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n${data
        .toString('base64')
        .replace(/.{76}/g, '$&\r\n')}\r\n--big--\r\n`,
      'latin1',
    );
    const content = await readAttachment(Readable.from([raw]), 0);
    // Nobody reads: what is decoded and waiting stays within a slice or two of input.
    await new Promise((resolve) => setImmediate(resolve));
    expect(content.readableLength).toBeLessThan(256 * 1024);
    const body = await readAll(content);
    expect(sha256(body)).toBe(sha256(data));
  });

  it('destroying the returned stream stops reading the message', async () => {
    const data = randomBytes(200 * 1024);
    const raw = Buffer.from(
      `Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n${data.toString('base64')}\r\n`,
      'latin1',
    );
    let pulled = 0;
    const source = new Readable({
      read() {
        // A kilobyte at a time, as a slow store would hand it over.
        const chunk = raw.subarray(pulled, pulled + 1024);
        pulled += chunk.length;
        this.push(chunk.length > 0 ? chunk : null);
      },
    });
    const content = await readAttachment(source, 0);
    await new Promise((resolve) => setImmediate(resolve));
    // Nobody reads: the source is held back once the decoded octets fill the stream's buffer.
    const pulledWhileWaiting = pulled;
    expect(pulledWhileWaiting).toBeLessThan(raw.length);
    content.destroy();
    expect(source.destroyed).toBe(true);
    expect(pulled).toBe(pulledWhileWaiting);
  });
});
