import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  MAX_HTML_BODY_OCTETS,
  MAX_INLINE_IMAGE_OCTETS,
  readHtmlBody,
} from '../../functions/core/message/html-body-reader.js';
import { MAX_MULTIPART_DEPTH } from '../../functions/core/message/message-limits.js';

const read = (raw: string | Buffer) =>
  readHtmlBody(Readable.from([typeof raw === 'string' ? Buffer.from(raw, 'latin1') : raw]));

function related(html: string, images: Array<{ id: string; type: string; data: Buffer }>): Buffer {
  const parts = images.map((image) =>
    [
      '--b',
      `Content-Type: ${image.type}`,
      'Content-Transfer-Encoding: base64',
      `Content-ID: <${image.id}>`,
      '',
      image.data.toString('base64'),
    ].join('\r\n'),
  );
  return Buffer.from(
    [
      'Content-Type: multipart/related; boundary="b"',
      '',
      '--b',
      'Content-Type: text/html; charset=utf-8',
      '',
      html,
      ...parts,
      '--b--',
      '',
    ].join('\r\n'),
  );
}

describe('reading a stored message back for display', () => {
  it('a message nested past the structural limit shows what came before it, and never throws', async () => {
    const depth = MAX_MULTIPART_DEPTH + 5;
    const open = Array.from(
      { length: depth },
      (_, i) => `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`,
    ).join('');
    const raw = `Content-Type: multipart/mixed; boundary="top"\r\n\r\n--top\r\nContent-Type: text/html\r\n\r\n<p>first</p>\r\n--top\r\n${open}Content-Type: text/html\r\n\r\n<p>deep</p>\r\n`;
    const body = await read(raw);
    expect(body?.html).toContain('<p>first</p>');
  });

  it('decodes the HTML part in its declared charset', async () => {
    const body = await read(
      'Content-Type: text/html; charset=iso-8859-1\r\n\r\n<p>Gr\xfc\xdfe</p>\r\n',
    );
    expect(body?.html).toContain('<p>Grüße</p>');
    expect(body?.truncated).toBe(false);
  });

  it('a plain-text message has no HTML to show', async () => {
    expect(await read('Content-Type: text/plain\r\n\r\nhello\r\n')).toBeNull();
  });

  it('an HTML bomb is cut at its bound and says so', async () => {
    const huge = `<p>${'x'.repeat(MAX_HTML_BODY_OCTETS + 10)}</p>`;
    const body = await read(`Content-Type: text/html\r\n\r\n${huge}\r\n`);
    expect(body?.html.length).toBe(MAX_HTML_BODY_OCTETS);
    expect(body?.truncated).toBe(true);
  });

  it('keeps images by Content-ID, and no more image bytes than its bound in all', async () => {
    const big = Buffer.alloc(MAX_INLINE_IMAGE_OCTETS / 2 + 1, 1);
    const body = await read(
      related('<img src="cid:a">', [
        { id: 'a', type: 'image/png', data: Buffer.from('png') },
        { id: 'b', type: 'image/gif', data: big },
        { id: 'c', type: 'image/gif', data: big },
        { id: 'doc', type: 'application/pdf', data: Buffer.from('%PDF') },
      ]),
    );
    expect(body?.images.get('a')).toEqual({ contentType: 'image/png', data: Buffer.from('png') });
    expect(body?.images.has('b')).toBe(true);
    // Over the budget, and not an image: neither is kept to inline.
    expect(body?.images.has('c')).toBe(false);
    expect(body?.images.has('doc')).toBe(false);
  });
});
