import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/**
 * Opens a SQLite database the way both embedded adapters need it: WAL so readers never block
 * the writer, `synchronous=FULL` so a commit is on disk before we acknowledge it (NORMAL would
 * survive a process crash but not a power loss), and a busy timeout so a second process (the
 * `etl` beside the `api`) waits for the lock instead of failing.
 */
export function openSqlite(path: string): DatabaseSync {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  // busy_timeout first: switching a new file to WAL takes a lock another process may hold.
  db.exec(`
    PRAGMA busy_timeout = 5000;
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA foreign_keys = ON;
  `);
  return db;
}
