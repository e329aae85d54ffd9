/**
 * Seeded generator of mail for the differential suite: the same seed gives the same messages, so a
 * difference found once is found again, and its seed and index name it. What it writes is what the
 * parser meets in real mail: address lists in every common form, subjects and file names in RFC 2047
 * and RFC 2231 forms in several charsets (ISO-2022-JP split across words as Japanese mailers split
 * it), raw 8-bit headers, dates in current and obsolete syntax, every transfer encoding, nested
 * multiparts and embedded messages, and broken structure (unclosed multiparts, missing boundaries,
 * bare LF, truncated base64).
 */
import { SeededRandom } from '../support/seeded-random.js';

/** JIS X 0208 codes of the characters the Japanese texts use (ISO-2022-JP has no encoder in Node). */
const JIS: Readonly<Record<string, readonly [number, number]>> = {
  テ: [0x25, 0x46],
  ス: [0x25, 0x39],
  ト: [0x25, 0x48],
  メ: [0x25, 0x61],
  ー: [0x21, 0x3c],
  ル: [0x25, 0x6b],
  日: [0x46, 0x7c],
  本: [0x4b, 0x5c],
  語: [0x38, 0x6c],
  会: [0x32, 0x71],
  議: [0x35, 0x44],
  山: [0x3b, 0x33],
  田: [0x45, 0x44],
};

/** Text in ISO-2022-JP: each run of Japanese opened with ESC $ B and closed with ESC ( B. */
function iso2022jp(text: string): Buffer {
  const out: number[] = [];
  let kanji = false;
  for (const ch of text) {
    const code = JIS[ch];
    if (code !== undefined && !kanji) out.push(0x1b, 0x24, 0x42);
    if (code === undefined && kanji) out.push(0x1b, 0x28, 0x42);
    kanji = code !== undefined;
    if (code !== undefined) out.push(...code);
    else out.push(ch.charCodeAt(0) & 0x7f);
  }
  if (kanji) out.push(0x1b, 0x28, 0x42);
  return Buffer.from(out);
}

type Charset = 'utf-8' | 'iso-8859-1' | 'windows-1252' | 'iso-2022-jp' | 'us-ascii';

const TEXTS: Readonly<Record<Charset, readonly string[]>> = {
  'utf-8': [
    'Grüße aus Köln',
    'Ελληνικά',
    'Привет, мир',
    '日本語のメール',
    'naïve café ☕',
    'emoji 🎉 party',
  ],
  'iso-8859-1': ['Réunion à Genève', 'Façade', 'Ñandú', 'Smörgåsbord'],
  'windows-1252': ['Prix: 10 €', '“quoted” – dash', 'Œuvre'],
  'iso-2022-jp': ['テスト', '日本語', '会議', '山田', 'メール テスト'],
  'us-ascii': ['Hello there', 'Quarterly report', 'Re: lunch?'],
};

function encodeText(text: string, charset: Charset): Buffer {
  if (charset === 'iso-2022-jp') return iso2022jp(text);
  if (charset === 'iso-8859-1') return Buffer.from(text, 'latin1');
  if (charset === 'windows-1252') {
    const table: Record<string, number> = { '€': 0x80, '“': 0x93, '”': 0x94, '–': 0x96, Œ: 0x8c };
    return Buffer.from([...text].map((ch) => table[ch] ?? ch.charCodeAt(0)));
  }
  return Buffer.from(text, 'utf8');
}

