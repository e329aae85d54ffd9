import { describe, expect, it } from 'vitest';
import type { MessageMetadata } from '../../functions/core/archive/ports.js';
import { FlowedText } from '../../functions/core/message/flowed-text.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';

async function snippetOf(message: string): Promise<string> {
  const parser = createMessageParser();
  parser.sink.end(Buffer.from(message, 'utf8'));
  return ((await parser.metadata) as MessageMetadata).snippet;
}

function unflow(text: string, delSp: boolean, pieces = 1): string {
  let out = '';
  const flowed = new FlowedText(delSp, (piece) => {
    out += piece;
  });
  const size = Math.ceil(text.length / pieces);
  for (let at = 0; at < text.length; at += size) flowed.write(text.slice(at, at + size));
  flowed.end();
  return out;
}

describe('format=flowed text (RFC 3676)', () => {
  it('a line ending in a space continues on the next; quote markers of continuations are not text', () => {
    expect(unflow('Hello \r\nworld\r\n> quoted \r\n> reply\r\n', false).trim()).toBe(
      'Hello world\n> quoted reply',
    );
  });

  it('with delsp=yes the space before a soft break goes too', () => {
    expect(unflow('\u65e5\u672c \r\n\u8a9e \r\n\u3067\u3059\r\n', true).trim()).toBe(
      '\u65e5\u672c\u8a9e\u3067\u3059',
    );
  });

  it('a signature separator is never joined, and a new quote depth starts a paragraph', () => {
    expect(unflow('text\r\n-- \r\nsig\r\n', false).trim()).toBe('text\n-- \nsig');
    expect(unflow('a \r\n> b\r\n', false).trim()).toBe('a \n> b');
  });

  it('comes out the same however the text is split', () => {
    const text = '> a \r\n> b \r\n>> c \r\n>> d\r\ne \r\n f \r\n-- \r\ng';
    for (const delSp of [false, true]) {
      const whole = unflow(text, delSp);
      for (let pieces = 2; pieces <= text.length; pieces++) {
        expect(unflow(text, delSp, pieces)).toBe(whole);
      }
    }
  });

  it('a flowed message yields the unwrapped snippet', async () => {
    const snippet = await snippetOf(
      'Content-Type: text/plain; format=flowed; delsp=yes\r\n\r\nThis is one sen\r\ntence, wrap \r\nped.\r\n',
    );
    expect(snippet).toBe('This is one sen tence, wrapped.');
  });
});

describe('where the snippet comes from', () => {
  it('plain text wins over HTML, whatever the order of the parts', async () => {
    const snippet = await snippetOf(
      'Content-Type: multipart/mixed; boundary="s"\r\n\r\n--s\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--s\r\nContent-Type: text/plain\r\n\r\nplain\r\n--s--\r\n',
    );
    expect(snippet).toBe('plain');
  });

  it('HTML is the snippet when plain text yields none', async () => {
    const snippet = await snippetOf(
      'Content-Type: multipart/alternative; boundary="s"\r\n\r\n--s\r\nContent-Type: text/plain\r\n\r\n \r\n\t\r\n--s\r\nContent-Type: text/html\r\n\r\n<p>from the html</p>\r\n--s--\r\n',
    );
    expect(snippet).toBe('from the html');
  });

  it('an embedded message contributes its header summary, with no date, then its text', async () => {
    const snippet = await snippetOf(
      'Content-Type: multipart/mixed; boundary="o"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\nFrom: Dave <dave@example.com>\r\nTo: a@example.com\r\nTo: b@example.com\r\nSubject: =?utf-8?Q?Agenda_=E2=80=93_May?=\r\nDate: Mon, 13 May 2024 08:00:00 -0400\r\n\r\nThe agenda.\r\n--o--\r\n',
    );
    expect(snippet).toBe(
      'See below. From: "Dave" <dave@example.com> Subject: Agenda \u2013 May Date: To: b@example.com The agenda.',
    );
  });

  it('a 20 MB quoted-printable text part yields its start as the snippet, and a later part is listed', async () => {
    const parser = createMessageParser();
    parser.sink.write(
      Buffer.from(
        'Content-Type: multipart/mixed; boundary="t"\r\n\r\n--t\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
      ),
    );
    const line = Buffer.from(`${'caf=C3=A9 '.repeat(100)}=\r\n`);
    for (let i = 0; i < 20_000; i++) parser.sink.write(line);
    parser.sink.end(
      Buffer.from(
        '\r\n--t\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="a.pdf"\r\n\r\nPDF\r\n--t--\r\n',
      ),
    );
    const metadata = await parser.metadata;
    expect(metadata.snippet.startsWith('caf\u00e9 caf\u00e9')).toBe(true);
    expect(metadata.attachments.map((a) => a.filename)).toEqual(['a.pdf']);
  });
});
