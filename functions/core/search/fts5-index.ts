/**
 * The full-text index's SQL, over the SqlDriver port only: the local archive runs it through
 * better-sqlite3 and the AWS segments through @sqlite.org/sqlite-wasm, so it sticks to plain SQL
 * and FTS5 that both builds have.
 *
 * Two tables: `search_text`, the FTS5 table (one column per searchable field, its own rowid), and
 * `search_docs`, which maps that rowid to the message it indexes and holds what the filters need
 * (mailbox, sort date, attachments). Callers wrap indexDocument in their own transaction (the local
 * archive's is the one that writes the record).
 */
import { ArchiveError } from '../archive/errors.js';
import type {
  SearchDocument,
  SearchField,
  SearchQuery,
  SearchTerm,
  SqlDriver,
} from './search-ports.js';
import { SNIPPET_MARK_END, SNIPPET_MARK_START } from './search-ports.js';
import { readableExcerpt, searchableText } from './search-text.js';

/** Folds case and accents (remove_diacritics 2 also folds the ones unicode61's first version missed). */
export const SEARCH_TOKENIZER = 'unicode61 remove_diacritics 2';

export const SEARCH_SCHEMA = `
  CREATE TABLE IF NOT EXISTS search_docs (
    doc_id INTEGER PRIMARY KEY,
    mailbox_id TEXT NOT NULL,
    message_key TEXT NOT NULL,
    sort_date TEXT NOT NULL,
    has_attachments INTEGER NOT NULL,
    UNIQUE (mailbox_id, message_key)
  ) STRICT;
  CREATE VIRTUAL TABLE IF NOT EXISTS search_text USING fts5(
    subject, sender, recipients, attachments, body,
    tokenize = '${SEARCH_TOKENIZER}'
  );
`;

const COLUMN: Readonly<Record<SearchField, string>> = {
  subject: 'subject',
  from: 'sender',
  to: 'recipients',
  attachment: 'attachments',
  body: 'body',
};

/**
 * bm25 weights, in column order (subject, sender, recipients, attachments, body). A word in the
 * subject says what the message is about more than one more occurrence in a long body, so it
 * weighs 3; a sender's name or an attachment's file name is what people remember a message by,
 * 2; recipients (often long Cc lists) and the body count once.
 */
export const FIELD_WEIGHTS = [3, 2, 1, 2, 1] as const;

/** Tokens in a snippet: about a line and a half of text around the match. */
export const SNIPPET_TOKENS = 24;

export function createSearchTables(db: SqlDriver): void {
  db.exec(SEARCH_SCHEMA);
}

/** Indexes one message; indexing the same (mailbox, key) again replaces its row. */
export function indexDocument(db: SqlDriver, doc: SearchDocument): void {
  const [row] = db.all<{ doc_id: number | bigint }>(
    `INSERT INTO search_docs (mailbox_id, message_key, sort_date, has_attachments)
     VALUES (?, ?, ?, ?)
     ON CONFLICT (mailbox_id, message_key)
       DO UPDATE SET sort_date = excluded.sort_date, has_attachments = excluded.has_attachments
     RETURNING doc_id`,
    [doc.mailboxId, doc.messageKey, doc.sortDate, doc.hasAttachments ? 1 : 0],
  );
  if (row === undefined)
    throw new ArchiveError('STORE_FAILED', 'the search index returned no row id');
  const docId = Number(row.doc_id);
  db.run('DELETE FROM search_text WHERE rowid = ?', [docId]);
  db.run(
    `INSERT INTO search_text (rowid, subject, sender, recipients, attachments, body)
     VALUES (?, ?, ?, ?, ?, ?)`,
    [
      docId,
      searchableText(doc.subject),
      searchableText(doc.from),
      searchableText(doc.to),
      searchableText(doc.attachmentNames),
      searchableText(doc.body),
    ],
  );
}

/** Removes a message from the index; an unknown key is a no-op. */
export function deleteDocument(db: SqlDriver, mailboxId: string, messageKey: string): void {
  const rows = db.all<{ doc_id: number | bigint }>(
    'SELECT doc_id FROM search_docs WHERE mailbox_id = ? AND message_key = ?',
    [mailboxId, messageKey],
  );
  for (const row of rows) {
    db.run('DELETE FROM search_text WHERE rowid = ?', [Number(row.doc_id)]);
    db.run('DELETE FROM search_docs WHERE doc_id = ?', [Number(row.doc_id)]);
  }
}

/**
 * One term as an FTS5 phrase. The user's text only ever appears inside a double-quoted string
 * (quotes doubled), where FTS5 reads nothing but tokens: no operator, column or NEAR can be injected.
 */