function qEncode(octets: Buffer): string {
  let out = '';
  for (const octet of octets) {
    if (octet === 0x20) out += '_';
    else if (/[A-Za-z0-9!*+\-/]/.test(String.fromCharCode(octet)))
      out += String.fromCharCode(octet);
    else out += `=${octet.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * One or more RFC 2047 encoded words for `text`. Split into several words as mailers split long
 * text: for ISO-2022-JP each word whole (RFC 1468), otherwise at any octet, so a multibyte
 * character or a base64 quantum may span two words.
 */
function encodedWords(random: SeededRandom, text: string, charset: Charset): string {
  const encoding = random.pick(['B', 'Q', 'b', 'q'] as const);
  const label = random.chance(0.2) ? charset.toUpperCase() : charset;
  const word = (octets: Buffer) =>
    `=?${label}?${encoding}?${encoding.toUpperCase() === 'B' ? octets.toString('base64') : qEncode(octets)}?=`;
  const separator = random.pick([' ', '\r\n ', '\r\n\t', '']);
  if (charset === 'iso-2022-jp') {
    const chars = [...text];
    const cut = random.int(1, Math.max(1, chars.length - 1));
    const pieces = random.chance(0.6) ? [chars.slice(0, cut), chars.slice(cut)] : [chars];
    return pieces
      .filter((piece) => piece.length > 0)
      .map((piece) => word(iso2022jp(piece.join(''))))
      .join(separator === '' ? ' ' : separator);
  }
  const octets = encodeText(text, charset);
  if (octets.length < 2 || random.chance(0.5)) return word(octets);
  // A base64 word split mid-quantum is joined before decoding by both parsers only when its pieces
  // are whole quanta; mailers split at quanta, so the split is at a multiple of 3 octets there.
  const step = encoding.toUpperCase() === 'B' ? 3 : 1;
  const cut = Math.max(step, Math.floor(random.int(1, octets.length - 1) / step) * step);
  if (cut >= octets.length) return word(octets);
  return `${word(octets.subarray(0, cut))}${separator === '' ? ' ' : separator}${word(octets.subarray(cut))}`;
}

const LOCALS = ['alice', 'bob', 'carol.d', 'x+tag', "o'neil", 'info', 'a_b'];
const DOMAINS = ['example.com', 'example.org', 'mail.example.net', 'xn--mnchen-3ya.example'];

function address(random: SeededRandom): string {
  return `${random.pick(LOCALS)}${random.int(1, 9)}@${random.pick(DOMAINS)}`;
}

function displayName(random: SeededRandom): string {
  const charset = random.pick([
    'utf-8',
    'iso-8859-1',
    'windows-1252',
    'iso-2022-jp',
    'us-ascii',
  ] as const);
  const text = random.pick(TEXTS[charset]);
  switch (random.int(0, 6)) {
    case 0:
      return 'Plain Name';
    case 1:
      return `"Last, First"`;
    case 2:
      return `"${text.replace(/[^\x20-\x7e]/g, 'x').replace(/["\\]/g, '')}"`;
    case 3:
      return encodedWords(random, text, charset);
    case 4:
      return `"${encodedWords(random, text, charset === 'iso-2022-jp' ? 'utf-8' : charset)}"`;
    case 5:
      // An encoded word holding what would be address syntax outside one.
      return random.pick(['=?utf-8?Q?Lab:_run_28.617=3C/pr?=', '=?utf-8?B?UmU6IGZvbyA8YkBjPg==?=']);
    default:
      return 'J. R. Doe';
  }
}

function mailbox(random: SeededRandom): string {
  const addr = address(random);
  switch (random.int(0, 5)) {
    case 0:
      return addr;
    case 1:
      return `<${addr}>`;
    case 2:
      return `"${addr}" <${addr}>`;
    case 3:
      return `${addr} (${random.pick(['comment', 'Some One'])})`;
    default:
      return `${displayName(random)} <${addr}>`;
  }
}

function addressList(random: SeededRandom): string {
  const entries: string[] = [];
  const count = random.int(1, 4);
  for (let i = 0; i < count; i++) {
    if (random.chance(0.08)) {
      entries.push(
        `${random.pick(['Team', 'undisclosed-recipients', '=?utf-8?Q?Gr=C3=BCn?='])}:${
          random.chance(0.3) ? '' : ` ${mailbox(random)}, ${mailbox(random)}`
        };`,
      );
    } else {
      entries.push(mailbox(random));
    }
  }
  return entries.join(random.pick([', ', ',\r\n ', ',']));
}

