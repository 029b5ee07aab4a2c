import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { AppError, BackendError, UnavailableError } from '../domain/errors.ts';

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

export const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
export const SQLITE_CONSTRAINT_UNIQUE = 2067;
/** Primary result codes a retry can fix: BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL. */
const TRANSIENT = new Set([5, 6, 7, 8, 10, 13, 14, 15]);

/** The extended SQLite result code of a node:sqlite error, if it is one. */
export function sqliteCode(err: unknown): number | undefined {
  return err instanceof Error && 'errcode' in err && typeof err.errcode === 'number' ? err.errcode : undefined;
}

export function isUniqueViolation(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === SQLITE_CONSTRAINT_UNIQUE || code === SQLITE_CONSTRAINT_PRIMARYKEY;
}

/**
 * A SQLite failure as the service's errors: busy, locked, I/O and full-disk failures become
 * UnavailableError (503, retry helps); anything else SQLite rejects (corruption, a schema
 * mismatch) is a BackendError a retry won't fix. `message` says what could not be done.
 */
export function toSqliteError(err: unknown, message: string): Error {
  if (err instanceof AppError) return err;
  const code = sqliteCode(err);
  if (code !== undefined) {
    return TRANSIENT.has(code & 0xff)
      ? new UnavailableError(message, { cause: err, retryAfterSeconds: 1 })
      : new BackendError(message, { cause: err, retriable: false });
  }
  // node:sqlite throws ERR_INVALID_STATE when the database was closed under a request (shutdown).
  if (err instanceof Error && 'code' in err && err.code === 'ERR_INVALID_STATE') {
    return new UnavailableError(message, { cause: err });
  }
  return err instanceof Error ? err : new BackendError(message, { cause: err });
}

/**
 * BEGIN IMMEDIATE takes the write lock up front: node:sqlite is synchronous, so nothing else in
 * this process runs until COMMIT, and other processes wait on busy_timeout at BEGIN instead of
 * failing with SQLITE_BUSY when a read lock cannot be upgraded.
 */
export function inTransaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    try {
      if (db.isTransaction) db.exec('ROLLBACK');
    } catch {
      // The original error says more than a failed rollback; SQLite rolls back on close anyway.
    }
    throw err;
  }
}