function phrase(term: SearchTerm): string {
  const text = term.words.map(searchableText).join(' ');
  const quoted = `"${text.replaceAll('"', '""')}"${term.prefix === true ? ' *' : ''}`;
  return term.field === null ? quoted : `${COLUMN[term.field]} : ${quoted}`;
}

/** The FTS5 MATCH expression of a query's words: all positive terms, none of the negated ones. */
export function compileMatch(query: SearchQuery): string {
  const positive = query.terms.filter((term) => !term.negated).map(phrase);
  if (positive.length === 0) {
    throw new ArchiveError(
      'INVALID_ARGUMENT',
      'a search needs at least one term that is not negated',
    );
  }
  const negated = query.terms.filter((term) => term.negated).map((term) => ` NOT ${phrase(term)}`);
  return `(${positive.join(' AND ')})${negated.join('')}`;
}

export interface IndexSearch {
  mailboxIds: readonly string[];
  query: SearchQuery;
  limit: number;
  offset: number;
}

export interface IndexHit {
  mailboxId: string;
  messageKey: string;
  sortDate: string;
  /** -bm25: higher is better. */
  rank: number;
  snippet: string;
}

interface HitRow extends Record<string, string | number> {
  doc_id: number;
  mailbox_id: string;
  message_key: string;
  sort_date: string;
  score: number;
}

/** The WHERE clause after MATCH, and its parameters: mailboxes, attachments, dates. */
function filtersOf(search: IndexSearch): { sql: string; params: (string | number)[] } {
  const { query } = search;
  const filters = [`d.mailbox_id IN (${search.mailboxIds.map(() => '?').join(', ')})`];
  const params: (string | number)[] = [...search.mailboxIds];
  if (query.hasAttachment !== undefined) {
    filters.push('d.has_attachments = ?');
    params.push(query.hasAttachment ? 1 : 0);
  }
  if (query.before !== undefined) {
    filters.push('d.sort_date < ?');
    params.push(query.before);
  }
  if (query.after !== undefined) {
    filters.push('d.sort_date >= ?');
    params.push(query.after);
  }
  return { sql: filters.join(' AND '), params };
}

/**
 * Ranked by bm25 with FIELD_WEIGHTS, ties newest first, then by key so pages are stable.
 *
 * Two statements, both measured (bench/search-bench.ts): the ranking, then snippets for the page's
 * rows only. SQLite computes a row's result columns before it sorts, so a snippet in the ranking
 * statement would tokenize the text of every match, not of the twenty shown. The CROSS JOIN keeps
 * the FTS5 table the outer loop: with a plain join the planner may walk the mailbox's rows instead
 * and run the full-text query once per row, seconds on a 10,000-message archive.
 */
export function searchIndex(db: SqlDriver, search: IndexSearch): IndexHit[] {
  if (search.mailboxIds.length === 0) return [];
  const match = compileMatch(search.query);
  const filters = filtersOf(search);
  const rows = db.all<HitRow>(
    `SELECT search_text.rowid AS doc_id, d.mailbox_id AS mailbox_id, d.message_key AS message_key,
       d.sort_date AS sort_date, bm25(search_text, ${FIELD_WEIGHTS.join(', ')}) AS score
     FROM search_text CROSS JOIN search_docs AS d ON d.doc_id = search_text.rowid
     WHERE search_text MATCH ? AND ${filters.sql}
     ORDER BY score, d.sort_date DESC, d.mailbox_id, d.message_key
     LIMIT ? OFFSET ?`,
    [match, ...filters.params, search.limit, search.offset],
  );
  if (rows.length === 0) return [];
  const ids = rows.map((row) => Number(row.doc_id));
  // FTS5 runs the query once over the range; `+rowid IN` (an expression, not a constraint FTS5
  // sees) then keeps the page's rows. A plain `rowid IN` runs the query once per row: for a prefix
  // query that is twenty prefix expansions, 20x the cost measured.
  const snippets = new Map(
    db
      .all<{ doc_id: number; snippet: string }>(
        `SELECT rowid AS doc_id, snippet(search_text, -1, ?, ?, '…', ${SNIPPET_TOKENS}) AS snippet
         FROM search_text WHERE search_text MATCH ? AND rowid BETWEEN ? AND ?
           AND +rowid IN (${ids.map(() => '?').join(', ')})`,
        [SNIPPET_MARK_START, SNIPPET_MARK_END, match, Math.min(...ids), Math.max(...ids), ...ids],
      )
      .map((row) => [Number(row.doc_id), row.snippet]),
  );
  return rows.map((row) => ({
    mailboxId: row.mailbox_id,
    messageKey: row.message_key,
    sortDate: row.sort_date,
    rank: -Number(row.score),
    snippet: readableExcerpt(snippets.get(Number(row.doc_id)) ?? ''),
  }));
}
