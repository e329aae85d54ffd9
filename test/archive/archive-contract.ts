/**
 * What every archive adapter pair must do, whatever it stores into: the S3 + DynamoDB pair runs these
 * against the emulators (aws-archive.test.ts), the local files + SQLite pair in a temporary directory
 * (local-archive.test.ts).
 * Each test uses its own mailbox ids and Message-IDs, so a store may be shared across the tests of a
 * file (and a table across files).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ArchiveErrorCode, isArchiveError } from '../../functions/core/archive/errors.js';
import type {
  ListMessagesQuery,
  MessageIndex,
  MessagePage,
  MessageRecord,
  RawStore,
  RunRecord,
} from '../../functions/core/archive/ports.js';
import { rawObjectKey } from '../../functions/core/archive/raw-object-key.js';
import { UNVERSIONED_PARSER } from '../../functions/core/message/parser-version.js';

export interface RawStoreHarness {
  store: RawStore;
  /**
   * Every object key the store holds. Repeated puts must not add any: for S3 that is one key per
   * content, for a file store also no temporary or partial files left behind.
   */
  listKeys(): Promise<string[]>;
  /** The key the store gives these bytes in this mailbox; rawObjectKey (S3's layout) if absent. */
  keyFor?(mailboxId: string, sha256: string): string;
}

/** 20 MB: several parts for any adapter configured with its smallest multipart threshold. */
const LARGE_OCTETS = 20_000_000;

/** Ids that break naive path or URL handling, and one over the 70 characters RFC 1939 allows. */
const AWKWARD_IDS = [
  'dir/sub/inbox',
  '../../etc/passwd',
  '..',
  '%2F%00%',
  'a#b',
  'ünïcødé 日本 ✉',
  ` spaces\tand\ttabs `,
  `${'x'.repeat(75)}-long`,
];

