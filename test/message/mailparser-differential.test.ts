/**
 * The scanner held to mailparser 3.14.2, the parser it replaced: every fixture and GENERATED_COUNT
 * seeded generated messages are parsed by both, and the fields of the index record compared. Any
 * difference must be explained by a row of ALLOWED_DIFFERENCES, each with its reason and the RFC
 * clause behind it. That table is the scanner's specification: where it is silent, the scanner does
 * what mailparser does.
 *
 * Attachment count and order have no row: they must always agree, because the query API numbers
 * attachments by that order. Sizes and SHA-256s have one narrow row (an empty body).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sanitizeContentType } from '../../functions/core/message/content-types.js';
import { sanitizeFilename } from '../../functions/core/message/filenames.js';
import { PARSER_VERSION } from '../../functions/core/message/parser-version.js';
import { generatedMessages } from './mail-generator.js';
import {
  COMPARED_FIELDS,
  type ComparedField,
  type ComparedRecord,
  oracleRecord,
  PARSE_TIME,
  scannerMetadata,
  scannerRecord,
} from './mailparser-oracle.js';

/**
 * Sized so that the suite stays a few seconds on the two shared cores (about 2 ms a message for both
 * parsers); the seed is fixed so that a failure names a message that can be generated again.
 */
const GENERATED_COUNT = 2000;
const SEED = 13;

/**
 * The SHA-256 of every record the scanner made of the corpus, with the parser version it belongs to:
 * a change of the scanner that reads any of these messages otherwise must raise PARSER_VERSION.
 */
const SCANNER_OUTPUT = {
  parserVersion: 1,
  // Issue 15 added `textTruncated` to the metadata, nothing else: with it left out, the corpus
  // still hashes to the version-1 digest (715ad120...), so the version stays.
  sha256: '93055c16ffa45300c4fef599f5f7e34899e71b19374fcdba17b0b94281e6b675',
};

type DifferenceField = ComparedField | 'attachment.filename' | 'attachment.contentType';

interface Difference {
  field: DifferenceField;
  oracle: unknown;
  scanner: unknown;
  /** The message's own (top-level) header fields of that name, unfolded, as latin1 octets. */
  raw: (name: string) => string[];
}

interface AllowedDifference {
  id: string;
  fields: readonly DifferenceField[];
  reason: string;
  rfc: string;
  explains: (difference: Difference) => boolean;
}

const NOT_UTF8_OR_ESCAPED = (value: string): boolean => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC opens ISO-2022-JP's designations.
  if (/\x1b/.test(value)) return true;
  if (!/[\x80-\xff]/.test(value)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(value, 'latin1'));
    return false;
  } catch {
    return true;
  }
};

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const CRLF_SHA256 = '7eb70257593da06f682a3ddda54a9d260d4fc514f645237f5ca74b08f8da61a6';

/** True when two attachment lists differ only where mailparser has a lone CRLF and the scanner nothing. */
function onlyEmptyBodiesDiffer(oracle: unknown, scanner: unknown): boolean {
  if (!Array.isArray(oracle) || !Array.isArray(scanner) || oracle.length !== scanner.length) {
    return false;
  }
  return oracle.every((theirs: { octets: number; sha256: string }, i) => {
    const ours = scanner[i] as { octets: number; sha256: string };
    if (theirs.sha256 === ours.sha256) return true;
    return theirs.sha256 === CRLF_SHA256 && ours.sha256 === EMPTY_SHA256 && ours.octets === 0;
  });
}

const MONTHS = 'jan feb mar apr may jun jul aug sep oct nov dec'.split(' ');

/** True when the Date header names a day its month does not have ("31 Feb"). */
function namesMissingDay(header: string): boolean {
  const match = /(\d{1,2})\s+([a-z]{3})[a-z]*\s+(\d{2,4})/i.exec(header);
  if (match === null) return false;
  const month = MONTHS.indexOf((match[2] ?? '').toLowerCase());
  const year = Number(match[3]);
  const day = Number(match[1]);
  return (
    month >= 0 && day > new Date(Date.UTC(year < 100 ? 2000 : year, month + 1, 0)).getUTCDate()
  );
}

