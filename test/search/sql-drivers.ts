/**
 * The two SQLite builds the search index runs on, as SqlDrivers over fresh in-memory databases:
 * better-sqlite3 (the local archive) and @sqlite.org/sqlite-wasm (what the AWS side runs in Lambda).
 * The FTS5 tests run on both so a query means the same thing in both places.
 */
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import Database from 'better-sqlite3';
import { betterSqlite3Driver } from '../../functions/adapters/local/better-sqlite3-driver.js';
import type { SqlDriver, SqlValue } from '../../functions/core/search/search-ports.js';

export interface NamedDriver {
  name: string;
  open(): Promise<SqlDriver>;
}

type WasmModule = Awaited<ReturnType<typeof sqlite3InitModule>>;
let wasm: Promise<WasmModule> | null = null;

async function wasmDriver(): Promise<SqlDriver> {
  wasm ??= sqlite3InitModule();
  const db = new (await wasm).oo1.DB(':memory:');
  return {
    exec: (sql) => {
      db.exec(sql);
    },
    run: (sql, params: readonly SqlValue[]) => {
      db.exec({ sql, bind: [...params] as never });
    },
    all: <Row extends Record<string, SqlValue>>(sql: string, params: readonly SqlValue[]) =>
      db.exec({
        sql,
        bind: [...params] as never,
        rowMode: 'object',
        returnValue: 'resultRows',
      }) as unknown as Row[],
  };
}

export const SQL_DRIVERS: readonly NamedDriver[] = [
  { name: 'better-sqlite3', open: async () => betterSqlite3Driver(new Database(':memory:')) },
  { name: 'sqlite-wasm', open: wasmDriver },
];
