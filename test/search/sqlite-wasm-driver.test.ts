/**
 * The sqlite-wasm SqlDriver: statements with bindings, rows as objects, a database exported as
 * bytes and opened again from them (what a segment's trip through S3 is), FTS5 present.
 */
import { describe, expect, it } from 'vitest';
import {
  createWasmDatabase,
  openWasmDatabase,
} from '../../functions/adapters/aws/sqlite-wasm-driver.js';

describe('sqlite-wasm driver', () => {
  it('runs bound statements, returns rows as objects, and survives an export and reopen', async () => {
    const db = await createWasmDatabase();
    db.driver.exec('CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, b BLOB)');
    db.driver.run('INSERT INTO t VALUES (?, ?, ?)', ['a', 1, new Uint8Array([1, 2])]);
    db.driver.run('INSERT INTO t VALUES (?, ?, ?)', ['b', 2, null]);
    expect(db.driver.all('SELECT k, n FROM t WHERE n > ? ORDER BY k', [0])).toEqual([
      { k: 'a', n: 1 },
      { k: 'b', n: 2 },
    ]);
    const bytes = db.export();
    expect(bytes.length).toBe(db.octets);
    db.close();

    const reopened = await openWasmDatabase(bytes);
    expect(reopened.driver.all('SELECT k, b FROM t ORDER BY k', [])).toEqual([
      { k: 'a', b: new Uint8Array([1, 2]) },
      { k: 'b', b: null },
    ]);
    // Writable after opening (RESIZEABLE): compaction adds to an opened segment's copy.
    reopened.driver.run('INSERT INTO t VALUES (?, ?, ?)', ['c', 3, null]);
    expect(reopened.driver.all('SELECT count(*) AS n FROM t', [])).toEqual([{ n: 3 }]);
    reopened.close();
  });

  it('has FTS5 with the unicode61 tokenizer', async () => {
    const db = await createWasmDatabase();
    db.driver.exec(
      "CREATE VIRTUAL TABLE f USING fts5(body, tokenize='unicode61 remove_diacritics 2')",
    );
    db.driver.run('INSERT INTO f (body) VALUES (?)', ['Crème brûlée recipe']);
    expect(db.driver.all('SELECT body FROM f WHERE f MATCH ?', ['creme'])).toEqual([
      { body: 'Crème brûlée recipe' },
    ]);
    db.close();
  });

  it('refuses bytes that are not a database, naming the segment size', async () => {
    await expect(
      openWasmDatabase(new TextEncoder().encode('not a database at all')),
    ).rejects.toThrow(/could not open a search segment of 21 octets/);
  });
});

describe('sqlite-wasm driver, bytes as Node hands them over', () => {
  it('opens a segment held in a Buffer (what readFile and the SDK return)', async () => {
    const db = await createWasmDatabase();
    db.driver.exec('CREATE TABLE t (k TEXT)');
    const bytes = Buffer.from(db.export());
    db.close();
    const reopened = await openWasmDatabase(bytes);
    expect(reopened.driver.all('SELECT count(*) AS n FROM t', [])).toEqual([{ n: 0 }]);
    reopened.close();
  });
});
