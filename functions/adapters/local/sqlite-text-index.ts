/**
 * The local archive's full-text index: the FTS5 tables of core/search/fts5-index.ts in the index's
 * own SQLite file, so a record and its text are written in one transaction (sqlite-message-index.ts
 * calls indexText inside the transaction that inserts the record), and records whose text was never
 * indexed (archived before search existed) are found by a join for `popvault reindex`.
 */
import type Database from 'better-sqlite3';
import type { MessageRecord } from '../../core/archive/ports.js';
import { indexDocument } from '../../core/search/fts5-index.js';
import { searchDocumentOf } from '../../core/search/search-document.js';
import { type IndexPage, searchIndexPage } from '../../core/search/search-page.js';
import type { MessageText, SearchRequest, SqlDriver } from '../../core/search/search-ports.js';
import { betterSqlite3Driver } from './better-sqlite3-driver.js';
import { type MessageRow, messageFromRow } from './sqlite-rows.js';

/** Where a walk over records without text stands: the last (mailbox, key) it returned. */
export interface TextlessPosition {
  mailboxId: string;
  messageKey: string;
}

export class SqliteTextIndex {
  readonly #db: Database.Database;
  readonly #driver: SqlDriver;
  readonly #setTruncated: Database.Statement;
  readonly #textless: Database.Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#driver = betterSqlite3Driver(db);
    this.#setTruncated = db.prepare(
      'UPDATE messages SET text_truncated = ? WHERE mailbox_id = ? AND message_key = ?',
    );
    // Keyset order over the primary key: a walk that skips a record it could not read goes on
    // past it instead of finding it again.
    this.#textless = db.prepare(
      `SELECT m.* FROM messages AS m
        WHERE (m.mailbox_id, m.message_key) > (?, ?)
          AND NOT EXISTS (SELECT 1 FROM search_docs AS d
            WHERE d.mailbox_id = m.mailbox_id AND d.message_key = m.message_key)
        ORDER BY m.mailbox_id, m.message_key LIMIT ?`,
    );
  }

  /** Indexes a record's text; the caller's transaction holds the record's own write. */
  indexText(record: MessageRecord, text: MessageText): void {
    indexDocument(this.#driver, searchDocumentOf(record, text));
  }

  /**
   * Indexes the text of a record that already exists (the backfill), and records whether the text
   * was cut, in one transaction; indexing it again replaces the first.
   */
  backfillText(record: MessageRecord, text: MessageText): void {
    this.#db
      .transaction(() => {
        this.indexText(record, text);
        this.#setTruncated.run(text.truncated ? 1 : 0, record.mailboxId, record.messageKey);
      })
      .immediate();
  }

  /** Up to `limit` records whose text is not indexed, after `after` in key order. */
  textless(after: TextlessPosition | null, limit: number): MessageRecord[] {
    const rows = this.#textless.all(
      after?.mailboxId ?? '',
      after?.messageKey ?? '',
      limit,
    ) as MessageRow[];
    return rows.map(messageFromRow);
  }

  search(request: SearchRequest): IndexPage {
    return searchIndexPage(this.#driver, request);
  }
}
