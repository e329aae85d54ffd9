/**
 * Full-text search over the archive, as the pull run feeds it and the query API reads it. Two
 * adapters implement it: the local archive's SQLite file (an FTS5 table written in the same
 * transaction as the record) and, in AWS, per-mailbox FTS5 segments kept in S3. Both run the same
 * FTS5 statements (fts5-index.ts) through the small synchronous SqlDriver below, so a query means the
 * same thing in both places.
 */
import type { MessageRecord } from '../archive/ports.js';

/**
 * The decoded text of one message, kept while it streams through the parser (text/plain parts, HTML
 * parts reduced to text), bounded by a named limit; `truncated` says the limit cut it. Subject,
 * addresses and attachment names come from the record itself.
 */
export interface MessageText {
  body: string;
  truncated: boolean;
}

/** One message as the search index holds it: built from its record and its text (search-document.ts). */
export interface SearchDocument {
  mailboxId: string;
  messageKey: string;
  /** The record's sort date (ISO 8601): the message date, or the archive time when it had none. */
  sortDate: string;
  subject: string;
  /** Addresses and display names of From. */
  from: string;
  /** Addresses and display names of To and Cc. */
  to: string;
  /** Attachment file names, space separated. */
  attachmentNames: string;
  body: string;
  hasAttachments: boolean;
}

export type SearchField = 'from' | 'to' | 'subject' | 'attachment' | 'body';

/** One condition of a query: a word or a "phrase", in one field or in any, possibly negated. */
export interface SearchTerm {
  field: SearchField | null;
  /** The words of a phrase in order (one word for a bare word). */
  words: string[];
  negated: boolean;
  /** `word*`: the last word matches any word it begins (absent means false). */
  prefix?: boolean;
}

/** A query string after parsing (search-query.ts); every condition must hold. */
export interface SearchQuery {
  terms: SearchTerm[];
  hasAttachment?: boolean;
  /** ISO 8601 dates, compared with the sort date: before is exclusive, after inclusive. */
  before?: string;
  after?: string;
}

export interface SearchRequest {
  /** Only these mailboxes are searched: the caller's readable ones, never more. */
  mailboxIds: readonly string[];
  query: SearchQuery;
  limit: number;
  /** Opaque; from the previous page. */
  cursor: string | null;
}

export interface SearchHit {
  record: MessageRecord;
  /** Best first within a page; comparable only within one search. */
  rank: number;
  /** A bounded excerpt around the match, with each match wrapped in SNIPPET_MARK_START/END. */
  snippet: string;
}

export interface SearchPage {
  items: SearchHit[];
  cursor: string | null;
}

/** What the query API's /search route and `popvault search` read. */
export interface ArchiveSearch {
  search(request: SearchRequest): Promise<SearchPage>;
}

/** Marks around a match inside a snippet: control characters no mail text keeps (cleanText drops them). */
export const SNIPPET_MARK_START = '\u0002';
export const SNIPPET_MARK_END = '\u0003';

export type SqlValue = string | number | bigint | null | Uint8Array;

/**
 * The synchronous SQLite surface the FTS5 statements need: better-sqlite3 provides it locally and
 * @sqlite.org/sqlite-wasm in Lambda (no native module to build for Lambda's runtime).
 */
export interface SqlDriver {
  exec(sql: string): void;
  run(sql: string, params: readonly SqlValue[]): void;
  all<Row extends Record<string, SqlValue>>(sql: string, params: readonly SqlValue[]): Row[];
}
