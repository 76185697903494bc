import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Opens (creating its folder) one of our SQLite files in WAL mode, which lets the API read while a node writes,
 * with `schema` applied; `what` names it in the error a user sees when it cannot be opened.
 */
export function openDatabase(file: string, schema: string, what: string): Database.Database {
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(schema);
    return db;
  } catch (err) {
    throw new Error(`cannot open the ${what} ${file}: ${(err as Error).message}`);
  }
}