/**
 * The allowed differences: where the scanner reads mail otherwise than mailparser did, on purpose.
 * Each row must explain at least one difference in the corpus, so that none outlives its reason.
 */
const ALLOWED_DIFFERENCES: readonly AllowedDifference[] = [
  {
    id: 'raw 8-bit header text is read in its charset',
    fields: ['from', 'to', 'cc', 'subject'],
    reason:
      'Header octets sent raw rather than as encoded words are read as UTF-8 when valid, as ISO-2022-JP when they carry its escapes, else as windows-1252; mailparser gives U+FFFD (or the bare escapes) for anything but UTF-8. The archive indexes the sender and subject the mail was sent with.',
    rfc: 'RFC 6532 s.3.2 (UTF-8 in headers); RFC 1468 (ISO-2022-JP in mail); RFC 5322 s.2.2 leaves other octets undefined',
    explains: (d) => d.raw(d.field).some(NOT_UTF8_OR_ESCAPED),
  },
  {
    id: 'raw ISO-2022-JP in a file name is decoded',
    fields: ['attachment.filename'],
    reason:
      'A file name parameter written raw in ISO-2022-JP is decoded; mailparser keeps its escape sequences, which sanitizing would turn into a garbled name.',
    rfc: 'RFC 1468; RFC 2231 s.4 is the standard way, which both parsers read alike',
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ESC opens ISO-2022-JP's designations.
    explains: (d) => typeof d.oracle === 'string' && /\x1b\$[@B]/.test(d.oracle),
  },
  {
    id: 'an encoded word is one word of a phrase',
    fields: ['from', 'to', 'cc'],
    reason:
      'A ":" (or other address syntax) inside an encoded word is text of the display name; mailparser tokenizes the raw field, so "=?utf-8?Q?Re:_x?= <a@b>" opened a group and left a bogus entry.',
    rfc: 'RFC 2047 s.5(3): an encoded word stands for a word of a phrase; its content is never parsed for structure',
    explains: (d) =>
      d.raw(d.field).some((value) => /=\?[^?]+\?[BbQq]\?[^?]*[:;,<>@"][^?]*\?=/.test(value)),
  },
  {
    id: 'an unreadable date is null, never the parse time',
    fields: ['date'],
    reason:
      'mailparser puts the current time in for a Date header V8 cannot read; the archive would then date old mail at its import. The scanner records null, and the index orders the message by its archive time.',
    rfc: "RFC 5322 s.3.6.1: the origination date is the sender's, not the reader's",
    explains: (d) => d.oracle === PARSE_TIME && d.scanner === null,
  },
  {
    id: 'obsolete and common date syntax V8 cannot read is read',
    fields: ['date'],
    reason:
      'Named zones beyond RFC 822\'s, comments and folding in odd places, "GMT+0200" and similar forms parse; mailparser gave the parse time for them.',
    rfc: 'RFC 5322 s.4.3 (obsolete date and time) and s.3.3 (CFWS)',
    explains: (d) => d.oracle === PARSE_TIME && typeof d.scanner === 'string',
  },
  {
    id: 'a three-digit year is 1900 plus that year',
    fields: ['date'],
    reason:
      'Mailers of the Y2K era wrote years since 1900 ("124" for 2024); V8 reads them as the years 124 and so on.',
    rfc: 'RFC 5322 s.4.3: a three-digit year is interpreted by adding 1900',
    explains: (d) =>
      typeof d.oracle === 'string' &&
      typeof d.scanner === 'string' &&
      d.raw('date').some((value) => /[a-z]{3}\s+\d{3}\s/i.test(value)) &&
      Number(d.scanner.slice(0, 4)) === Number(d.oracle.slice(0, 4)) + 1900 &&
      d.scanner.slice(4) === d.oracle.slice(4),
  },
  {
    id: 'a day its month does not have is no date',
    fields: ['date'],
    reason: 'V8 rolls "31 Feb" over into March; that date was never written, so it is null.',
    rfc: 'RFC 5322 s.3.3: the day must exist in its month and year',
    explains: (d) => d.scanner === null && d.raw('date').some(namesMissingDay),
  },
  {
    id: 'the Message-ID is the msg-id token, encoded words and all',
    fields: ['messageId'],
    reason:
      'The Message-ID is the first <...> of the field as sent, so that a reply quoting it in In-Reply-To or References matches it; mailparser decodes encoded words in it and keeps a trailing comment inside its brackets ("<a@b> (relay)>").',
    rfc: 'RFC 5322 s.3.6.4 (msg-id is "<" id-left "@" id-right ">" with CFWS around it); RFC 2047 s.5 (no encoded words in a msg-id)',
    explains: (d) =>
      typeof d.scanner === 'string' &&
      (d.raw('message-id').some((value) => value.includes('=?')) ||
        (typeof d.oracle === 'string' && d.oracle.startsWith(d.scanner))),
  },
  {
    id: 'an empty body is empty',
    fields: ['attachments'],
    reason:
      'A part whose body is empty (its header block, the blank line, then the next delimiter) is 0 octets. mailparser gives it the CRLF before the delimiter (2 octets) when another part follows, and 0 octets when the closing delimiter follows.',
    rfc: 'RFC 2046 s.5.1.1: the CRLF preceding a boundary delimiter line is part of the delimiter',
    explains: (d) => onlyEmptyBodiesDiffer(d.oracle, d.scanner),
  },
  {
    id: 'file names are made safe',
    fields: ['attachment.filename'],
    reason:
      'Only the last path segment is kept, control and bidi characters and Windows-reserved ones are removed, and the name is bounded with its extension: the name is offered as a download name.',
    rfc: 'RFC 2183 s.2.3 (a receiving MUA should strip directory path information) and s.5 (security)',
    explains: (d) =>
      (typeof d.oracle === 'string' || d.oracle === null) &&
      d.scanner === sanitizeFilename(d.oracle ?? undefined),
  },
  {
    id: 'a content type without a subtype is application/octet-stream',
    fields: ['attachment.contentType'],
    reason:
      'The content type is recorded as a token "type/subtype" the API can serve; anything else (no subtype, parameters, junk) is application/octet-stream.',
    rfc: 'RFC 2045 s.5.1 (type "/" subtype is required) and s.5.2 (an invalid Content-Type is not taken as given)',
    explains: (d) => typeof d.oracle === 'string' && d.scanner === sanitizeContentType(d.oracle),
  },
];

/** The top-level header fields named `name` in raw octets, unfolded. */
function rawFields(message: Buffer): (name: string) => string[] {
  const text = message.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  const lines = (end < 0 ? text : text.slice(0, end)).split(/\r?\n(?![ \t])/);
  return (name: string) =>
    lines
      .filter((line) => line.slice(0, line.indexOf(':')).trim().toLowerCase() === name)
      .map((line) => line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]/g, ' '));
}