function subject(random: SeededRandom): Buffer {
  const charset = random.pick([
    'utf-8',
    'iso-8859-1',
    'windows-1252',
    'iso-2022-jp',
    'us-ascii',
  ] as const);
  const text = random.pick(TEXTS[charset]);
  switch (random.int(0, 6)) {
    case 0:
      return Buffer.from(text.replace(/[^\x20-\x7e]/g, '?'));
    case 1:
      // Raw 8-bit (RFC 6532 for UTF-8; legacy mailers for the rest).
      return encodeText(text, charset === 'us-ascii' ? 'utf-8' : charset);
    case 2:
      return Buffer.from(`Re: ${encodedWords(random, text, charset)}`);
    case 3: {
      const jp = random.pick(TEXTS['iso-2022-jp']);
      return Buffer.from(
        `Re: TEST  ${encodedWords(random, jp, 'iso-2022-jp')} ${encodedWords(random, jp, 'iso-2022-jp')}`,
      );
    }
    case 4:
      return Buffer.from(
        `${encodedWords(random, text, charset)} and ${encodedWords(random, 'more', 'us-ascii')}`,
      );
    case 5:
      return Buffer.from('A subject long enough to be folded by the mailer\r\n onto a second line');
    default:
      return Buffer.from(encodedWords(random, text, charset));
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function date(random: SeededRandom): string | null {
  if (random.chance(0.05)) return null;
  const year = random.pick([2024, 2019, 2003, 1999, 1969, 1955, 2038, 2150, 2999]);
  const instant = new Date(
    Date.UTC(
      year,
      random.int(0, 11),
      random.int(1, 28),
      random.int(0, 23),
      random.int(0, 59),
      random.int(0, 59),
    ),
  );
  const two = (n: number) => String(n).padStart(2, '0');
  const day = `${instant.getUTCDate()} ${MONTHS[instant.getUTCMonth()]}`;
  const time = `${two(instant.getUTCHours())}:${two(instant.getUTCMinutes())}:${two(instant.getUTCSeconds())}`;
  const weekday = `${DAYS[instant.getUTCDay()]}, `;
  const zone = random.pick(['+0000', '-0500', '+0200', '+0530', '-0000', '+1300']);
  switch (random.int(0, 10)) {
    case 0:
      return `${day} ${instant.getUTCFullYear() % 100 === 0 ? '00' : two(instant.getUTCFullYear() % 100)} ${time} ${random.pick(['GMT', 'EST', 'PDT', 'UT'])}`;
    case 1:
      return `${weekday}${day} ${instant.getUTCFullYear()} ${time} ${random.pick(['-600', '+530', '-6', '+10'])}`;
    case 2:
      return `${weekday}${day} ${instant.getUTCFullYear()} ${time}.${random.int(0, 999)} ${zone}`;
    case 3:
      return `${weekday}${day} ${instant.getUTCFullYear()} ${time} ${zone} (${random.pick(['CEST', 'comment'])})`;
    case 4:
      return random.pick(['not a date', 'Tue, 31 Feb 2024 10:00:00 +0000', 'yesterday', '']);
    case 5:
      // Obsolete syntax (RFC 5322 s.4.3) and names mailers write: a three-digit year, spaces around
      // ":", a zone name beyond RFC 822's.
      return random.pick([
        `${weekday}${day} ${Math.max(2000, instant.getUTCFullYear()) - 1900} ${time} +0000`,
        `${weekday}${day} ${instant.getUTCFullYear()} ${time.replace(/:/g, ' : ')} ${zone}`,
        `${day} ${instant.getUTCFullYear()} ${time} ${random.pick(['CEST', 'JST', 'MSK'])}`,
      ]);
    default:
      return `${weekday}${day} ${instant.getUTCFullYear()} ${time} ${zone}`;
  }
}

const FILENAME_TEXTS = [
  'report.pdf',
  'Überweisung März.pdf',
  'résumé.docx',
  '日本語.txt',
  'a b c.png',
  'data.csv',
  '../../etc/passwd',
  'archive.tar.gz',
  'no-extension',
];

function percentEncode(octets: Buffer): string {
  let out = '';
  for (const octet of octets) {
    const ch = String.fromCharCode(octet);
    out += /[A-Za-z0-9.\-_]/.test(ch)
      ? ch
      : `%${octet.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The filename parameter(s) in one of the forms mailers write, or '' for none. */
function filenameParams(random: SeededRandom, param: 'filename' | 'name'): string {
  const name = random.pick(FILENAME_TEXTS);
  const ascii = !/[^\x20-\x7e]/.test(name);
  switch (random.int(0, 5)) {
    case 0:
      return ascii ? `; ${param}="${name}"` : `; ${param}="${encodedWords(random, name, 'utf-8')}"`;
    case 1: {
      // RFC 2231 s.4: charset and language, percent-encoded.
      const charset = random.pick(['utf-8', 'iso-8859-1'] as const);
      // A name beyond latin1 can only go as UTF-8.
      const wide = [...name].some((ch) => (ch.codePointAt(0) ?? 0) > 0xff);
      const octets = wide ? Buffer.from(name) : encodeText(name, charset);
      const label = wide ? 'utf-8' : charset;
      return `; ${param}*=${label}'${random.pick(['', 'en'])}'${percentEncode(octets)}`;
    }
    case 2: {
      // RFC 2231 s.3 and s.4: continuations, the first one carrying the charset.
      const encoded = percentEncode(Buffer.from(name));
      const cut = Math.max(1, Math.floor(encoded.length / 2));
      let at = cut;
      while (at > 0 && encoded.slice(at - 2, at).includes('%')) at--;
      return `;\r\n ${param}*0*=utf-8''${encoded.slice(0, at)};\r\n ${param}*1*=${encoded.slice(at)}`;
    }
    case 3:
      return ascii
        ? `; ${param}=${name.replace(/[ /]/g, '_')}`
        : `; ${param}="${encodedWords(random, name, 'iso-8859-1')}"`;
    case 4:
      return '';
    default:
      return `; ${param}="${encodedWords(random, name, 'utf-8')}"`;
  }
}

function base64Lines(octets: Buffer): string {
  return (octets.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function qpLines(octets: Buffer): string {
  let out = '';
  let line = 0;
  for (const octet of octets) {
    const ch = String.fromCharCode(octet);
    const piece =
      (octet >= 0x21 && octet <= 0x7e && ch !== '=') || octet === 0x20
        ? ch
        : `=${octet.toString(16).toUpperCase().padStart(2, '0')}`;
    if (line + piece.length > 73) {
      out += '=\r\n';
      line = 0;
    }
    out += piece;
    line += piece.length;
  }
  return out;
}

interface Part {
  headers: string;
  body: string;
}

function leafBody(
  random: SeededRandom,
  octets: Buffer,
  binary: boolean,
): { encoding: string; body: string } {
  const encoding = binary
    ? random.pick(['base64', 'base64', 'quoted-printable'])
    : random.pick(['7bit', '8bit', 'quoted-printable', 'base64']);
  if (encoding === 'base64') return { encoding, body: base64Lines(octets) };
  if (encoding === 'quoted-printable') return { encoding, body: qpLines(octets) };
  const text = octets.toString('latin1');
  return { encoding, body: encoding === '7bit' ? text.replace(/[^\x20-\x7e\r\n]/g, '?') : text };
}

function textPart(random: SeededRandom): Part {
  const charset = random.pick(['utf-8', 'iso-8859-1', 'us-ascii'] as const);
  const html = random.chance(0.3);
  const text = `${random.pick(TEXTS[charset])}\r\nSecond line of the body.\r\n`;
  const content = html ? `<p>${text}</p>` : text;
  const { encoding, body } = leafBody(random, encodeText(content, charset), false);
  return {
    headers: `Content-Type: text/${html ? 'html' : 'plain'}; charset=${charset}\r\nContent-Transfer-Encoding: ${encoding}\r\n`,
    body,
  };
}

function attachmentPart(random: SeededRandom): Part {
  const type = random.pick([
    'application/pdf',
    'image/png',
    'application/octet-stream',
    'text/plain',
    'text/csv',
  ]);
  const binary = !type.startsWith('text/');
  const octets = binary
    ? random.bytes(random.int(0, 600))
    : Buffer.from(`col1,col2\r\n${random.int(0, 1e6)},x\r\n`);
  const { encoding, body } = leafBody(random, octets, binary);
  const disposition = random.pick(['attachment', 'attachment', 'inline', 'ATTACHMENT']);
  const where = random.int(0, 2);
  const typeParams = where !== 0 ? filenameParams(random, 'name') : '';
  const dispositionParams = where !== 1 ? filenameParams(random, 'filename') : '';
  const dispositionLine =
    disposition === 'inline' && type.startsWith('text/') && dispositionParams === ''
      ? 'Content-Disposition: attachment\r\n'
      : `Content-Disposition: ${disposition}${dispositionParams}\r\n`;
  return {
    headers: `Content-Type: ${type}${typeParams}\r\n${dispositionLine}Content-Transfer-Encoding: ${encoding}\r\n`,
    body,
  };
}

function multipartPart(random: SeededRandom, depth: number): Part {
  const boundary = `b${depth}_${random.int(0, 1e9).toString(36)}${random.pick(['', '=_part', '.x'])}`;
  const subtype = random.pick(['mixed', 'alternative', 'related', 'mixed']);
  const children: Part[] = [];
  const count = random.int(1, 4);
  for (let i = 0; i < count; i++) children.push(part(random, depth + 1));
  const closed = !random.chance(0.1);
  const preamble = random.chance(0.2) ? 'This is a multi-part message in MIME format.\r\n' : '';
  const body =
    preamble +
    children.map((child) => `--${boundary}\r\n${child.headers}\r\n${child.body}\r\n`).join('') +
    (closed ? `--${boundary}--\r\n${random.chance(0.2) ? 'epilogue\r\n' : ''}` : '');
  const quoted = random.chance(0.5) ? `"${boundary}"` : boundary;
  return { headers: `Content-Type: multipart/${subtype};\r\n boundary=${quoted}\r\n`, body };
}

function embeddedPart(random: SeededRandom, depth: number): Part {
  const inner = message(random, depth + 1);
  const disposition = random.pick([
    '',
    'Content-Disposition: inline\r\n',
    'Content-Disposition: attachment; filename="fwd.eml"\r\n',
  ]);
  return {
    headers: `Content-Type: message/rfc822\r\n${disposition}`,
    body: inner.toString('latin1'),
  };
}

function brokenPart(random: SeededRandom): Part {
  switch (random.int(0, 3)) {
    case 0:
      // A multipart with no boundary parameter: one opaque part.
      return { headers: 'Content-Type: multipart/mixed\r\n', body: 'no boundary here\r\n' };
    case 1:
      // Base64 cut mid-quantum and carrying junk.
      return {
        headers:
          'Content-Type: application/octet-stream; name="cut.bin"\r\nContent-Transfer-Encoding: base64\r\n',
        body: `${random.bytes(40).toString('base64').slice(0, 37)}!!*\r\nQUJD`,
      };
    case 2:
      // Quoted-printable with a broken escape and a soft break at the very end.
      return {
        headers:
          'Content-Type: application/octet-stream; name="qp.bin"\r\nContent-Transfer-Encoding: quoted-printable\r\n',
        body: 'abc=ZZdef=4\r\nline=\r\n',
      };
    default:
      // A Content-Type with no subtype and a disposition without one.
      return {
        headers: 'Content-Type: application\r\nContent-Disposition: attachment\r\n',
        body: 'x\r\n',
      };
  }
}

function part(random: SeededRandom, depth: number): Part {
  const roll = random.next();
  if (depth < 3 && roll < 0.2) return multipartPart(random, depth);
  if (depth < 2 && roll < 0.25) return embeddedPart(random, depth);
  if (roll < 0.3) return brokenPart(random);
  if (roll < 0.6) return textPart(random);
  return attachmentPart(random);
}

function header(name: string, value: Buffer | string): Buffer {
  return Buffer.concat([
    Buffer.from(`${name}: `),
    Buffer.isBuffer(value) ? value : Buffer.from(value, 'latin1'),
    Buffer.from('\r\n'),
  ]);
}

/** One message as octets. `depth` is how deeply it is embedded. */
export function message(random: SeededRandom, depth = 0): Buffer {
  const headers: Buffer[] = [];
  headers.push(
    header(
      'From',
      random.chance(0.1)
        ? encodeText(`${random.pick(TEXTS['iso-8859-1'])} <${address(random)}>`, 'iso-8859-1')
        : mailbox(random),
    ),
  );
  headers.push(header('To', addressList(random)));
  if (random.chance(0.5)) headers.push(header('Cc', addressList(random)));
  if (random.chance(0.95)) headers.push(header('Subject', subject(random)));
  const dateValue = date(random);
  if (dateValue !== null) headers.push(header('Date', dateValue));
  const id = `${random.int(0, 1e9).toString(36)}.${random.int(0, 1e6)}@${random.pick(DOMAINS)}`;
  switch (random.int(0, 5)) {
    case 0:
      break;
    case 1:
      headers.push(header('Message-ID', id));
      break;
    case 2:
      headers.push(header('Message-ID', `<${id}> (added by relay)`));
      break;
    default:
      headers.push(header('Message-ID', `<${id}>`));
  }
  headers.push(header('MIME-Version', '1.0'));
  const body = random.chance(0.3) ? textPart(random) : part(random, depth);
  let raw = Buffer.concat([
    ...headers,
    Buffer.from(body.headers, 'latin1'),
    Buffer.from('\r\n'),
    Buffer.from(body.body, 'latin1'),
  ]);
  // Mail stored on Unix: bare LF throughout.
  if (depth === 0 && random.chance(0.1))
    raw = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
  return raw;
}

/** `count` messages from `seed`. */
export function* generatedMessages(seed: number, count: number): Generator<Buffer> {
  const random = new SeededRandom(seed);
  for (let i = 0; i < count; i++) yield message(random);
}
