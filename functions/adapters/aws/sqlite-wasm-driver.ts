/**
 * SQLite as Lambda runs it for search segments: @sqlite.org/sqlite-wasm (SQLite's own WebAssembly
 * build, FTS5 compiled in), so no native module has to be built for Lambda's runtime and
 * architecture. A segment is an SQLite database file held in memory: built here and exported as
 * bytes, or opened from the bytes S3 returned.
 *
 * The module is imported and instantiated on first use only, so a puller run that indexes nothing
 * and the query API's non-search routes never load it. In a Lambda bundle it is not inlined but
 * shipped beside index.mjs in node_modules with its sqlite3.wasm, which it finds beside its own
 * file (infra/constructs/node-function.ts, SQLITE_WASM_MODULE).
 */
import type { Database, Sqlite3Static } from '@sqlite.org/sqlite-wasm';
import type { SqlDriver, SqlValue } from '../../core/search/search-ports.js';

let loading: Promise<Sqlite3Static> | null = null;

/** The instantiated module, once per process; a failed load is retried on the next call. */
export function loadSqliteWasm(): Promise<Sqlite3Static> {
  if (loading === null) {
    const started = import('@sqlite.org/sqlite-wasm').then((module) => module.default());
    started.catch(() => {
      if (loading === started) loading = null;
    });
    loading = started;
  }
  return loading;
}

/** One in-memory database: the SqlDriver the FTS5 statements run on, its file's bytes, and close. */
export interface WasmDatabase {
  driver: SqlDriver;
  /** The database file as it stands (what is uploaded as a segment). */
  export(): Uint8Array;
  /** Size of the database file in octets. */
  readonly octets: number;
  close(): void;
}

function driverOf(db: Database): SqlDriver {
  return {
    exec(sql) {
      db.exec(sql);
    },
    run(sql, params) {
      db.exec({ sql, bind: [...params] });
    },
    all<Row extends Record<string, SqlValue>>(sql: string, params: readonly SqlValue[]): Row[] {
      return db.exec({
        sql,
        bind: [...params],
        rowMode: 'object',
        returnValue: 'resultRows',
      }) as unknown as Row[];
    },
  };
}

function wrap(sqlite3: Sqlite3Static, db: Database): WasmDatabase {
  const driver = driverOf(db);
  return {
    driver,
    export: () => sqlite3.capi.sqlite3_js_db_export(db),
    get octets() {
      const [row] = driver.all<{ n: number }>(
        'SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()',
        [],
      );
      return Number(row?.n ?? 0);
    },
    close: () => db.close(),
  };
}

/** A new, empty in-memory database. */
export async function createWasmDatabase(): Promise<WasmDatabase> {
  const sqlite3 = await loadSqliteWasm();
  return wrap(sqlite3, new sqlite3.oo1.DB(':memory:'));
}

/**
 * Opens a database file's bytes (a segment from S3). The bytes are copied into WebAssembly memory,
 * which SQLite frees when the database is closed.
 */
export async function openWasmDatabase(bytes: Uint8Array): Promise<WasmDatabase> {
  const sqlite3 = await loadSqliteWasm();
  const db = new sqlite3.oo1.DB(':memory:');
  const { capi, wasm } = sqlite3;
  // allocFromTypedArray goes by the constructor: a Buffer (what fs and the SDK return) is refused,
  // so pass a plain view of the same memory.
  const pointer = wasm.allocFromTypedArray(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  );
  const rc = capi.sqlite3_deserialize(
    db.pointer as number,
    'main',
    pointer,
    bytes.length,
    bytes.length,
    capi.SQLITE_DESERIALIZE_FREEONCLOSE | capi.SQLITE_DESERIALIZE_RESIZEABLE,
  );
  if (rc !== capi.SQLITE_OK) {
    // On failure SQLite has already freed the buffer (FREEONCLOSE applies to failures too).
    db.close();
    throw new Error(
      `could not open a search segment of ${bytes.length} octets: sqlite3_deserialize returned ${rc}; the segment object is damaged or is not a segment`,
    );
  }
  const opened = wrap(sqlite3, db);
  try {
    // A file that is not a database only fails on first read: fail here, with the same message.
    opened.driver.all('SELECT count(*) AS n FROM sqlite_schema', []);
  } catch (error) {
    opened.close();
    throw new Error(
      `could not open a search segment of ${bytes.length} octets: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return opened;
}
