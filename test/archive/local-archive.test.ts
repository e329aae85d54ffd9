/**
 * The embedded local archive (Maildir files + SQLite) in a temporary directory: first the shared
 * contracts, then what only these adapters promise (the Maildir layout, crash leftovers, key
 * confinement, file permissions, the schema and its version).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LocalRawStore,
  localRawKey,
  STALE_TMP_MS,
} from '../../functions/adapters/local/local-raw-store.js';
import {
  SCHEMA_VERSION,
  SqliteMessageIndex,
} from '../../functions/adapters/local/sqlite-message-index.js';
import type { RawPutInput } from '../../functions/core/archive/ports.js';
import { CorruptItemError } from '../../functions/core/archive/record-decoder.js';
import { UNVERSIONED_PARSER } from '../../functions/core/message/parser-version.js';
import {
  archiveErrorCode,
  describeMessageIndexContract,
  describeRawStoreContract,
  makeRecord,
  makeRun,
} from './archive-contract.js';

const root = mkdtempSync(join(tmpdir(), 'popvault-local-archive-'));
const opened: SqliteMessageIndex[] = [];

afterAll(() => {
  for (const index of opened) index.close();
  rmSync(root, { recursive: true, force: true });
});

function freshDirectory(label: string): string {
  return join(root, `${label}-${randomBytes(5).toString('hex')}`);
}

function openIndex(path: string, options: { scannedRowsPerCall?: number } = {}) {
  const index = new SqliteMessageIndex({ path, ...options });
  opened.push(index);
  return index;
}

/** Every file under `directory`, as "/"-separated paths relative to it. */
function listFiles(directory: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(directory, { recursive: true }) as string[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((entry) => statSync(join(directory, entry)).isFile())
    .map((entry) => relative(directory, join(directory, entry)).split(sep).join('/'))
    .sort();
}

function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function bufferInput(mailboxId: string, data: Buffer): RawPutInput {
  return {
    mailboxId,
    sha256: sha256Hex(data),
    octets: data.length,
    source: { kind: 'buffer', data },
  };
}

/** Takes a current file back to before search (schema version 3): no text tables, no text_truncated. */
/** Undoes the migrations from search on (schema 4 and later), as an older popvault's file lacks them. */
function dropSearch(db: Database.Database): void {
  db.exec('DROP TABLE mailbox_days');
  db.exec('DROP TABLE search_text; DROP TABLE search_docs');
  db.exec('ALTER TABLE messages DROP COLUMN text_truncated');
}

function permissions(path: string): number {
  return statSync(path).mode & 0o777;
}

describeRawStoreContract('LocalRawStore in a temporary directory', async () => {
  const directory = freshDirectory('raw');
  return {
    store: new LocalRawStore({ directory }),
    // Everything, tmp files included: a put that leaves one behind adds a key.
    listKeys: async () => listFiles(directory),
    keyFor: localRawKey,
  };
});

describeMessageIndexContract('SqliteMessageIndex in a temporary file', async () =>
  openIndex(join(freshDirectory('index'), 'index.sqlite')),
);

describe('LocalRawStore: Maildir files', () => {
  it('lays each mailbox out as a Maildir whose files are the exact message, owner-only', async () => {
    const directory = freshDirectory('maildir');
    const store = new LocalRawStore({ directory });
    const mailboxId = 'user@example.test';
    const data = Buffer.from('Subject: hi\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n');
    const ref = await store.put(bufferInput(mailboxId, data));
    const maildir = join(directory, Buffer.from(mailboxId).toString('base64url'));
    expect(readdirSync(maildir).sort()).toEqual(['cur', 'new', 'tmp']);
    expect(readdirSync(join(maildir, 'cur'))).toEqual([`${sha256Hex(data)}:2,S`]);
    expect(readdirSync(join(maildir, 'new'))).toEqual([]);
    expect(readdirSync(join(maildir, 'tmp'))).toEqual([]);
    expect(ref.key).toBe(relative(directory, join(maildir, 'cur', `${sha256Hex(data)}:2,S`)));
    expect(readFileSync(join(directory, ref.key)).equals(data)).toBe(true);
    expect(permissions(join(directory, ref.key))).toBe(0o600);
    for (const dir of [directory, maildir, join(maildir, 'cur'), join(maildir, 'tmp')]) {
      expect(permissions(dir)).toBe(0o700);
    }
  });

  it('many puts finishing together share directory syncs and every one of them resolves, stored whole', async () => {
    const directory = freshDirectory('coalesce');
    const store = new LocalRawStore({ directory });
    const messages = Array.from({ length: 200 }, (_, i) =>
      Buffer.from(`Subject: ${i}\r\n\r\n${'x'.repeat(i)}\r\n`),
    );
    const refs = await Promise.all(messages.map((m) => store.put(bufferInput('burst', m))));
    expect(new Set(refs.map((r) => r.key)).size).toBe(200);
    for (const [i, ref] of refs.entries())
      expect(readFileSync(join(directory, ref.key)).equals(messages[i] as Buffer)).toBe(true);
    // A later put after the burst still gets a sync of its own (nothing is left queued).
    const late = Buffer.from('Subject: late\r\n\r\nlate\r\n');
    expect(await store.has((await store.put(bufferInput('burst', late))).key)).toBe(true);
  });

  it('ignores a tmp file left by a crash before the rename; a later put stores the message whole', async () => {
    const directory = freshDirectory('crash');
    const mailboxId = 'crashed';
    const data = randomBytes(4096);
    const input = bufferInput(mailboxId, data);
    const tmp = join(directory, Buffer.from(mailboxId).toString('base64url'), 'tmp');
    mkdirSync(tmp, { recursive: true });
    // What a writer killed between write and rename leaves: part of the bytes, under a tmp name.
    const stray = join(tmp, `${input.sha256}.999_deadbeef.host`);
    writeFileSync(stray, data.subarray(0, 1000));

    const store = new LocalRawStore({ directory });
    expect(await store.has(localRawKey(mailboxId, input.sha256))).toBe(false);
    const ref = await store.put(input);
    expect(readFileSync(join(directory, ref.key)).equals(data)).toBe(true);
    // A fresh tmp file may belong to a writer still at work: it stays.
    expect(readdirSync(tmp)).toEqual([`${input.sha256}.999_deadbeef.host`]);

    // Once older than the Maildir convention allows, the next store to use the mailbox removes it.
    const old = (Date.now() - STALE_TMP_MS - 60_000) / 1000;
    utimesSync(stray, old, old);
    await new LocalRawStore({ directory }).put(bufferInput(mailboxId, randomBytes(10)));
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('rewrites a file whose size shows it was damaged outside the store', async () => {
    const directory = freshDirectory('damaged');
    const store = new LocalRawStore({ directory });
    const data = randomBytes(2048);
    const ref = await store.put(bufferInput('damaged', data));
    writeFileSync(join(directory, ref.key), data.subarray(0, 100));
    expect(await store.put(bufferInput('damaged', data))).toEqual(ref);
    expect(readFileSync(join(directory, ref.key)).equals(data)).toBe(true);
  });

  it('refuses keys that are not its own, above all ones that leave the directory', async () => {
    const directory = freshDirectory('keys');
    const store = new LocalRawStore({ directory });
    const ref = await store.put(bufferInput('keys', Buffer.from('x')));
    const sha = '0'.repeat(64);
    for (const key of [
      '..',
      '../outside',
      `../${ref.key}`,
      `a/../../cur/${sha}:2,S`,
      `${ref.key.split('/')[0]}/cur/../../../etc/passwd`,
      `${ref.key.split('/')[0]}/../x/cur/${sha}:2,S`,
      '/etc/passwd',
      join(directory, ref.key),
      '',
      `${ref.key}\0`,
      ref.key.replaceAll('/', '\\'),
    ]) {
      expect(await archiveErrorCode(store.get(key)), key).toBe('INVALID_ARGUMENT');
      expect(await archiveErrorCode(store.has(key)), key).toBe('INVALID_ARGUMENT');
    }
    expect(await store.has(ref.key)).toBe(true);
  });

  it('refuses a mailbox id that cannot name a directory', async () => {
    const store = new LocalRawStore({ directory: freshDirectory('ids') });
    for (const mailboxId of ['', 'x'.repeat(192)]) {
      expect(await archiveErrorCode(store.put(bufferInput(mailboxId, Buffer.from('x'))))).toBe(
        'INVALID_ARGUMENT',
      );
    }
    await expect(store.put(bufferInput('x'.repeat(191), Buffer.from('x')))).resolves.toBeDefined();
  });
});

describe('SqliteMessageIndex: the file', () => {
  it('creates the database 0600 in a new 0700 directory, its WAL likewise', async () => {
    const directory = join(freshDirectory('perms'), 'nested', 'deeper');
    const path = join(directory, 'index.sqlite');
    const index = openIndex(path);
    await index.putMessage(makeRecord({ mailboxId: 'perms' }));
    expect(permissions(path)).toBe(0o600);
    expect(permissions(`${path}-wal`)).toBe(0o600);
    expect(permissions(directory)).toBe(0o700);
    expect(permissions(join(directory, '..'))).toBe(0o700);
  });

  it('runs in WAL mode with synchronous FULL, at the current schema version', () => {
    const path = join(freshDirectory('pragmas'), 'index.sqlite');
    const db = new Database(':memory:');
    try {
      new SqliteMessageIndex({ database: db });
      expect(db.pragma('synchronous', { simple: true })).toBe(2);
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    } finally {
      db.close();
    }
    openIndex(path).close();
    const file = new Database(path, { readonly: true });
    try {
      expect(file.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(file.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const tables = file
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      expect(tables).toEqual([
        'leases',
        'mailbox_days',
        'mailboxes',
        'messages',
        'runs',
        'search_docs',
        'search_text',
        'search_text_config',
        'search_text_content',
        'search_text_data',
        'search_text_docsize',
        'search_text_idx',
      ]);
    } finally {
      file.close();
    }
  });

  it('commits puts of one event-loop turn together, and each resolves only once its commit is durable', async () => {
    const path = join(freshDirectory('group'), 'index.sqlite');
    const index = openIndex(path);
    const records = Array.from({ length: 20 }, (_, i) =>
      makeRecord({ mailboxId: 'group', messageKey: `k${i}` }),
    );
    const again = makeRecord({ mailboxId: 'group', messageKey: 'k3', sha256: 'f'.repeat(64) });
    const results = await Promise.all([
      ...records.map((r) => index.putMessage(r)),
      index.putMessage(again),
    ]);
    expect(results.slice(0, 20).every((r) => r.created)).toBe(true);
    // The same key twice in one batch: the second sees the first, never a second record.
    expect(results[20]).toMatchObject({
      created: false,
      existing: { messageKey: 'k3', sha256: records[3]?.sha256 },
    });
    index.close();
    // What resolved is on disk: a second connection (as after a crash) sees every record counted once.
    const reopened = openIndex(path);
    expect(await reopened.getMailbox('group')).toMatchObject({ messages: 20 });
    reopened.close();
  });

  it('keeps its records across a reopen, migrating nothing twice; refuses a newer schema', async () => {
    const path = join(freshDirectory('reopen'), 'index.sqlite');
    const record = makeRecord({ mailboxId: 'reopen' });
    const first = openIndex(path);
    await first.putMessage(record);
    first.close();
    const second = openIndex(path);
    expect(await second.getMessage('reopen', record.messageKey)).toStrictEqual(record);
    expect(await second.getMailbox('reopen')).toMatchObject({ messages: 1 });
    second.close();

    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteMessageIndex({ path })).toThrow(
      expect.objectContaining({ code: 'STORE_REJECTED' }),
    );
  });

  it('an index written before run records had a session migrates: its old runs read back with session null', async () => {
    const directory = freshDirectory('migrate');
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const path = join(directory, 'index.sqlite');
    const before = openIndex(path);
    await before.putRun({
      mailboxId: 'old',
      runId: 'r0',
      startedAt: '2025-01-01T00:00:00.000Z',
      endedAt: '2025-01-01T00:00:01.000Z',
      outcome: 'success',
      counts: {
        listed: 0,
        retrieved: 0,
        stored: 0,
        alreadyStored: 0,
        deleted: 0,
        skipped: 0,
        failed: 0,
        octets: 0,
        remainingOnServer: 0,
      },
      stopReason: null,
      errorCode: null,
      errorMessage: null,
      failures: [],
      session: null,
    });
    before.close();
    // Back to schema version 1, as popvault wrote it before RunSession (and parser versions).
    const db = new Database(path);
    dropSearch(db);
    db.exec('ALTER TABLE messages DROP COLUMN parser_version');
    db.exec('ALTER TABLE runs DROP COLUMN session_json');
    db.pragma('user_version = 1');
    db.close();
    const index = openIndex(path);
    expect(await index.listRuns('old', 5)).toMatchObject([{ runId: 'r0', session: null }]);
    index.close();
  });

  it('an index written before records carried a parser version migrates: its old records read back as unversioned (0)', async () => {
    const directory = freshDirectory('migrate-parser');
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const path = join(directory, 'index.sqlite');
    const before = openIndex(path);
    // Schema 2 kept no text, so nothing could have been truncated; pinned rather than left to the
    // shared record counter, whose parity sets textTruncated.
    const record = makeRecord({ mailboxId: 'old', parserVersion: 5, textTruncated: false });
    await before.putMessage(record);
    before.close();
    // Back to schema version 2, as popvault wrote it before parser versions.
    const db = new Database(path);
    dropSearch(db);
    db.exec('ALTER TABLE messages DROP COLUMN parser_version');
    db.pragma('user_version = 2');
    db.close();
    const index = openIndex(path);
    expect(await index.getMessage('old', record.messageKey)).toStrictEqual({
      ...record,
      parserVersion: UNVERSIONED_PARSER,
    });
    index.close();
  });

  it('an index written before the per-day counts migrates: the chart counts its existing messages by UTC day', async () => {
    const directory = freshDirectory('migrate-days');
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    const path = join(directory, 'index.sqlite');
    const before = openIndex(path);
    const archivedAt = [
      '2026-03-01T23:59:59.999Z',
      '2026-03-02T00:00:00.000Z',
      '2026-03-02T12:00:00Z',
    ];
    for (const at of archivedAt)
      await before.putMessage(makeRecord({ mailboxId: 'old', archivedAt: at }));
    await before.putMessage(makeRecord({ mailboxId: 'other', archivedAt: archivedAt[0] }));
    before.close();
    // Back to schema version 4, as popvault wrote it before the per-day table.
    const db = new Database(path);
    db.exec('DROP TABLE mailbox_days');
    db.pragma('user_version = 4');
    db.close();
    const index = openIndex(path);
    expect(await index.archivedPerDay('old', '2026-01-01')).toEqual([
      { day: '2026-03-01', messages: 1 },
      { day: '2026-03-02', messages: 2 },
    ]);
    // Counted once: a message archived after the migration adds to its day, not to a recount.
    await index.putMessage(makeRecord({ mailboxId: 'old', archivedAt: '2026-03-02T13:00:00Z' }));
    expect(await index.archivedPerDay('old', '2026-03-02')).toEqual([
      { day: '2026-03-02', messages: 3 },
    ]);
    index.close();
  });

  it('examines a bounded number of rows per filtered call: short pages with a cursor, nothing lost', async () => {
    const index = openIndex(join(freshDirectory('bounded'), 'index.sqlite'), {
      scannedRowsPerCall: 4,
    });
    const mailboxId = 'bounded';
    // Ten messages an hour apart; only the oldest two have "needle" in their subject.
    const records = Array.from({ length: 10 }, (_, i) =>
      makeRecord({
        mailboxId,
        subject: i < 2 ? `needle ${i}` : `hay ${i}`,
        date: new Date(Date.UTC(2024, 0, 1, i)).toISOString(),
      }),
    );
    for (const record of records) await index.putMessage(record);
    const first = await index.listMessages(mailboxId, { limit: 2, subject: 'NEEDLE' });
    expect(first.items).toEqual([]);
    expect(first.cursor).not.toBeNull();
    const keys: string[] = [];
    let cursor: string | null = null;
    let calls = 0;
    do {
      const page = await index.listMessages(mailboxId, { limit: 2, subject: 'needle', cursor });
      keys.push(...page.items.map((r) => r.messageKey));
      cursor = page.cursor;
      calls += 1;
    } while (cursor !== null);
    expect(keys).toEqual([records[1]?.messageKey, records[0]?.messageKey]);
    expect(calls).toBe(3);
    // Unfiltered listings are not bounded by it: a page is always full.
    expect((await index.listMessages(mailboxId, { limit: 8 })).items).toHaveLength(8);
  });

  it('maps a database it cannot open to a systemic error', () => {
    const directory = freshDirectory('not-a-file');
    mkdirSync(join(directory, 'index.sqlite'), { recursive: true });
    expect(() => new SqliteMessageIndex({ path: join(directory, 'index.sqlite') })).toThrow(
      expect.objectContaining({ systemic: true }),
    );
  });
});

describe('SqliteMessageIndex: rows that do not decode', () => {
  // Row versions are the file's schema version (PRAGMA user_version): a newer file is refused and an
  // older one migrated, above. What is left is a row damaged inside a file of the right version.
  async function damaged(change: string) {
    const directory = freshDirectory('damaged');
    const path = join(directory, 'index.sqlite');
    const index = openIndex(path);
    const record = makeRecord({ mailboxId: 'damaged' });
    await index.putMessage(record);
    await index.putRun(makeRun('damaged', '2024-05-01T10:00:00.000Z'));
    const db = new Database(path);
    db.exec(change);
    db.close();
    return { index, record };
  }

  it('refuses a message whose list column is not JSON, naming the row and column', async () => {
    const { index, record } = await damaged("UPDATE messages SET from_json = '[{'");
    const error = await index.getMessage('damaged', record.messageKey).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptItemError);
    expect(error).toMatchObject({ code: 'STORE_CORRUPT', field: 'from_json' });
    expect((error as Error).message).toContain(record.messageKey);
  });

  it('refuses a message whose list holds something else, naming the entry', async () => {
    const { index, record } = await damaged(`UPDATE messages SET to_json = '[{"address": 7}]'`);
    expect(
      await index.getMessage('damaged', record.messageKey).catch((e: unknown) => e),
    ).toMatchObject({ code: 'STORE_CORRUPT', field: 'to[0].address' });
  });

  it('refuses a run with an outcome no popvault writes', async () => {
    const { index } = await damaged("UPDATE runs SET outcome = 'exploded'");
    expect(await index.listRuns('damaged', 5).catch((e: unknown) => e)).toMatchObject({
      code: 'STORE_CORRUPT',
      field: 'outcome',
    });
  });
});
