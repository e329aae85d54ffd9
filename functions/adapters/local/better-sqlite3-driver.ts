import type Database from 'better-sqlite3';
import type { SqlDriver, SqlValue } from '../../core/search/search-ports.js';

const MAX_PREPARED = 256;

/**
 * The search index's SqlDriver over a better-sqlite3 connection. Statements are prepared once per
 * SQL text: the FTS5 statements are few and run for every message a pull stores.
 */
export function betterSqlite3Driver(db: Database.Database): SqlDriver {
  const prepared = new Map<string, Database.Statement>();
  const statement = (sql: string): Database.Statement => {
    let found = prepared.get(sql);
    if (found === undefined) {
      // Search SQL varies with the number of mailboxes and filters: keep the cache bounded.
      if (prepared.size >= MAX_PREPARED) prepared.clear();
      found = db.prepare(sql);
      prepared.set(sql, found);
    }
    return found;
  };
  return {
    exec: (sql) => {
      db.exec(sql);
    },
    run: (sql, params: readonly SqlValue[]) => {
      statement(sql).run(...params);
    },
    all: <Row extends Record<string, SqlValue>>(sql: string, params: readonly SqlValue[]) =>
      statement(sql).all(...params) as Row[],
  };
}
