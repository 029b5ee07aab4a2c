import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CliError } from './errors.ts';

/** Who holds a data directory, as its holder wrote it down next to the lock. */
export interface LockOwner {
  pid: number;
  command: string;
  /** ISO 8601 time the lock was taken. */
  since: string;
}

export interface DataDirLock {
  /** Gives the directory up; the operating system does it too when the process ends, even on SIGKILL. */
  release(): void;
}

const LOCK_FILE = 'service.lock';
/** The connections holding locks: a connection nobody references is closed by the garbage collector, and its lock with it. */
const held = new Set<DatabaseSync>();
const OWNER_FILE = 'service.lock.json';

/**
 * Takes `dir` for this process alone, or throws a CliError naming the process that has it.
 *
 * Why: the embedded chDB warehouse can be open in one process only, and a second one finds out
 * deep inside chDB with a twenty-line stack trace about its `status` file. Taking our own lock
 * first turns that into one line with the holder's pid.
 *
 * How: an exclusive SQLite transaction on `DIR/service.lock`, held until `release()` or the end of
 * the process. SQLite takes it with the operating system's file locks (fcntl on POSIX, LockFileEx
 * on Windows), which the kernel drops when the holder dies however it dies, so a SIGKILLed holder
 * leaves no stale lock behind and no pid needs to be checked for liveness. The pid in
 * `DIR/service.lock.json` is only for the message. SQLite also refuses a second connection of the
 * same process, so only the main thread takes the lock (the ETL thread of `serve` borrows the
 * main thread's chDB session and never asks).
 */
export function lockDataDir(dir: string, command: string): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const db = new DatabaseSync(join(dir, LOCK_FILE));
  try {
    db.exec('PRAGMA busy_timeout = 0; BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if (!isBusy(err)) throw err;
    throw new CliError(busyMessage(dir, command, readOwner(dir)), 1, { cause: err });
  }
  held.add(db);
  writeOwner(dir, { pid: process.pid, command, since: new Date().toISOString() });
  return {
    release: () => {
      held.delete(db);
      if (db.isOpen) db.close();
    },
  };
}

function isBusy(err: unknown): boolean {
  // SQLITE_BUSY (5): another connection holds the lock.
  return err instanceof Error && 'errcode' in err && typeof err.errcode === 'number' && (err.errcode & 0xff) === 5;
}

function busyMessage(dir: string, command: string, owner: LockOwner | undefined): string {
  const who = owner && isAlive(owner.pid) ? `process ${owner.pid} ("${owner.command}", since ${owner.since})` : 'another process';
  const also =
    command === 'migrate'
      ? ' (serve, api and etl apply migrations when they start.)'
      : command === 'api' || command === 'etl'
        ? ' (For the API and the ETL on one embedded data directory, run "npm start": one process, both.)'
        : '';
  return `The data directory ${dir} is in use by ${who}; its embedded warehouse (chDB) opens in one process only. Stop that process, or set DATA_DIR to another directory.${also}`;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOwner(dir: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(join(dir, OWNER_FILE), 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.command === 'string' && typeof owner.since === 'string' ? (owner as LockOwner) : undefined;
  } catch {
    return undefined; // not written yet, or by a holder that died while writing it
  }
}

function writeOwner(dir: string, owner: LockOwner): void {
  // Written aside and renamed, so a reader never sees half a file.
  const file = join(dir, OWNER_FILE);
  writeFileSync(`${file}.${process.pid}`, `${JSON.stringify(owner)}\n`);
  renameSync(`${file}.${process.pid}`, file);
}
