/**
 * The attachment route and the parser version a record carries: attachment numbers and hashes are
 * the reading of one parser version, so a record from another is re-derived from its raw message
 * before anything of it is served.
 */
import type { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/core/archive/ports.js';
import { PARSER_VERSION, UNVERSIONED_PARSER } from '../../functions/core/message/parser-version.js';
import { createQueryApp } from '../../functions/query-api/create-query-app.js';
import { encodeMessageRef } from '../../functions/query-api/params.js';
import { MemoryMessageIndex, MemoryRawStore } from '../support/memory-archive.js';
import { errorOf, fixture, seed, sha256 } from './query-api-kit.js';

class CountingStore extends MemoryRawStore {
  gets = 0;
  override async get(key: string): Promise<Readable> {
    this.gets += 1;
    return super.get(key);
  }
}

const archive = { index: new MemoryMessageIndex(), store: new CountingStore() };
const app = createQueryApp(archive);
const records: Record<string, MessageRecord> = {};
const RAW = fixture('multipart-alternative-attachments.eml');

/** The record as an older parser wrote it: version 0, and `attachments` changed as given. */
function olderParser(change: (list: MessageRecord['attachments']) => MessageRecord['attachments']) {
  return (record: MessageRecord): MessageRecord => ({
    ...record,
    parserVersion: UNVERSIONED_PARSER,
    attachments: change(record.attachments.map((a) => ({ ...a }))),
  });
}

beforeAll(async () => {
  const put = (messageKey: string, edit?: (record: MessageRecord) => MessageRecord) =>
    seed(archive, { mailboxId: 'work', messageKey, raw: RAW, ...(edit ? { edit } : {}) });
  records.current = await put('current');
  records.reordered = await put(
    'reordered',
    olderParser((list) => list.reverse()),
  );
  records.unsafeName = await put(
    'unsafe-name',
    olderParser((list) => list.map((a, i) => (i === 0 ? { ...a, filename: '../../evil.pdf' } : a))),
  );
  records.unknown = await put(
    'unknown',
    olderParser((list) => list.map((a, i) => (i === 0 ? { ...a, sha256: '0'.repeat(64) } : a))),
  );
});

const url = (name: string, n: number) =>
  `/messages/${encodeMessageRef(records[name] as MessageRecord)}/attachments/${n}`;

describe('attachments of records from another parser version', () => {
  it('every record the parser writes carries its version, and the API shows it', async () => {
    expect(records.current?.parserVersion).toBe(PARSER_VERSION);
    const res = await app.request(
      `/messages/${encodeMessageRef(records.current as MessageRecord)}`,
    );
    expect(((await res.json()) as { parserVersion: number }).parserVersion).toBe(PARSER_VERSION);
  });

  it('a record of the current version is served by its own number, reading the message once', async () => {
    const current = records.current as MessageRecord;
    const before = archive.store.gets;
    const res = await app.request(url('current', 1));
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(current.attachments[1]?.sha256);
    expect(archive.store.gets - before).toBe(1);
  });

  it('an old number is never trusted: the attachment is found again by its size and hash', async () => {
    const old = records.reordered as MessageRecord;
    const current = records.current as MessageRecord;
    for (const [n, listed] of old.attachments.entries()) {
      const res = await app.request(url('reordered', n));
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      // What the old record listed as n, whatever number the current parser gives it.
      expect(sha256(body), `attachment ${n}`).toBe(listed.sha256);
      expect(body.length).toBe(listed.octets);
      const now = current.attachments.find((a) => a.sha256 === listed.sha256);
      expect(res.headers.get('content-type')).toMatch(now?.contentType ?? '-');
    }
  });

  it("an old record's file name is not served: the current parser's reading of it is", async () => {
    const res = await app.request(url('unsafeName', 0));
    expect(res.status).toBe(200);
    const disposition = res.headers.get('content-disposition') ?? '';
    expect(disposition).not.toContain('evil');
    expect(disposition).toContain(
      `filename="${(records.current as MessageRecord).attachments[0]?.filename}"`,
    );
  });

  it('an attachment the current parser does not find is refused, never served under its old number', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await app.request(url('unknown', 0), { method });
      expect(res.status).toBe(500);
      if (method === 'GET') {
        const error = await errorOf(res);
        expect(error.code).toBe('ATTACHMENT_UNREADABLE');
        expect(error.message).toMatch(/parser version 0.*version 1.*download the raw message/);
      }
    }
    // The others of that record are still found.
    expect((await app.request(url('unknown', 1))).status).toBe(200);
  });
});
