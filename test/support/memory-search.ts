/**
 * The in-memory index with search: records as MemoryMessageIndex keeps them, text in the real FTS5
 * statements (core/search/fts5-index.ts) over an in-memory SQLite database, so the query API's tests
 * search exactly as the archives do. Text is indexed when a record is created, as the adapters do.
 */
import Database from 'better-sqlite3';
import { betterSqlite3Driver } from '../../functions/adapters/local/better-sqlite3-driver.js';
import type { MessageRecord, PutMessageResult } from '../../functions/core/archive/ports.js';
import { createSearchTables, indexDocument } from '../../functions/core/search/fts5-index.js';
import { searchDocumentOf } from '../../functions/core/search/search-document.js';
import { searchIndexPage, withRecords } from '../../functions/core/search/search-page.js';
import type {
  ArchiveSearch,
  MessageText,
  SearchPage,
  SearchRequest,
} from '../../functions/core/search/search-ports.js';
import { MemoryMessageIndex } from './memory-archive.js';

export class SearchableMemoryIndex extends MemoryMessageIndex implements ArchiveSearch {
  readonly #db = betterSqlite3Driver(new Database(':memory:'));
  /** Every request search() was given, for tests of what the caller asked for. */
  readonly requests: SearchRequest[] = [];

  constructor() {
    super();
    createSearchTables(this.#db);
  }

  override async putMessage(record: MessageRecord, text?: MessageText): Promise<PutMessageResult> {
    const result = await super.putMessage(record);
    if (result.created && text !== undefined) {
      indexDocument(this.#db, searchDocumentOf(record, text));
    }
    return result;
  }

  async search(request: SearchRequest): Promise<SearchPage> {
    this.requests.push(structuredClone(request));
    const page = searchIndexPage(this.#db, request);
    return withRecords(page, (mailboxId, keys) => this.getMessages(mailboxId, keys));
  }
}