function differences(oracle: ComparedRecord, scanner: ComparedRecord, raw: Buffer): Difference[] {
  const header = rawFields(raw);
  const out: Difference[] = [];
  const add = (field: DifferenceField, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b))
      out.push({ field, oracle: a, scanner: b, raw: header });
  };
  for (const field of COMPARED_FIELDS) {
    if (field !== 'attachments') {
      add(field, oracle[field], scanner[field]);
      continue;
    }
    const strip = (list: ComparedRecord['attachments']) =>
      list.map(({ octets, sha256 }) => ({ octets, sha256 }));
    add('attachments', strip(oracle.attachments), strip(scanner.attachments));
    if (oracle.attachments.length !== scanner.attachments.length) continue;
    oracle.attachments.forEach((attachment, i) => {
      const ours = scanner.attachments[i];
      add('attachment.filename', attachment.filename, ours?.filename);
      add('attachment.contentType', attachment.contentType, ours?.contentType);
    });
  }
  return out;
}

const FIXTURES = new URL('../fixtures/mail/', import.meta.url);

/** Fixtures are wire format (CRLF), whatever line endings a checkout gave them. */
function fixture(name: string): Buffer {
  const text = readFileSync(new URL(name, FIXTURES)).toString('latin1');
  return Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1');
}

function corpus(): Array<[string, Buffer]> {
  const messages: Array<[string, Buffer]> = readdirSync(FIXTURES)
    .filter((name) => name.endsWith('.eml'))
    .map((name) => [name, fixture(name)]);
  let index = 0;
  for (const raw of generatedMessages(SEED, GENERATED_COUNT)) {
    messages.push([`generated #${index++} (seed ${SEED})`, raw]);
  }
  return messages;
}

