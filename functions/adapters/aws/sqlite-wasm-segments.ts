/**
 * Search segments as sqlite-wasm databases holding the shared FTS5 index (fts5-index.ts): how the
 * flush builds and reads them back, and how the query searches one. The statements are the local
 * archive's, so a query means the same in both places.
 */
import { createSearchTables, indexDocument, searchIndex } from '../../core/search/fts5-index.js';
import type { SearchDocument, SearchQuery, SqlDriver } from '../../core/search/search-ports.js';
import type { SegmentHit } from './s3-archive-search.js';
import type { SegmentFormat } from './search-flush.js';
import { createWasmDatabase, openWasmDatabase } from './sqlite-wasm-driver.js';

/** One transaction per segment: FTS5 merges its in-memory terms once, not per document. */
async function build(documents: readonly SearchDocument[]): Promise<Uint8Array> {
  const db = await createWasmDatabase();
  try {
    createSearchTables(db.driver);
    db.driver.exec('BEGIN');
    for (const document of documents) indexDocument(db.driver, document);
    db.driver.exec('COMMIT');
    // Folds FTS5's incremental b-trees into one: smaller, and faster to query.
    db.driver.exec("INSERT INTO search_text (search_text) VALUES ('optimize')");
    db.driver.exec('VACUUM');
    return db.export();
  } finally {
    db.close();
  }
}

interface DocumentRow extends Record<string, string | number> {
  mailbox_id: string;
  message_key: string;
  sort_date: string;
  has_attachments: number;
  subject: string;
  sender: string;
  recipients: string;
  attachments: string;
  body: string;
}

/**
 * The documents of a segment, for merging. Text comes back as the index holds it (searchableText:
 * NFKC, Chinese and Japanese split into words), which indexes to the same tokens again.
 */
async function read(segment: Uint8Array): Promise<SearchDocument[]> {
  const db = await openWasmDatabase(segment);
  try {
    const rows = db.driver.all<DocumentRow>(
      `SELECT d.mailbox_id, d.message_key, d.sort_date, d.has_attachments,
         t.subject, t.sender, t.recipients, t.attachments, t.body
       FROM search_docs AS d JOIN search_text AS t ON t.rowid = d.doc_id
       ORDER BY d.doc_id`,
      [],
    );
    return rows.map((row) => ({
      mailboxId: row.mailbox_id,
      messageKey: row.message_key,
      sortDate: row.sort_date,
      hasAttachments: Number(row.has_attachments) === 1,
      subject: row.subject,
      from: row.sender,
      to: row.recipients,
      attachmentNames: row.attachments,
      body: row.body,
    }));
  } finally {
    db.close();
  }
}

export const WASM_SEGMENTS: SegmentFormat = { build, read };

/** The best `limit` hits of one mailbox's segment. */
export function searchSegment(
  mailboxId: string,
  driver: SqlDriver,
  query: SearchQuery,
  limit: number,
): SegmentHit[] {
  return searchIndex(driver, { mailboxIds: [mailboxId], query, limit, offset: 0 });
}
