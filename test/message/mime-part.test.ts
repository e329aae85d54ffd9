import { describe, expect, it } from 'vitest';
import { parseHeaderBlock } from '../../functions/core/message/header-block.js';
import { attachmentContentType, describePart } from '../../functions/core/message/mime-part.js';

function part(headers: string, options = { root: false, headerOnly: false }) {
  return describePart(parseHeaderBlock(Buffer.from(headers, 'latin1')), options);
}

/**
 * The attachment rules are mailparser 3.14.2's: the query API numbers attachments in the order the
 * index recorded them, and records made before this parser must keep their numbering.
 */
describe('which parts are attachments (mailparser 3.14.2 rules)', () => {
  it.each([
    ['Content-Type: text/plain', 'plain'],
    ['Content-Type: TEXT/PLAIN; charset=utf-8', 'plain'],
    ['Content-Type: text/html', 'html'],
    ['Content-Type: message/delivery-status', 'plain'],
    ['Content-Type: text/plain\r\nContent-Disposition: inline', 'plain'],
    ['Content-Type: text/plain\r\nContent-Disposition: INLINE; filename="a.txt"', 'plain'],
    ['Content-Type: text/plain\r\nContent-Disposition: attachment', 'attachment'],
    ['Content-Type: text/html\r\nContent-Disposition: attachment; filename="p.html"', 'attachment'],
    // A disposition that is neither inline nor attachment counts as attachment.
    ['Content-Type: text/plain\r\nContent-Disposition: form-data', 'attachment'],
    // Any type but the three text ones is an attachment, even shown inline.
    ['Content-Type: text/csv', 'attachment'],
    ['Content-Type: image/png\r\nContent-Disposition: inline', 'attachment'],
    ['Content-Type: application/pdf', 'attachment'],
    // A message/rfc822 is parsed as a message only when shown inline; else it is one attachment.
    ['Content-Type: message/rfc822', 'attachment'],
    ['Content-Type: message/rfc822\r\nContent-Disposition: attachment', 'attachment'],
    ['Content-Type: message/rfc822\r\nContent-Disposition: inline', 'none'],
    [
      'Content-Type: message/rfc822\r\nContent-Disposition: inline\r\nContent-Transfer-Encoding: base64',
      'attachment',
    ],
    ['Content-Type: multipart/mixed; boundary=x', 'none'],
    // No Content-Type: text/plain, unless the disposition is attachment or a file name says otherwise.
    ['', 'plain'],
    ['Content-Disposition: attachment', 'attachment'],
    ['Content-Disposition: inline; filename="notes.txt"', 'plain'],
    ['Content-Disposition: inline; filename="report.pdf"', 'attachment'],
    ['Content-Disposition: inline; filename="data.unknownext"', 'attachment'],
    ['Content-Disposition: inline; filename="README"', 'plain'],
  ])('%j is %s', (headers, role) => {
    expect(part(headers).role).toBe(role);
  });

  it('an empty Content-Type is text/plain for the message itself, an attachment for a part', () => {
    expect(part('Content-Type: ', { root: true, headerOnly: false }).role).toBe('plain');
    const child = part('Content-Type: ');
    expect(child.role).toBe('attachment');
    expect(attachmentContentType(child)).toBe('application/octet-stream');
  });

  it('a part cut short by a closing delimiter is never parsed as an embedded message', () => {
    const cut = part('Content-Type: message/rfc822\r\nContent-Disposition: inline', {
      root: false,
      headerOnly: true,
    });
    expect(cut.embedsMessage).toBe(false);
    expect(cut.role).toBe('attachment');
  });
});

