import { W_OK } from 'node:constants';
import { accessSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Config } from '../config.ts';
import { UsageError } from './errors.ts';

/** errno codes of a directory that cannot be created or written (mkdir(2), access(2)); ENOENT from a parent that exists: a file system that makes none, like /proc. */
const UNUSABLE = new Set(['EEXIST', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'ENOENT']);

/**
 * Creates `dir` (absolute, with its parents) if it is missing and checks that this process can
 * write in it; a file in the way, a read-only file system or missing permissions become one
 * UsageError (exit 2) naming DATA_DIR, instead of `EEXIST: file already exists, mkdir ...` from
 * whichever embedded backend opened it first. Other errors are thrown as they are.
 */
export function prepareDataDir(dir: string): void {
  try {
    makeDirs(dir);
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    accessSync(dir, W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!UNUSABLE.has(code)) throw err;
    const file = fileInTheWay(dir);
    const why = file === undefined ? `this process may not write there (${code})` : file === dir ? 'it is a file' : `${file} is a file`;
    throw new UsageError(`DATA_DIR=${dir} is not a usable directory: ${why}. Set DATA_DIR to a writable directory.`);
  }
}

/**
 * `mkdir -p`, one level at a time: Node 24's `mkdirSync(dir, { recursive: true })` never returns
 * for a path under /proc (measured: `DATA_DIR=/proc/x npm start` spun at 100% CPU, silent).
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let path = dir; !existsSync(path); path = dirname(path)) missing.unshift(path);
  for (const path of missing) mkdirSync(path);
}

/** `dir` or the nearest of its parents that exists and is not a directory, if any. */
function fileInTheWay(dir: string): string | undefined {
  for (let path = dir; ; path = dirname(path)) {
    try {
      return statSync(path).isDirectory() ? undefined : path;
    } catch {
      if (dirname(path) === path) return undefined;
    }
  }
}

/** The commands that read the configuration. */
export type ConfiguredCommand = 'serve' | 'api' | 'etl' | 'migrate' | 'token';

/**
 * Whether `command` needs the generated development JWT secret (kept in DATA_DIR): only the
 * commands that verify or mint tokens, and only for HS256 without AUTH_JWT_SECRET.
 */
export function needsDevSecret(config: Config, command: ConfiguredCommand): boolean {
  return (command === 'serve' || command === 'api' || command === 'token') && config.auth.algorithm === 'HS256' && config.auth.secret === undefined;
}

/** Whether `command` keeps anything in DATA_DIR: an embedded backend it opens, or the development secret. */
export function usesDataDir(config: Config, command: ConfiguredCommand): boolean {
  const chdb = config.warehouse.backend === 'chdb';
  const sqliteLog = config.eventLog.backend === 'sqlite';
  const sqliteStore = config.store.backend === 'sqlite';
  const embedded =
    command === 'migrate' ? chdb : command === 'etl' ? chdb || sqliteLog : command === 'token' ? false : chdb || sqliteLog || sqliteStore;
  return embedded || needsDevSecret(config, command);
}
