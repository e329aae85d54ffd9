import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import addressparser from 'nodemailer/lib/addressparser';
import { describe, expect, it } from 'vitest';
import type { MessageMetadata } from '../../functions/core/archive/ports.js';
import { plainAddressList } from '../../functions/core/message/addresses.js';
import { bodyEncodingFor, encodingFor } from '../../functions/core/message/charsets.js';
import { decodeWords } from '../../functions/core/message/encoded-words.js';
import { parseHeaderValue } from '../../functions/core/message/header-params.js';
import { createMessageParser } from '../../functions/core/message/message-parser.js';

const FIXTURES = new URL('../fixtures/mail/', import.meta.url);

function fixture(name: string): Buffer {
  return readFileSync(new URL(name, FIXTURES));
}

async function parse(message: Buffer | string): Promise<MessageMetadata> {
  const parser = createMessageParser();
  parser.sink.end(Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8'));
  return parser.metadata;
}

describe('RFC 2047 encoded words', () => {
  it('B and Q words decode in their charset; "_" in a Q word is a space', () => {
    expect(decodeWords('=?UTF-8?B?R3LDvMOfZQ==?=')).toBe('Gr\u00fc\u00dfe');
    expect(decodeWords('=?iso-8859-1?q?caf=E9_au_lait?=')).toBe('caf\u00e9 au lait');
    expect(decodeWords('=?utf-8*en?Q?caf=C3=A9?=')).toBe('caf\u00e9');
  });

  it('whitespace between adjacent encoded words is dropped; other whitespace and text stay', () => {
    expect(decodeWords('=?utf-8?Q?a?= \r\n =?utf-8?Q?b?=')).toBe('ab');
    expect(decodeWords('=?utf-8?Q?a?= =?iso-8859-1?Q?=E9?=')).toBe('a\u00e9');
    expect(decodeWords('Re: =?utf-8?Q?a?= and =?utf-8?Q?b?= !')).toBe('Re: a and b !');
  });

  it('a multibyte character or a base64 quantum split between two words comes out whole', () => {
    // "é" is C3 A9 in UTF-8; its base64 "w6k=" split between words, mid-quantum.
    expect(decodeWords('=?utf-8?Q?caf=C3?= =?utf-8?Q?=A9?=')).toBe('caf\u00e9');
    expect(decodeWords('=?utf-8?B?w6?= =?UTF8?B?k=?=')).toBe('\u00e9');
    // Each word padded on its own: decoded segment by segment, as libbase64 did.
    expect(decodeWords('=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=')).toBe('\u00e9\u00e9');
  });

  it('adjacent ISO-2022-JP (stateful charset) encoded words are decoded separately then joined: no U+FFFD between', async () => {
    // "テスト" in ISO-2022-JP: ESC $ B, three JIS X 0208 characters, ESC ( B back to ASCII.
    const word = '=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=';
    expect(decodeWords(`Re: TEST  ${word} ${word}`)).toBe(
      'Re: TEST  \u30c6\u30b9\u30c8\u30c6\u30b9\u30c8',
    );
    expect(decodeWords(`${word}\r\n ${word.replace('B?', 'b?')}`)).toBe(
      '\u30c6\u30b9\u30c8\u30c6\u30b9\u30c8',
    );
    const metadata = await parse(
      `From: ${word} ${word} <jp@example.jp>\r\nSubject: ${word}\r\n ${word}\r\n\r\nx\r\n`,
    );
    expect(metadata.subject).toBe('\u30c6\u30b9\u30c8\u30c6\u30b9\u30c8');
    expect(metadata.from).toEqual([
      { address: 'jp@example.jp', name: '\u30c6\u30b9\u30c8\u30c6\u30b9\u30c8' },
    ]);
  });

  it('an unknown charset label decodes as UTF-8 and never throws; UTF-7 is refused', () => {
    expect(decodeWords('=?x-no-such-charset?Q?caf=C3=A9?=')).toBe('caf\u00e9');
    expect(decodeWords('=?utf-7?Q?+ADw-script+AD4-?=')).toBe('+ADw-script+AD4-');
    expect(decodeWords('=?utf-8?Q?=FF?=')).toBe('\ufffd');
    expect(decodeWords('=?utf-8?B?!!!?=')).toBe('');
  });

  it('text that only looks like an encoded word is left alone', () => {
    expect(decodeWords('=?utf-8?X?abc?=')).toBe('=?utf-8?X?abc?=');
    expect(decodeWords('=?utf-8?Q?unterminated')).toBe('=?utf-8?Q?unterminated');
  });
});

describe('charset labels', () => {
  it('known labels and common misspellings resolve; unknown ones fall back to UTF-8', () => {
    expect(encodingFor('ISO-8859-1')).toBe('windows-1252');
    expect(encodingFor('win-1250')).toBe('windows-1250');
    expect(encodingFor('iso8859_2')).toBe('iso-8859-2');
    expect(encodingFor('ks_c_5601-1987')).toBe('euc-kr');
    expect(encodingFor('x-no-such-charset')).toBe('utf-8');
    expect(encodingFor('utf-7')).toBe('utf-8');
    expect(encodingFor('')).toBe('utf-8');
  });

  it('a body declared ASCII is read as UTF-8 (8-bit octets in it are UTF-8 in practice)', () => {
    expect(bodyEncodingFor('us-ascii')).toBe('utf-8');
    expect(bodyEncodingFor(undefined)).toBe('utf-8');
    expect(bodyEncodingFor('koi8-r')).toBe('koi8-r');
  });

  it('a text part with an unknown charset label is read as UTF-8, with U+FFFD for what is not', async () => {
    const metadata = await parse(
      Buffer.concat([
        Buffer.from('Content-Type: text/plain; charset="x-no-such-charset"\r\n\r\n'),
        Buffer.from('Gr\u00fc\u00dfe ', 'utf8'),
        Buffer.from([0xff]),
      ]),
    );
    expect(metadata.snippet).toBe('Gr\u00fc\u00dfe \ufffd');
    expect(metadata.parseError).toBeNull();
  });

  it('a text part in a legacy charset is decoded in it, across chunk boundaries', async () => {
    const body = Buffer.from([0x93, 0xfa, 0x96, 0x7b, 0x20, 0x8c, 0xea]); // Shift_JIS
    const parser = createMessageParser();
    parser.sink.write(Buffer.from('Content-Type: text/plain; charset=shift_jis\r\n\r\n'));
    for (const octet of body) parser.sink.write(Buffer.from([octet]));
    parser.sink.end();
    expect((await parser.metadata).snippet).toBe('\u65e5\u672c \u8a9e');
  });
});

describe('raw 8-bit headers (RFC 6532)', () => {
  it('UTF-8 octets in Subject and From are read as UTF-8', async () => {
    const metadata = await parse(
      'From: J\u00fcrgen \u00d6zt\u00fcrk <juergen@example.de>\r\nSubject: Gr\u00fc\u00dfe \u2013 \u65e5\u672c\r\n\r\nx\r\n',
    );
    expect(metadata.subject).toBe('Gr\u00fc\u00dfe \u2013 \u65e5\u672c');
    expect(metadata.from).toEqual([
      { address: 'juergen@example.de', name: 'J\u00fcrgen \u00d6zt\u00fcrk' },
    ]);
  });

  it('octets that are not UTF-8 are read as windows-1252, as legacy Western mailers wrote them, never a parse error', async () => {
    const metadata = await parse(
      Buffer.from(
        'From: Fran\u00e7ois <f@example.fr>\r\nSubject: caf\u00e9 \u0080\r\n\r\nx\r\n',
        'latin1',
      ),
    );
    expect(metadata.subject).toBe('caf\u00e9 \u20ac');
    expect(metadata.from).toEqual([{ address: 'f@example.fr', name: 'Fran\u00e7ois' }]);
    expect(metadata.parseError).toBeNull();
  });

  it('raw ISO-2022-JP in From does not hide the address: its "ESC ( B" is decoded before it could open a comment', async () => {
    const metadata = await parse(fixture('raw-iso-2022-jp-headers.eml'));
    expect(metadata.from).toEqual([{ address: 'yamada@example.jp', name: '\u5c71\u7530' }]);
    expect(metadata.subject).toBe('\u4f1a\u8b70\u306e\u4ef6');
    expect(metadata.attachments.map((a) => a.filename)).toEqual(['\u8cc7\u6599.txt']);
  });

  it('a windows-1252 text part keeps its euro sign and quotes (Node reads that label as ISO-8859-1)', async () => {
    const metadata = await parse(
      Buffer.from(
        'Content-Type: text/plain; charset=windows-1252\r\n\r\n\x93Preis\x94: 5 \x80\r\n',
        'latin1',
      ),
    );
    expect(metadata.snippet).toBe('\u201cPreis\u201d: 5 \u20ac');
  });

  it('real mail with raw Latin-1 and raw UTF-8 headers is indexed with its own sender and subject', async () => {
    const latin1 = await parse(fixture('raw-latin1-headers.eml'));
    expect(latin1.from).toEqual([
      { address: 'francois@example.fr', name: 'Fran\u00e7ois Lef\u00e8vre' },
    ]);
    expect(latin1.subject).toBe('R\u00e9union \u00e0 Gen\u00e8ve, caf\u00e9 offert');
    const utf8 = await parse(fixture('raw-utf8-headers.eml'));
    expect(utf8.from).toEqual([{ address: 'joerg@example.de', name: 'J\u00f6rg M\u00fcller' }]);
    expect(utf8.attachments.map((a) => a.filename)).toEqual(['Rechnung-M\u00e4rz.pdf']);
  });

  it('an encoded word in an address that names another address is dropped, as mailparser did', async () => {
    const metadata = await parse(
      'From: "=?utf-8?Q?CEO?=" <=?utf-8?Q?ceo=40bank.example?=@evil.example>\r\n\r\nx\r\n',
    );
    expect(metadata.from).toEqual([{ address: '', name: 'CEO' }]);
  });

  it('a display name equal to the address is blanked, as addressparser blanks it, in the plain form and any other', async () => {
    const metadata = await parse(
      'From: "a@b.example" <a@b.example>\r\nTo: c@d.example <c@d.example>, "e@f.example" <e@f.example> (x)\r\nCc: "A@b.example" <a@b.example>\r\n\r\nx\r\n',
    );
    expect(metadata.from).toEqual([{ address: 'a@b.example', name: '' }]);
    expect(metadata.to).toEqual([
      { address: 'c@d.example', name: '' },
      { address: 'e@f.example', name: '' },
    ]);
    // Only the same text is no name; a name that differs from it, if only in case, is kept.
    expect(metadata.cc).toEqual([{ address: 'a@b.example', name: 'A@b.example' }]);
    expect(plainAddressList('"a@b.example" <a@b.example>')).toEqual(
      addressparser('"a@b.example" <a@b.example>'),
    );
  });

  it('an encoded word containing ":" in an address header is never read as group syntax', async () => {
    // Q-encoded display names, folded, one of them holding ":" and an encoded "<": two entries.
    const metadata = await parse(
      'To: =?utf-8?Q?Lab:_run_28.617=3C/pr?= <lab@example.org>,\r\n =?utf-8?Q?B=C3=A9a?= <bea@example.org>\r\n\r\nx\r\n',
    );
    expect(metadata.to).toEqual([
      { address: 'lab@example.org', name: 'Lab: run 28.617</pr' },
      { address: 'bea@example.org', name: 'B\u00e9a' },
    ]);
    expect(metadata.addressesTruncated).toBe(false);
    // A real group still is one, and a sender's own "=?0?Q??=" cannot pose as the stand-in for the
    // first word ("Team"): it is read as the empty encoded word it is.
    const group = await parse(
      'To: =?utf-8?Q?Team?=: a@x.example, =?0?Q??= <b@x.example>;\r\n\r\nx\r\n',
    );
    expect(group.to).toEqual([
      { address: 'a@x.example', name: '' },
      { address: 'b@x.example', name: '' },
    ]);
  });

  it('a punycode domain is shown in Unicode', async () => {
    const metadata = await parse('From: a@xn--mnchen-3ya.de\r\n\r\nx\r\n');
    expect(metadata.from).toEqual([{ address: 'a@m\u00fcnchen.de', name: '' }]);
  });
});

describe('address lists', () => {
  const piece = fc.constantFrom(
    ...['a', 'B', '5', ' ', '  ', '\t', '.', "'", '"', '<', '>', '@', ',', ';', ':', '(', ')'],
    ...['\\', '-', '_', '+', 'x@y.z', 'ex.com', 'J\u00fcrgen', '\u65e5\u672c', '=?utf-8?Q?x?='],
  );
  const name = fc.array(piece, { maxLength: 5 }).map((pieces) => pieces.join(''));
  const entry = fc.oneof(
    fc.constant(' x@y.z '),
    fc
      .tuple(name, fc.boolean(), fc.constantFrom('', ' '), fc.nat(9))
      .map(([text, quoted, space, n]) => `${quoted ? `"${text}"` : text}${space}<a${n}@b.c>`),
    fc.array(piece, { minLength: 1, maxLength: 8 }).map((pieces) => pieces.join('')),
  );
  const field = fc
    .tuple(fc.array(entry, { minLength: 1, maxLength: 3 }), fc.constantFrom(',', ', '))
    .map(([entries, separator]) => entries.join(separator));

  it('the plain-form shortcut reads every list it accepts exactly as addressparser does', () => {
    let accepted = 0;
    fc.assert(
      fc.property(field, (value) => {
        const plain = plainAddressList(value);
        if (plain === null) return;
        accepted++;
        expect(plain).toEqual(addressparser(value));
      }),
      { numRuns: 5000 },
    );
    // Most generated lists are plain: the comparison is not vacuous.
    expect(accepted).toBeGreaterThan(1000);
  });
});

describe('structured header values (RFC 2045 s.5.1, RFC 2231)', () => {
  it('quoted strings, escapes and comments', () => {
    const value = parseHeaderValue(
      'Attachment (the file) ; filename="a \\"b\\" c.pdf" (comment); size=12',
    );
    expect(value.value).toBe('Attachment');
    expect(Object.fromEntries(value.params)).toEqual({ filename: 'a "b" c.pdf', size: '12' });
  });

  it('a parameter given twice keeps its first value; junk after a quoted string is dropped', () => {
    expect(parseHeaderValue('x; a=1; a=2').params.get('a')).toBe('1');
    expect(parseHeaderValue('x; boundary="b"c').params.get('boundary')).toBe('b');
  });

  it('continuations without a charset are joined in order and encoded words in them decoded', () => {
    const value = parseHeaderValue('x; name*1="b.pdf"; name*0="=?utf-8?Q?=C3=A9?=-"');
    expect(value.params.get('name')).toBe('\u00e9-b.pdf');
    expect(value.decoded.has('name')).toBe(true);
  });
});