describe('what an attachment is recorded as', () => {
  it('application/octet-stream is typed from its file name; a declared type is kept', () => {
    expect(
      attachmentContentType(part('Content-Type: application/octet-stream; name="x.docx"')),
    ).toBe('application/vnd.openxmlformats-officedocument.wordprocessingml.document');
    expect(attachmentContentType(part('Content-Type: application/octet-stream'))).toBe(
      'application/octet-stream',
    );
    expect(attachmentContentType(part('Content-Type: image/png; name="x.pdf"'))).toBe('image/png');
    expect(attachmentContentType(part('Content-Disposition: attachment; filename="a.zip"'))).toBe(
      'application/zip',
    );
  });

  it('the file name comes from Content-Disposition, else from the Content-Type name', () => {
    expect(
      part(
        'Content-Type: application/pdf; name="b.pdf"\r\nContent-Disposition: attachment; filename="a.pdf"',
      ).filename,
    ).toBe('a.pdf');
    expect(part('Content-Type: application/pdf; name="b.pdf"').filename).toBe('b.pdf');
    expect(part('Content-Type: application/pdf; name="=?utf-8?Q?caf=C3=A9.pdf?="').filename).toBe(
      'caf\u00e9.pdf',
    );
  });

  it('RFC 2231 continuations and charsets, in any order, win over the plain parameter', () => {
    const filename = part(
      'Content-Disposition: attachment; filename="fallback.pdf";\r\n filename*1*=%A9sum%C3%A9.pdf; filename*0*=utf-8\'en\'r%C3',
    ).filename;
    // Percent escapes are octets of the charset: a character split between pieces comes out whole.
    expect(filename).toBe('r\u00e9sum\u00e9.pdf');
    expect(part("Content-Disposition: attachment; filename*=iso-8859-1''%FCber.txt").filename).toBe(
      '\u00fcber.txt',
    );
    // An encoded word inside an RFC 2231 value is the name, not something to decode again.
    expect(
      part("Content-Disposition: attachment; filename*=utf-8''a%3D%3Futf-8%3FQ%3Fx%3F%3D.exe")
        .filename,
    ).toBe('a=?utf-8?Q?x?=.exe');
  });

  it('a raw 8-bit file name is UTF-8 when it is valid UTF-8, else latin1, as mailsplit read it', () => {
    const utf8 = Buffer.concat([
      Buffer.from('Content-Disposition: attachment; filename="'),
      Buffer.from('\u00dcbersicht.pdf', 'utf8'),
      Buffer.from('"'),
    ]);
    const latin1 = Buffer.from(
      'Content-Disposition: attachment; filename="\u00dcbersicht.pdf"',
      'latin1',
    );
    for (const raw of [utf8, latin1]) {
      const described = describePart(parseHeaderBlock(raw), { root: false, headerOnly: false });
      expect(described.filename).toBe('\u00dcbersicht.pdf');
    }
  });
});

describe('structure from the headers', () => {
  it('the transfer encoding is a bare token; comments go, quotes stay (a quoted one is not decoded)', () => {
    expect(part('Content-Transfer-Encoding: BASE64 (binary data)').transferEncoding).toBe('base64');
    expect(part('Content-Transfer-Encoding: Quoted-Printable').transferEncoding).toBe(
      'quoted-printable',
    );
    expect(part('Content-Transfer-Encoding: "base64"').transferEncoding).toBe('identity');
    expect(part('Content-Transfer-Encoding: x-uuencode').transferEncoding).toBe('identity');
  });

  it('a boundary: quoted or not, comments dropped, trailing whitespace trimmed, ASCII only', () => {
    const delimiter = (headers: string) => part(headers).delimiter?.toString('latin1') ?? null;
    expect(delimiter('Content-Type: multipart/mixed; boundary="a b "')).toBe('--a b');
    expect(delimiter('Content-Type: multipart/mixed; boundary=simple (a comment)')).toBe(
      '--simple',
    );
    expect(delimiter('Content-Type: multipart/mixed; boundary=(c)b')).toBe('--(c)b');
    expect(delimiter('Content-Type: multipart/mixed; boundary="b"; boundary="c"')).toBe('--b');
    expect(delimiter('Content-Type: multipart/mixed; boundary="\u00e9t\u00e9"')).toBeNull();
    expect(delimiter('Content-Type: multipart/mixed')).toBeNull();
    // Longer than any line: it could never be matched, and a held-back line stays small.
    expect(
      delimiter(`Content-Type: multipart/mixed; boundary="${'b'.repeat(998)}"`),
    ).not.toBeNull();
    expect(delimiter(`Content-Type: multipart/mixed; boundary="${'b'.repeat(999)}"`)).toBeNull();
    expect(part('Content-Type: multipart/').multipart).toBe(false);
  });

  it('format=flowed (and delsp) is read for text/plain only', () => {
    expect(part('Content-Type: text/plain; format=flowed; delsp=yes')).toMatchObject({
      flowed: true,
      delSp: true,
    });
    expect(part('Content-Type: text/html; format=flowed').flowed).toBe(false);
  });
});
