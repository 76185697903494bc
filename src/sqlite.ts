import type Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';

/** better-sqlite3 is optional: its install compiles SQLite where no prebuilt binary can be downloaded. */
export class SqliteUnavailableError extends Error {}

let binding: typeof Database | undefined;

function sqlite(): typeof Database {
  if (binding) return binding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = require('better-sqlite3') as typeof Database;
    return binding;
  } catch (err) {
    throw new SqliteUnavailableError(
      `SQLite (better-sqlite3) is not installed or not built: ${(err as Error).message.split('\n')[0]}. ` +
        'Install a C++ compiler (Debian/Ubuntu: sudo apt-get install build-essential python3) and run "npm rebuild better-sqlite3" in your Node-RED user directory, then restart Node-RED',
    );
  }
}

/**
 * Opens (creating its folder) one of our SQLite files in WAL mode, which lets the API read while a node writes,
 * with `schema` applied; `what` names it in the error a user sees when it cannot be opened.
 */
export function openDatabase(file: string, schema: string, what: string): Database.Database {
  const Sqlite = sqlite();
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    const db = new Sqlite(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(schema);
    return db;
  } catch (err) {
    throw new Error(`cannot open the ${what} ${file}: ${(err as Error).message}`);
  }
}