function describeDifference(name: string, d: Difference): string {
  return `${name}: ${d.field}\n  mailparser: ${JSON.stringify(d.oracle)}\n  scanner:    ${JSON.stringify(d.scanner)}`;
}

describe('the scanner against mailparser 3.14.2', () => {
  it('every difference on the fixtures and the generated corpus is an allowed one, and every allowed one occurs', async () => {
    const unexplained: string[] = [];
    const scannerOutput = createHash('sha256');
    const used = new Map<string, number>(ALLOWED_DIFFERENCES.map((row) => [row.id, 0]));
    for (const [name, raw] of corpus()) {
      const [oracle, metadata] = await Promise.all([oracleRecord(raw), scannerMetadata(raw)]);
      scannerOutput.update(`${JSON.stringify(metadata)}\n`);
      for (const difference of differences(oracle, scannerRecord(metadata), raw)) {
        const row = ALLOWED_DIFFERENCES.find(
          (candidate) =>
            candidate.fields.includes(difference.field) && candidate.explains(difference),
        );
        if (row === undefined) unexplained.push(describeDifference(name, difference));
        else used.set(row.id, (used.get(row.id) ?? 0) + 1);
      }
    }
    expect(unexplained.slice(0, 10).join('\n')).toBe('');
    expect([...used].filter(([, count]) => count === 0).map(([id]) => id)).toEqual([]);
    expect(
      { parserVersion: PARSER_VERSION, sha256: scannerOutput.digest('hex') },
      'the scanner reads the corpus otherwise than before: raise PARSER_VERSION (functions/core/message/parser-version.ts) and record the new digest in SCANNER_OUTPUT; if only the corpus changed, record the new digest alone',
    ).toEqual(SCANNER_OUTPUT);
  }, 60_000);

  it('every allowed difference gives its reason and its RFC clause', () => {
    for (const row of ALLOWED_DIFFERENCES) {
      expect(row.reason.length, row.id).toBeGreaterThan(40);
      expect(row.rfc, row.id).toMatch(/RFC \d+/);
    }
  });

  it('the oracle stays a devDependency: nothing under functions/ imports mailparser, so no bundle carries it', () => {
    const root = new URL('../../functions/', import.meta.url).pathname;
    const importing = readdirSync(root, { recursive: true, encoding: 'utf8' })
      .filter((path) => /\.(?:[cm]?[jt]s)$/.test(path))
      .filter((path) =>
        /(?:from\s*|import\s*\(\s*|require\s*\(\s*)['"]mailparser(?:\/[^'"]*)?['"]/.test(
          readFileSync(join(root, path), 'utf8'),
        ),
      );
    expect(importing).toEqual([]);
    const manifest = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    );
    expect(manifest.dependencies.mailparser).toBeUndefined();
    expect(manifest.devDependencies.mailparser).toBe('3.14.2');
  });
});