function unique(label: string): string {
  return `${label}-${randomBytes(5).toString('hex')}`;
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function messageBytes(label: string, bodyOctets = 200): Buffer {
  const body = randomBytes(bodyOctets).toString('base64').slice(0, bodyOctets);
  return Buffer.from(`Subject: ${label}\r\nMessage-ID: <${label}@test>\r\n\r\n${body}\r\n`, 'utf8');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function hashStream(stream: Readable): Promise<{ sha256: string; octets: number }> {
  const hash = createHash('sha256');
  let octets = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Uint8Array;
    hash.update(bytes);
    octets += bytes.length;
  }
  return { sha256: hash.digest('hex'), octets };
}

/** Resolves to the ArchiveError code the promise rejected with; fails if it did not reject so. */
export async function archiveErrorCode(promise: Promise<unknown>): Promise<ArchiveErrorCode> {
  try {
    await promise;
  } catch (error) {
    if (isArchiveError(error)) return error.code;
    throw new Error(`expected an ArchiveError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection');
}

export function describeRawStoreContract(
  name: string,
  makeStore: () => Promise<RawStoreHarness>,
): void {
  describe(`RawStore contract: ${name}`, () => {
    let harness: RawStoreHarness;
    let dir: string;

    beforeAll(async () => {
      harness = await makeStore();
      dir = mkdtempSync(join(tmpdir(), 'popvault-raw-contract-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    function keyFor(mailboxId: string, sha256: string): string {
      return harness.keyFor ? harness.keyFor(mailboxId, sha256) : rawObjectKey(mailboxId, sha256);
    }

    function spool(data: Buffer): string {
      const path = join(dir, `${randomBytes(6).toString('hex')}.eml`);
      writeFileSync(path, data);
      return path;
    }

    it('stores a buffer under its content-addressed key and returns the exact bytes', async () => {
      const mailboxId = unique('mbx');
      const data = messageBytes('buffer');
      const sha256 = sha256Hex(data);
      const ref = await harness.store.put({
        mailboxId,
        sha256,
        octets: data.length,
        source: { kind: 'buffer', data },
      });
      expect(ref).toEqual({ key: keyFor(mailboxId, sha256), sha256, octets: data.length });
      expect(await harness.store.has(ref.key)).toBe(true);
      expect((await readAll(await harness.store.get(ref.key))).equals(data)).toBe(true);
    });

    it('stores the same bytes twice under one key, as one object', async () => {
      const mailboxId = unique('mbx');
      const data = messageBytes('twice');
      const input = {
        mailboxId,
        sha256: sha256Hex(data),
        octets: data.length,
        source: { kind: 'buffer' as const, data },
      };
      const before = await harness.listKeys();
      const first = await harness.store.put(input);
      const second = await harness.store.put({
        ...input,
        source: { kind: 'file', path: spool(data) },
      });
      expect(second).toEqual(first);
      const added = (await harness.listKeys()).filter((key) => !before.includes(key));
      expect(added).toEqual([first.key]);
      expect((await readAll(await harness.store.get(first.key))).equals(data)).toBe(true);
    });

    it('keeps mailboxes apart: the same bytes in two mailboxes are two objects', async () => {
      const data = messageBytes('shared');
      const sha256 = sha256Hex(data);
      const source = { kind: 'buffer' as const, data };
      const a = await harness.store.put({
        mailboxId: unique('a'),
        sha256,
        octets: data.length,
        source,
      });
      const b = await harness.store.put({
        mailboxId: unique('b'),
        sha256,
        octets: data.length,
        source,
      });
      expect(a.key).not.toBe(b.key);
      expect(await harness.store.has(a.key)).toBe(true);
      expect(await harness.store.has(b.key)).toBe(true);
    });

    it('stores a small file source byte for byte (bare LF, NUL, 8-bit, no final newline)', async () => {
      const data = Buffer.concat([
        Buffer.from('Subject: raw\r\n\r\nline\nbare lf\r\nnul:\0 8bit:\xff\xfe', 'latin1'),
        randomBytes(1000),
      ]);
      const mailboxId = unique('mbx');
      const ref = await harness.store.put({
        mailboxId,
        sha256: sha256Hex(data),
        octets: data.length,
        source: { kind: 'file', path: spool(data) },
      });
      expect((await readAll(await harness.store.get(ref.key))).equals(data)).toBe(true);
    });

    it('stores an empty message', async () => {
      const data = Buffer.alloc(0);
      const ref = await harness.store.put({
        mailboxId: unique('mbx'),
        sha256: sha256Hex(data),
        octets: 0,
        source: { kind: 'buffer', data },
      });
      expect((await readAll(await harness.store.get(ref.key))).length).toBe(0);
    });

    it('stores a 20 MB file source byte for byte, and again without a second object', async () => {
      const data = randomBytes(LARGE_OCTETS);
      const sha256 = sha256Hex(data);
      const path = spool(data);
      const mailboxId = unique('large');
      const before = await harness.listKeys();
      const input = {
        mailboxId,
        sha256,
        octets: data.length,
        source: { kind: 'file' as const, path },
      };
      const ref = await harness.store.put(input);
      expect(await hashStream(await harness.store.get(ref.key))).toEqual({
        sha256,
        octets: LARGE_OCTETS,
      });
      expect(await harness.store.put(input)).toEqual(ref);
      const added = (await harness.listKeys()).filter((key) => !before.includes(key));
      expect(added).toEqual([ref.key]);
    });

    it('keys are safe for mailbox ids with "/", "..", "%", "#", unicode and 70+ characters', async () => {
      const data = messageBytes('awkward');
      const sha256 = sha256Hex(data);
      const keys = new Set<string>();
      for (const id of AWKWARD_IDS) {
        const mailboxId = `${unique('m')}${id}`;
        const ref = await harness.store.put({
          mailboxId,
          sha256,
          octets: data.length,
          source: { kind: 'buffer', data },
        });
        expect(ref.key).toBe(keyFor(mailboxId, sha256));
        expect((await readAll(await harness.store.get(ref.key))).equals(data)).toBe(true);
        keys.add(ref.key);
      }
      expect(keys.size).toBe(AWKWARD_IDS.length);
    });

    describe('refuses bytes that are not what the caller says, and stores nothing', () => {
      it.each([
        ['buffer', 'digest'],
        ['buffer', 'octets'],
        ['file', 'digest'],
        ['file', 'octets'],
      ] as const)('%s source, wrong %s', async (kind, wrong) => {
        const data = messageBytes('mismatch');
        const other = messageBytes('other');
        const mailboxId = unique('mbx');
        const sha256 = sha256Hex(wrong === 'digest' ? other : data);
        const octets = wrong === 'octets' ? data.length + 1 : data.length;
        const source =
          kind === 'buffer'
            ? { kind: 'buffer' as const, data }
            : { kind: 'file' as const, path: spool(data) };
        const before = await harness.listKeys();
        expect(
          await archiveErrorCode(harness.store.put({ mailboxId, sha256, octets, source })),
        ).toBe('CHECKSUM_MISMATCH');
        expect(await harness.store.has(keyFor(mailboxId, sha256))).toBe(false);
        expect(await harness.store.has(keyFor(mailboxId, sha256Hex(data)))).toBe(false);
        expect(await harness.listKeys()).toEqual(before);
      });

      it('a 20 MB file whose content does not match its digest', async () => {
        const data = randomBytes(LARGE_OCTETS);
        const claimed = sha256Hex(Buffer.concat([data.subarray(1), Buffer.from('x')]));
        const mailboxId = unique('large-bad');
        const before = await harness.listKeys();
        const put = harness.store.put({
          mailboxId,
          sha256: claimed,
          octets: data.length,
          source: { kind: 'file', path: spool(data) },
        });
        expect(await archiveErrorCode(put)).toBe('CHECKSUM_MISMATCH');
        expect(await harness.store.has(keyFor(mailboxId, claimed))).toBe(false);
        expect(await harness.listKeys()).toEqual(before);
      });
    });

    it('fails one message, not the run, when the spooled file is gone', async () => {
      const put = harness.store.put({
        mailboxId: unique('mbx'),
        sha256: sha256Hex(Buffer.from('x')),
        octets: 1,
        source: { kind: 'file', path: join(dir, 'no-such-file.eml') },
      });
      await expect(put).rejects.toMatchObject({ code: 'SOURCE_UNREADABLE', systemic: false });
    });

    it('refuses a digest that is not lower-case hex SHA-256', async () => {
      const data = messageBytes('bad-digest');
      const put = harness.store.put({
        mailboxId: unique('mbx'),
        sha256: sha256Hex(data).toUpperCase(),
        octets: data.length,
        source: { kind: 'buffer', data },
      });
      expect(await archiveErrorCode(put)).toBe('INVALID_ARGUMENT');
    });

    it('reports an unknown key as absent (has) and NOT_FOUND (get)', async () => {
      const key = keyFor(unique('mbx'), sha256Hex(randomBytes(8)));
      expect(await harness.store.has(key)).toBe(false);
      expect(await archiveErrorCode(harness.store.get(key))).toBe('NOT_FOUND');
    });
  });
}

let recordCounter = 0;

/** A fully populated record; every field differs from record to record. */
export function makeRecord(
  overrides: Partial<MessageRecord> & { mailboxId: string },
): MessageRecord {
  recordCounter += 1;
  const n = recordCounter;
  const sha256 = sha256Hex(Buffer.from(`record ${n}`));
  return {
    messageId: `<${n}.${randomBytes(4).toString('hex')}@example.test>`,
    from: [{ address: `sender${n}@example.test`, name: `Sender ${n}` }],
    to: [
      { address: 'to@example.test', name: 'Tö Ünïcode' },
      { address: '', name: 'Undisclosed' },
    ],
    cc: [],
    addressesTruncated: false,
    subject: `Subject ${n}: ünïcode ✉ "quotes" \\ back`,
    dateHeader: 'Tue, 05 Mar 2024 10:00:00 +0100',
    date: '2024-03-05T09:00:00.000Z',
    attachments: [
      { filename: 'report.pdf', contentType: 'application/pdf', octets: 12345, sha256 },
      { filename: null, contentType: 'image/png', octets: 0, sha256 },
    ],
    attachmentsTruncated: false,
    snippet: 'First line\r\nsecond line',
    parseError: null,
    parserVersion: 1 + (n % 7),
    textTruncated: n % 2 === 0,
    messageKey: `uidl-${n}`,
    uidl: `uidl-${n}`,
    octets: 4096 + n,
    sha256,
    rawKey: rawObjectKey(overrides.mailboxId, sha256),
    archivedAt: '2024-06-01T12:00:00.000Z',
    runId: `run-${n}`,
    deletedFromServerAt: null,
    ...overrides,
  };
}

function hoursAfter(base: string, hours: number): string {
  return new Date(Date.parse(base) + hours * 3_600_000).toISOString();
}

/** Every page of a listing, following cursors; fails on a runaway listing. */
async function collectPages(
  list: (cursor: string | null) => Promise<MessagePage>,
  maxPages = 100,
): Promise<{ items: MessageRecord[]; pages: number }> {
  const items: MessageRecord[] = [];
  let cursor: string | null = null;
  for (let pages = 1; pages <= maxPages; pages++) {
    const page: MessagePage = await list(cursor);
    items.push(...page.items);
    if (page.cursor === null) return { items, pages };
    cursor = page.cursor;
  }
  throw new Error(`listing did not end within ${maxPages} pages`);
}

export function makeRun(
  mailboxId: string,
  startedAt: string,
  overrides: Partial<RunRecord> = {},
): RunRecord {
  return {
    mailboxId,
    runId: unique('run'),
    startedAt,
    endedAt: hoursAfter(startedAt, 0.01),
    outcome: 'partial',
    counts: {
      listed: 10,
      retrieved: 8,
      stored: 6,
      alreadyStored: 2,
      deleted: 5,
      skipped: 1,
      failed: 1,
      octets: 123_456,
      remainingOnServer: 5,
    },
    stopReason: 'budget-time',
    errorCode: 'STORE_FAILED',
    errorMessage: 'one message failed',
    failures: [{ messageKey: 'uidl-x', errorCode: 'CHECKSUM_MISMATCH', message: 'bad bytes' }],
    session: { utf8: 'active', sizeMismatches: 1, sizesSuspect: false },
    ...overrides,
  };
}

export function describeMessageIndexContract(
  name: string,
  makeIndex: () => Promise<MessageIndex>,
): void {
  describe(`MessageIndex contract: ${name}`, () => {
    let index: MessageIndex;

    beforeAll(async () => {
      index = await makeIndex();
    });

    async function putAll(records: MessageRecord[]): Promise<void> {
      for (const record of records)
        expect(await index.putMessage(record)).toEqual({ created: true });
    }

    describe('records', () => {
      it('round-trips a record exactly', async () => {
        const record = makeRecord({ mailboxId: unique('mbx') });
        expect(await index.putMessage(record)).toEqual({ created: true });
        expect(await index.getMessage(record.mailboxId, record.messageKey)).toStrictEqual(record);
      });

      it('round-trips nulls, empty lists and truncation flags', async () => {
        const record = makeRecord({
          mailboxId: unique('mbx'),
          messageId: null,
          from: [],
          to: [],
          subject: null,
          dateHeader: null,
          date: null,
          attachments: [],
          attachmentsTruncated: true,
          addressesTruncated: true,
          snippet: '',
          parseError: 'unexpected end of headers',
          uidl: null,
          messageKey: `sha256:${sha256Hex(randomBytes(4))}`,
          deletedFromServerAt: '2024-06-02T00:00:00.000Z',
        });
        await putAll([record]);
        expect(await index.getMessage(record.mailboxId, record.messageKey)).toStrictEqual(record);
      });

      it('creates a record once: a second put returns the stored one and changes nothing', async () => {
        const record = makeRecord({ mailboxId: unique('mbx') });
        expect(await index.putMessage(record)).toEqual({ created: true });
        const again = { ...record, subject: 'changed', runId: 'another-run' };
        expect(await index.putMessage(again)).toStrictEqual({ created: false, existing: record });
        expect(await index.getMessage(record.mailboxId, record.messageKey)).toStrictEqual(record);
        const page = await index.listMessages(record.mailboxId, { limit: 10 });
        expect(page.items).toStrictEqual([record]);
      });

      it('a record without a parser version, as code before versions wrote it, reads back as unversioned (0)', async () => {
        const { parserVersion: _, ...older } = makeRecord({ mailboxId: unique('mbx') });
        expect(await index.putMessage(older as MessageRecord)).toEqual({ created: true });
        const stored = { ...older, parserVersion: UNVERSIONED_PARSER };
        expect(await index.getMessage(older.mailboxId, older.messageKey)).toStrictEqual(stored);
        const page = await index.listMessages(older.mailboxId, { limit: 10 });
        expect(page.items).toStrictEqual([stored]);
      });

      it('returns null for an unknown record', async () => {
        expect(await index.getMessage(unique('mbx'), 'no-such-uidl')).toBeNull();
      });

      it('keys are safe for any mailbox id and message key', async () => {
        const prefix = unique('k');
        const messageKeys = [
          ...AWKWARD_IDS,
          `sha256:${sha256Hex(Buffer.from('a'))}`,
          `uidl-1#sha256:${sha256Hex(Buffer.from('b'))}`,
        ];
        const records = AWKWARD_IDS.flatMap((id, i) =>
          messageKeys
            .filter((_, j) => (i + j) % 3 === 0)
            .map((messageKey) => makeRecord({ mailboxId: `${prefix}${id}`, messageKey })),
        );
        await putAll(records);
        for (const record of records) {
          expect(await index.getMessage(record.mailboxId, record.messageKey)).toStrictEqual(record);
        }
        for (const id of AWKWARD_IDS) {
          const mailboxId = `${prefix}${id}`;
          const { items } = await collectPages((cursor) =>
            index.listMessages(mailboxId, { limit: 100, cursor }),
          );
          const expected = records
            .filter((r) => r.mailboxId === mailboxId)
            .map((r) => r.messageKey);
          expect(items.map((r) => r.messageKey).sort()).toEqual(expected.sort());
        }
      });

      it('never mixes mailboxes whose ids only differ after a "#"', async () => {
        const base = unique('hash');
        // Mailbox "p" with sender "q#r@x" and mailbox "p#q" with sender "r@x" spell one string.
        const a = makeRecord({ mailboxId: base, from: [{ address: 'q#r@x.test', name: '' }] });
        const b = makeRecord({ mailboxId: `${base}#q`, from: [{ address: 'r@x.test', name: '' }] });
        await putAll([a, b]);
        expect((await index.listMessages(base, { limit: 10 })).items).toStrictEqual([a]);
        expect((await index.listMessages(`${base}#q`, { limit: 10 })).items).toStrictEqual([b]);
        expect((await index.listBySender(base, 'q#r@x.test', { limit: 10 })).items).toStrictEqual([
          a,
        ]);
        expect(
          (await index.listBySender(`${base}#q`, 'r@x.test', { limit: 10 })).items,
        ).toStrictEqual([b]);
        expect((await index.listBySender(base, 'r@x.test', { limit: 10 })).items).toEqual([]);
        expect((await index.listBySender(`${base}#q`, 'q#r@x.test', { limit: 10 })).items).toEqual(
          [],
        );
      });
    });

    describe('getMessages', () => {
      it('looks up more than 100 keys at once; unknown and repeated keys are handled', async () => {
        const mailboxId = unique('batch');
        const records = Array.from({ length: 150 }, (_, i) =>
          makeRecord({ mailboxId, messageKey: `uidl-${String(i).padStart(4, '0')}` }),
        );
        await Promise.all(records.map((r) => index.putMessage(r)));
        const unknown = Array.from({ length: 80 }, (_, i) => `unknown-${i}`);
        const asked = [
          ...records.map((r) => r.messageKey),
          ...unknown,
          ...records.slice(0, 30).map((r) => r.messageKey),
        ];
        const found = await index.getMessages(mailboxId, asked);
        expect(found.size).toBe(150);
        for (const record of records) expect(found.get(record.messageKey)).toStrictEqual(record);
      });

      it('finds only the asked mailbox’s records, and nothing for no keys', async () => {
        const record = makeRecord({ mailboxId: unique('one') });
        await putAll([record]);
        expect((await index.getMessages(unique('other'), [record.messageKey])).size).toBe(0);
        expect((await index.getMessages(record.mailboxId, [])).size).toBe(0);
      });
    });

    describe('markDeleted', () => {
      it('sets deletedFromServerAt on known records only; unknown keys create nothing', async () => {
        const mailboxId = unique('del');
        const records = Array.from({ length: 40 }, (_, i) =>
          makeRecord({ mailboxId, messageKey: `uidl-${i}` }),
        );
        await putAll(records);
        const at = '2024-07-01T08:00:00.000Z';
        const deleted = records.slice(0, 25).map((r) => r.messageKey);
        await index.markDeleted(
          mailboxId,
          [...deleted, 'unknown-1', 'unknown-2', ...deleted.slice(0, 3)],
          at,
        );
        const found = await index.getMessages(
          mailboxId,
          records.map((r) => r.messageKey),
        );
        for (const [i, record] of records.entries()) {
          expect(found.get(record.messageKey)).toStrictEqual({
            ...record,
            deletedFromServerAt: i < 25 ? at : null,
          });
        }
        expect(await index.getMessage(mailboxId, 'unknown-1')).toBeNull();
        expect((await index.listMessages(mailboxId, { limit: 100 })).items).toHaveLength(40);
      });

      it('does nothing for no keys', async () => {
        await expect(
          index.markDeleted(unique('del'), [], '2024-07-01T08:00:00.000Z'),
        ).resolves.toBeUndefined();
      });
    });

    describe('listMessages', () => {
      const base = '2024-01-01T00:00:00.000Z';
      let mailboxId: string;
      let records: MessageRecord[];

      beforeAll(async () => {
        mailboxId = unique('list');
        // 23 messages an hour apart, put in scrambled order; every fourth has no parseable date and
        // sorts by its archive time instead.
        records = Array.from({ length: 23 }, (_, i) => {
          const when = hoursAfter(base, i);
          return i % 4 === 3
            ? makeRecord({ mailboxId, messageKey: `m-${i}`, date: null, archivedAt: when })
            : makeRecord({
                mailboxId,
                messageKey: `m-${i}`,
                date: when,
                archivedAt: hoursAfter(base, 1000),
              });
        });
        await putAll([...records].sort((a, b) => a.sha256.localeCompare(b.sha256)));
      });

      function newestFirst(list: MessageRecord[]): string[] {
        return [...list].reverse().map((r) => r.messageKey);
      }

      it('pages newest first over several pages, without duplicates or gaps', async () => {
        const { items, pages } = await collectPages((cursor) =>
          index.listMessages(mailboxId, { limit: 5, cursor }),
        );
        expect(pages).toBeGreaterThanOrEqual(5);
        expect(items.map((r) => r.messageKey)).toEqual(newestFirst(records));
        expect(items).toStrictEqual([...records].reverse());
      });

      it('returns at most `limit` items per page', async () => {
        const page = await index.listMessages(mailboxId, { limit: 7 });
        expect(page.items).toHaveLength(7);
        expect(page.cursor).not.toBeNull();
      });

      it('filters by since and until, both inclusive, across pages', async () => {
        const query: ListMessagesQuery = {
          limit: 2,
          since: hoursAfter(base, 5),
          until: hoursAfter(base, 12),
        };
        const { items } = await collectPages((cursor) =>
          index.listMessages(mailboxId, { ...query, cursor }),
        );
        expect(items.map((r) => r.messageKey)).toEqual(newestFirst(records.slice(5, 13)));
      });

      it('filters by since alone and by until alone', async () => {
        const since = await collectPages((cursor) =>
          index.listMessages(mailboxId, { limit: 4, since: hoursAfter(base, 20), cursor }),
        );
        expect(since.items.map((r) => r.messageKey)).toEqual(newestFirst(records.slice(20)));
        const until = await collectPages((cursor) =>
          index.listMessages(mailboxId, { limit: 4, until: hoursAfter(base, 2), cursor }),
        );
        expect(until.items.map((r) => r.messageKey)).toEqual(newestFirst(records.slice(0, 3)));
      });

      it('accepts bounds in any ISO 8601 offset', async () => {
        const { items } = await collectPages((cursor) =>
          index.listMessages(mailboxId, {
            limit: 10,
            // 02:00+01:00 is 01:00Z; 04:30+02:00 is 02:30Z.
            since: '2024-01-01T02:00:00+01:00',
            until: '2024-01-01T04:30:00+02:00',
            cursor,
          }),
        );
        expect(items.map((r) => r.messageKey)).toEqual(newestFirst(records.slice(1, 3)));
      });

      it('returns an empty last page for an empty mailbox or range', async () => {
        expect(await index.listMessages(unique('empty'), { limit: 10 })).toEqual({
          items: [],
          cursor: null,
        });
        const page = await index.listMessages(mailboxId, {
          limit: 10,
          since: '2030-01-01T00:00:00.000Z',
        });
        expect(page).toEqual({ items: [], cursor: null });
      });

      it('rejects tampered, foreign and cross-listing cursors', async () => {
        const { cursor } = await index.listMessages(mailboxId, { limit: 3 });
        if (cursor === null) throw new Error('expected a cursor');
        const otherMailbox = unique('other');
        await putAll([
          makeRecord({ mailboxId: otherMailbox }),
          makeRecord({ mailboxId: otherMailbox }),
        ]);
        const sender = records[0]?.from[0]?.address ?? '';
        const senderCursor = (await index.listBySender(mailboxId, sender, { limit: 1 })).cursor;
        const bad = [
          cursor.slice(0, Math.floor(cursor.length / 2)),
          'not a cursor',
          '%%%',
          Buffer.from('{"v":1}').toString('base64url'),
        ];
        for (const tampered of bad) {
          expect(
            await archiveErrorCode(index.listMessages(mailboxId, { limit: 3, cursor: tampered })),
          ).toBe('INVALID_CURSOR');
        }
        expect(await archiveErrorCode(index.listMessages(otherMailbox, { limit: 3, cursor }))).toBe(
          'INVALID_CURSOR',
        );
        expect(
          await archiveErrorCode(index.listBySender(mailboxId, sender, { limit: 3, cursor })),
        ).toBe('INVALID_CURSOR');
        // The sender listing is exhausted after one page or not; a cursor, when issued, is its own.
        if (senderCursor !== null) {
          expect(
            await archiveErrorCode(
              index.listMessages(mailboxId, { limit: 3, cursor: senderCursor }),
            ),
          ).toBe('INVALID_CURSOR');
        }
      });

      it('rejects limits and bounds no store can honour', async () => {
        for (const limit of [0, -1, 1.5, Number.NaN]) {
          expect(await archiveErrorCode(index.listMessages(mailboxId, { limit }))).toBe(
            'INVALID_ARGUMENT',
          );
        }
        expect(
          await archiveErrorCode(index.listMessages(mailboxId, { limit: 5, since: 'yesterday' })),
        ).toBe('INVALID_ARGUMENT');
        expect(await archiveErrorCode(index.listMessages(mailboxId, { limit: 5, until: '' }))).toBe(
          'INVALID_ARGUMENT',
        );
      });
    });

    describe('findByMessageId', () => {
      it('finds a Message-ID across mailboxes, and nothing for an unknown one', async () => {
        const messageId = `<${unique('mid')}@example.test>`;
        const a = makeRecord({ mailboxId: unique('a'), messageId });
        const b = makeRecord({ mailboxId: unique('b'), messageId });
        const b2 = makeRecord({
          mailboxId: b.mailboxId,
          messageId,
          messageKey: `${b.messageKey}#sha256:x`,
        });
        const other = makeRecord({ mailboxId: a.mailboxId });
        await putAll([a, b, b2, other]);
        const found = await index.findByMessageId(messageId);
        const byKey = (r: MessageRecord) => `${r.mailboxId}\n${r.messageKey}`;
        expect([...found].sort((x, y) => byKey(x).localeCompare(byKey(y)))).toStrictEqual(
          [a, b, b2].sort((x, y) => byKey(x).localeCompare(byKey(y))),
        );
        expect(await index.findByMessageId(`<${unique('none')}@example.test>`)).toEqual([]);
        expect(await index.findByMessageId('')).toEqual([]);
      });
    });

    describe('listBySender', () => {
      it('lists one sender newest first, case-insensitively, by the first From address', async () => {
        const mailboxId = unique('sender');
        const base = '2024-02-01T00:00:00.000Z';
        const alice = { address: 'alice@example.test', name: 'Alice' };
        const bob = { address: 'bob@example.test', name: 'Bob' };
        const fromAlice = Array.from({ length: 7 }, (_, i) =>
          makeRecord({ mailboxId, from: [alice], date: hoursAfter(base, i * 3) }),
        );
        const others = [
          makeRecord({ mailboxId, from: [bob, alice], date: hoursAfter(base, 1) }),
          makeRecord({ mailboxId, from: [], date: hoursAfter(base, 2) }),
          makeRecord({ mailboxId: unique('elsewhere'), from: [alice] }),
        ];
        await putAll([...others, ...fromAlice]);
        for (const query of ['alice@example.test', 'ALICE@Example.Test', ' Alice@EXAMPLE.test ']) {
          const { items } = await collectPages((cursor) =>
            index.listBySender(mailboxId, query, { limit: 3, cursor }),
          );
          expect(items).toStrictEqual([...fromAlice].reverse());
        }
        const ranged = await collectPages((cursor) =>
          index.listBySender(mailboxId, alice.address, {
            limit: 2,
            since: hoursAfter(base, 3),
            until: hoursAfter(base, 12),
            cursor,
          }),
        );
        expect(ranged.items).toStrictEqual(fromAlice.slice(1, 5).reverse());
        expect(
          (await index.listBySender(mailboxId, 'bob@example.test', { limit: 10 })).items,
        ).toStrictEqual([others[0]]);
        expect(
          (await index.listBySender(mailboxId, 'nobody@example.test', { limit: 10 })).items,
        ).toEqual([]);
      });
    });

    describe('listing filters', () => {
      const base = '2024-03-01T00:00:00.000Z';
      const SUBJECTS = [
        'Invoice March',
        'hello',
        'RE: your INVOICE',
        'Ünïcode ÄÖÜ',
        'nothing to see',
        'invoices attached',
      ];
      const alice = { address: 'alice@example.test', name: 'Alice' };
      let mailboxId: string;
      let records: MessageRecord[];

      beforeAll(async () => {
        mailboxId = unique('filter');
        records = Array.from({ length: 30 }, (_, i) =>
          makeRecord({
            mailboxId,
            messageKey: `f-${String(i).padStart(2, '0')}`,
            subject: i === 7 ? null : (SUBJECTS[i % SUBJECTS.length] ?? null),
            // Every fourth without attachments; 10 and 11 share an instant (ties by key).
            ...(i % 4 === 0 ? { attachments: [] } : {}),
            ...(i % 3 === 0 ? { from: [alice] } : {}),
            date: hoursAfter(base, i === 11 ? 10 : i),
          }),
        );
        await putAll([...records].sort((a, b) => a.sha256.localeCompare(b.sha256)));
      });

      /** Newest first, ties by message key descending: the order every listing uses. */
      function newest(list: MessageRecord[]): string[] {
        return [...list]
          .sort((a, b) =>
            a.date === b.date
              ? Buffer.compare(Buffer.from(b.messageKey), Buffer.from(a.messageKey))
              : (b.date ?? '').localeCompare(a.date ?? ''),
          )
          .map((r) => r.messageKey);
      }

      /** Every page of a filtered listing, checking that none holds more than `limit` items. */
      async function pages(
        query: Omit<ListMessagesQuery, 'cursor'>,
        sender?: string,
      ): Promise<string[]> {
        const { items } = await collectPages(async (cursor) => {
          const page =
            sender === undefined
              ? await index.listMessages(mailboxId, { ...query, cursor })
              : await index.listBySender(mailboxId, sender, { ...query, cursor });
          expect(page.items.length).toBeLessThanOrEqual(query.limit);
          return page;
        });
        return items.map((r) => r.messageKey);
      }

      function withSubject(needle: string) {
        return (r: MessageRecord) => r.subject?.toLowerCase().includes(needle) ?? false;
      }

      it('filters by a case-insensitive subject substring across pages, without duplicates or gaps', async () => {
        for (const [needle, lower] of [
          ['invoice', 'invoice'],
          ['INVOICE', 'invoice'],
          ['VoIcEs', 'voices'],
          ['ÜNÏCODE äöü', 'ünïcode äöü'],
        ] as const) {
          const expected = newest(records.filter(withSubject(lower)));
          expect(expected.length).toBeGreaterThan(0);
          expect(await pages({ limit: 2, subject: needle })).toEqual(expected);
        }
      });

      it('filters by attachments, with and without, across pages', async () => {
        expect(await pages({ limit: 3, hasAttachments: true })).toEqual(
          newest(records.filter((r) => r.attachments.length > 0)),
        );
        expect(await pages({ limit: 3, hasAttachments: false })).toEqual(
          newest(records.filter((r) => r.attachments.length === 0)),
        );
      });

      it('combines filters with each other, with a date range, and in the sender listing', async () => {
        const invoice = withSubject('invoice');
        expect(await pages({ limit: 2, subject: 'invoice', hasAttachments: false })).toEqual(
          newest(records.filter((r) => invoice(r) && r.attachments.length === 0)),
        );
        const since = hoursAfter(base, 6);
        const until = hoursAfter(base, 20);
        expect(await pages({ limit: 1, subject: 'Invoice', since, until })).toEqual(
          newest(
            records.filter((r) => invoice(r) && (r.date ?? '') >= since && (r.date ?? '') <= until),
          ),
        );
        const fromAlice = records.filter((r) => r.from[0]?.address === alice.address);
        expect(await pages({ limit: 2, hasAttachments: true }, 'ALICE@example.test')).toEqual(
          newest(fromAlice.filter((r) => r.attachments.length > 0)),
        );
        expect(await pages({ limit: 2, subject: 'hello' }, alice.address)).toEqual(
          newest(fromAlice.filter(withSubject('hello'))),
        );
      });

      it('ends with an empty listing when nothing matches, and never matches a missing subject', async () => {
        expect(await pages({ limit: 5, subject: 'no such subject anywhere' })).toEqual([]);
        expect(await pages({ limit: 10, subject: 'e' })).not.toContain('f-07');
      });
    });

    describe('lease', () => {
      it('refuses a lease whose times are not whole milliseconds or whose TTL is not positive', async () => {
        const mailboxId = unique('lease-args');
        for (const [now, ttlMs] of [
          [Number.NaN, 1000],
          [1.5, 1000],
          [1000, 0],
          [1000, -1],
          [1000, Number.POSITIVE_INFINITY],
        ] as const) {
          expect(
            await archiveErrorCode(index.acquireLease({ mailboxId, owner: 'run-a', now, ttlMs })),
          ).toBe('INVALID_ARGUMENT');
        }
        expect(await index.leaseHolder(mailboxId)).toBeNull();
      });

      const ttlMs = 60_000;
      const t0 = 1_700_000_000_000;

      it('free -> acquired; held -> refused; own -> renewed; expired -> taken over', async () => {
        const mailboxId = unique('lease');
        expect(await index.acquireLease({ mailboxId, owner: 'run-a', now: t0, ttlMs })).toBe(true);
        expect(await index.acquireLease({ mailboxId, owner: 'run-b', now: t0 + 1000, ttlMs })).toBe(
          false,
        );
        // Renewal moves the expiry: at t0 + 90 s the first grant would have expired.
        expect(
          await index.acquireLease({ mailboxId, owner: 'run-a', now: t0 + 50_000, ttlMs }),
        ).toBe(true);
        expect(
          await index.acquireLease({ mailboxId, owner: 'run-b', now: t0 + 90_000, ttlMs }),
        ).toBe(false);
        expect(
          await index.acquireLease({
            mailboxId,
            owner: 'run-b',
            now: t0 + 50_000 + ttlMs + 1,
            ttlMs,
          }),
        ).toBe(true);
        expect(
          await index.acquireLease({ mailboxId, owner: 'run-a', now: t0 + 120_000, ttlMs }),
        ).toBe(false);
      });

      it('released -> free; a release by someone else changes nothing', async () => {
        const mailboxId = unique('lease');
        expect(await index.acquireLease({ mailboxId, owner: 'run-a', now: t0, ttlMs })).toBe(true);
        await index.releaseLease(mailboxId, 'run-b');
        expect(await index.acquireLease({ mailboxId, owner: 'run-b', now: t0 + 1, ttlMs })).toBe(
          false,
        );
        await index.releaseLease(mailboxId, 'run-a');
        expect(await index.acquireLease({ mailboxId, owner: 'run-b', now: t0 + 2, ttlMs })).toBe(
          true,
        );
        // Releasing a lease that is gone, or was never taken, is fine.
        await index.releaseLease(mailboxId, 'run-a');
        await index.releaseLease(unique('never'), 'run-a');
      });

      it('names its holder; a live lease is taken over only from the very owner proved dead', async () => {
        const mailboxId = unique('takeover');
        expect(await index.leaseHolder(mailboxId)).toBeNull();
        expect(await index.acquireLease({ mailboxId, owner: 'dead', now: t0, ttlMs })).toBe(true);
        expect(await index.leaseHolder(mailboxId)).toEqual({
          owner: 'dead',
          expiresAt: t0 + ttlMs,
        });
        // Naming some other owner as dead takes nothing: the lease may have changed hands since.
        expect(
          await index.acquireLease({
            mailboxId,
            owner: 'next',
            now: t0 + 1,
            ttlMs,
            takeOverFrom: 'someone-else',
          }),
        ).toBe(false);
        expect(
          await index.acquireLease({
            mailboxId,
            owner: 'next',
            now: t0 + 1,
            ttlMs,
            takeOverFrom: 'dead',
          }),
        ).toBe(true);
        expect(await index.leaseHolder(mailboxId)).toEqual({
          owner: 'next',
          expiresAt: t0 + 1 + ttlMs,
        });
        await index.releaseLease(mailboxId, 'next');
        expect(await index.leaseHolder(mailboxId)).toBeNull();
      });

      it('leases are per mailbox', async () => {
        const a = unique('lease');
        expect(await index.acquireLease({ mailboxId: a, owner: 'run-a', now: t0, ttlMs })).toBe(
          true,
        );
        expect(
          await index.acquireLease({ mailboxId: `${a}#2`, owner: 'run-b', now: t0, ttlMs }),
        ).toBe(true);
      });

      it('of concurrent acquires for one mailbox exactly one wins', async () => {
        const mailboxId = unique('race');
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            index.acquireLease({ mailboxId, owner: `run-${i}`, now: t0, ttlMs }),
          ),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('runs', () => {
      it('lists runs newest first, limited, round-tripping exactly', async () => {
        const mailboxId = unique('runs');
        const runs = [
          makeRun(mailboxId, '2024-05-01T10:00:00.000Z'),
          makeRun(mailboxId, '2024-05-03T10:00:00.000Z', {
            outcome: 'success',
            failures: [],
            errorCode: null,
            errorMessage: null,
            stopReason: null,
          }),
          makeRun(mailboxId, '2024-05-02T10:00:00.000Z', { outcome: 'failed' }),
          makeRun(mailboxId, '2024-05-02T10:00:00.000Z', { outcome: 'retry-later' }),
        ];
        for (const run of runs) await index.putRun(run);
        await index.putMessage(makeRecord({ mailboxId }));
        await index.acquireLease({ mailboxId, owner: 'x', now: Date.now(), ttlMs: 1000 });
        const listed = await index.listRuns(mailboxId, 10);
        expect(listed).toHaveLength(4);
        expect(listed[0]).toStrictEqual(runs[1]);
        expect(listed.slice(1, 3)).toEqual(expect.arrayContaining([runs[2], runs[3]]));
        expect(listed[3]).toStrictEqual(runs[0]);
        expect(await index.listRuns(mailboxId, 2)).toStrictEqual(listed.slice(0, 2));
        expect(await index.listRuns(unique('none'), 5)).toEqual([]);
      });

      it('a run put again (at its end) replaces its record', async () => {
        const mailboxId = unique('runs');
        const started = makeRun(mailboxId, '2024-05-01T10:00:00.000Z', { outcome: 'retry-later' });
        const ended = {
          ...started,
          outcome: 'success' as const,
          endedAt: '2024-05-01T10:05:00.000Z',
        };
        await index.putRun(started);
        await index.putRun(ended);
        expect(await index.listRuns(mailboxId, 10)).toStrictEqual([ended]);
      });
    });

    describe('messages archived per day', () => {
      it('counts each created record on its UTC archive day, from the day asked on, oldest first', async () => {
        const mailboxId = unique('days');
        const other = unique('days-other');
        const at = (iso: string) => makeRecord({ mailboxId, archivedAt: iso });
        const records = [
          at('2026-11-30T23:59:59.999Z'),
          at('2026-12-01T00:00:00.000Z'),
          at('2026-12-01T12:00:00.000Z'),
          at('2026-12-03T08:00:00.000Z'),
          makeRecord({ mailboxId: other, archivedAt: '2026-12-01T10:00:00.000Z' }),
        ];
        await putAll(records);
        // A put that finds its record already there counts nothing.
        expect((await index.putMessage({ ...(records[3] as MessageRecord) })).created).toBe(false);
        expect(await index.archivedPerDay(mailboxId, '2026-12-01')).toStrictEqual([
          { day: '2026-12-01', messages: 2 },
          { day: '2026-12-03', messages: 1 },
        ]);
        expect(await index.archivedPerDay(mailboxId, '2026-11-01')).toStrictEqual([
          { day: '2026-11-30', messages: 1 },
          { day: '2026-12-01', messages: 2 },
          { day: '2026-12-03', messages: 1 },
        ]);
        expect(await index.archivedPerDay(mailboxId, '2026-12-04')).toStrictEqual([]);
        expect(await index.archivedPerDay(unique('days-none'), '2026-01-01')).toStrictEqual([]);
      });
    });

    describe('mailbox summaries', () => {
      function summaryOf(mailboxId: string, records: MessageRecord[]) {
        return {
          mailboxId,
          messages: records.length,
          octets: records.reduce((sum, r) => sum + r.octets, 0),
        };
      }

      it('counts each record once as it is created; a put that finds one counts nothing', async () => {
        const mailboxId = unique('summary');
        expect(await index.getMailbox(mailboxId)).toBeNull();
        const records = Array.from({ length: 5 }, () => makeRecord({ mailboxId }));
        await putAll(records);
        expect(await index.getMailbox(mailboxId)).toStrictEqual({
          ...summaryOf(mailboxId, records),
          lastRun: null,
          lastSuccessAt: null,
        });
        const first = records[0] as MessageRecord;
        const again = await index.putMessage({ ...first, octets: 1, subject: 'again' });
        expect(again).toStrictEqual({ created: false, existing: first });
        // A second message under one UIDL is a record of its own, and counts.
        const variant = {
          ...first,
          messageKey: `${first.messageKey}#sha256:${'ab'.repeat(32)}`,
          octets: 10,
        };
        await putAll([variant]);
        expect(await index.getMailbox(mailboxId)).toMatchObject(
          summaryOf(mailboxId, [...records, variant]),
        );
        expect(await index.getMailbox(unique('summary'))).toBeNull();
      });

      it('counts concurrent puts exactly, repeated ones included', async () => {
        const mailboxId = unique('summary');
        const records = Array.from({ length: 24 }, () => makeRecord({ mailboxId }));
        const results = await Promise.all(
          [...records, ...records.slice(0, 8)].map((r) => index.putMessage(r)),
        );
        expect(results.filter((r) => r.created)).toHaveLength(records.length);
        expect(await index.getMailbox(mailboxId)).toMatchObject(summaryOf(mailboxId, records));
      });

      it('lists every mailbox with a record or a run, once, by id; a lease alone is no mailbox', async () => {
        const prefix = unique('mbxlist');
        const [a, b, c] = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
        const record = makeRecord({ mailboxId: b });
        await putAll([record]);
        const run = makeRun(a, '2024-05-01T10:00:00.000Z', { outcome: 'success' });
        await index.putRun(run);
        await index.acquireLease({ mailboxId: c, owner: 'x', now: Date.now(), ttlMs: 60_000 });
        const all = await index.listMailboxes();
        const ids = all.map((m) => m.mailboxId);
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual(
          [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
        );
        const mine = all.filter((m) => m.mailboxId.startsWith(prefix));
        expect(mine).toStrictEqual([
          {
            mailboxId: a,
            messages: 0,
            octets: 0,
            lastRun: {
              runId: run.runId,
              outcome: 'success',
              endedAt: run.endedAt,
              errorCode: run.errorCode,
              errorMessage: run.errorMessage,
            },
            lastSuccessAt: run.endedAt,
          },
          { ...summaryOf(b, [record]), lastRun: null, lastSuccessAt: null },
        ]);
        expect(await index.getMailbox(a)).toStrictEqual(mine[0]);
        expect(await index.getMailbox(c)).toBeNull();
      });

      it('moves lastRun only forward in time; lastSuccessAt is the latest success or partial', async () => {
        const mailboxId = unique('lastrun');
        const run = (startedAt: string, endedAt: string, outcome: RunRecord['outcome']) =>
          makeRun(mailboxId, startedAt, { endedAt, outcome, errorCode: null, errorMessage: null });
        const state = async () => {
          const summary = await index.getMailbox(mailboxId);
          return {
            lastRun: summary?.lastRun?.runId,
            outcome: summary?.lastRun?.outcome,
            lastSuccessAt: summary?.lastSuccessAt,
          };
        };
        const r1 = run('2024-05-01T10:00:00.000Z', '2024-05-01T10:05:00.000Z', 'success');
        await index.putRun(r1);
        expect((await index.getMailbox(mailboxId))?.lastRun).toStrictEqual({
          runId: r1.runId,
          outcome: 'success',
          endedAt: r1.endedAt,
          errorCode: null,
          errorMessage: null,
        });
        const r2 = run('2024-05-03T10:00:00.000Z', '2024-05-03T10:05:00.000Z', 'failed');
        await index.putRun(r2);
        expect(await state()).toEqual({
          lastRun: r2.runId,
          outcome: 'failed',
          lastSuccessAt: r1.endedAt,
        });
        // A late writer of an older run: not the last run, but the latest success.
        const r3 = run('2024-05-02T10:00:00.000Z', '2024-05-02T10:05:00.000Z', 'partial');
        await index.putRun(r3);
        expect(await state()).toEqual({
          lastRun: r2.runId,
          outcome: 'failed',
          lastSuccessAt: r3.endedAt,
        });
        // An older failure changes nothing.
        await index.putRun(run('2024-05-01T12:00:00.000Z', '2024-05-01T12:05:00.000Z', 'failed'));
        expect(await state()).toEqual({
          lastRun: r2.runId,
          outcome: 'failed',
          lastSuccessAt: r3.endedAt,
        });
        // The last run written again with the same end: it replaces itself.
        await index.putRun({ ...r2, outcome: 'success' });
        expect(await state()).toEqual({
          lastRun: r2.runId,
          outcome: 'success',
          lastSuccessAt: r2.endedAt,
        });
        // Instants, not strings: 01:00+02:00 on the 4th is 23:00Z on the 3rd, before 23:30Z.
        const r5 = makeRun(mailboxId, '2024-05-03T23:00:00.000Z', {
          endedAt: '2024-05-03T23:30:00.000Z',
          outcome: 'retry-later',
          errorCode: 'TIMEOUT',
          errorMessage: 'server too slow',
        });
        const r6 = run('2024-05-03T22:00:00.000Z', '2024-05-04T01:00:00+02:00', 'success');
        await index.putRun(r5);
        await index.putRun(r6);
        expect(await index.getMailbox(mailboxId)).toStrictEqual({
          mailboxId,
          messages: 0,
          octets: 0,
          lastRun: {
            runId: r5.runId,
            outcome: 'retry-later',
            endedAt: r5.endedAt,
            errorCode: 'TIMEOUT',
            errorMessage: 'server too slow',
          },
          lastSuccessAt: r6.endedAt,
        });
      });

      it('keeps counts and runs apart: a run resets no count, a put touches no run', async () => {
        const mailboxId = unique('summary');
        const run = makeRun(mailboxId, '2024-05-01T10:00:00.000Z', { outcome: 'success' });
        await index.putRun(run);
        const records = Array.from({ length: 3 }, () => makeRecord({ mailboxId }));
        await putAll(records);
        const later = makeRun(mailboxId, '2024-05-02T10:00:00.000Z', { outcome: 'failed' });
        await index.putRun(later);
        expect(await index.getMailbox(mailboxId)).toMatchObject({
          ...summaryOf(mailboxId, records),
          lastRun: { runId: later.runId, outcome: 'failed' },
          lastSuccessAt: run.endedAt,
        });
      });
    });
  });
}
