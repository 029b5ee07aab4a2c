import { resolve } from 'node:path';
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { BroadcastChannel } from 'node:worker_threads';
import { BackendError, ConflictError, NotFoundError, UnavailableError, ValidationError } from '../../domain/errors.ts';
import type {
  ConsumerOptions, CreateStreamOptions, EventLog, EventLogConsumer, LogRecordInput, StreamInfo,
} from '../../ports/event-log.ts';
import { SQLITE_CONSTRAINT_PRIMARYKEY, inTransaction, openSqlite, toSqliteError } from '../sqlite.ts';
import { partitionForKey } from './partitioner.ts';
import { SCHEMA, SCHEMA_VERSION, validateStream } from './sqlite-event-log-schema.ts';
import { SqliteEventLogConsumer } from './sqlite-event-log-consumer.ts';
import type { ConsumerLog } from './sqlite-event-log-consumer.ts';

export interface EventLogLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SqliteEventLogOptions {
  path: string;
  defaultPartitions: number;
  /** Records accepted but not yet committed; beyond it `append` fails fast instead of queueing. */
  maxPendingRecords: number;
  /** Kafka's `retention.ms` for streams created without their own. -1 keeps records forever. */
  retentionMs: number;
  /** How often a waiting poll looks for records appended by another process on the same file. */
  pollIntervalMs?: number;
  logger?: EventLogLogger;
}

const RETENTION_CHECK_MS = 60_000;

interface PendingAppend { stream: string; records: LogRecordInput[]; resolve: () => void; reject: (err: Error) => void }
interface Cursor { stream: string; partition: number; offset: number }

/** Runs `fn` now; a synchronous throw becomes a rejection, as callers of a Promise API expect. */
const run = <T>(fn: () => T): Promise<T> => new Promise<T>((resolve) => resolve(fn()));

/** Maps a SQLite failure to the service's errors: transient ones say a retry can help. */
export function toStorageError(err: unknown, action: string): Error {
  return toSqliteError(err, `The event log could not ${action}.`);
}

/** The embedded event log: one SQLite file, every append committed with `synchronous=FULL`. */
export class SqliteEventLog implements EventLog {
  readonly kind = 'sqlite';
  readonly pollIntervalMs: number;
  private readonly options: SqliteEventLogOptions;
  /** Set while open and while closing; `closing` tells the two apart. */
  private db: DatabaseSync | null = null;
  private closing: Promise<void> | null = null;
  private readonly statements = new Map<string, StatementSync>();
  private queue: PendingAppend[] = [];
  /** Records in `queue`. */
  private pendingRecords = 0;
  private flushing: Promise<void> | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly closeController = new AbortController();
  private readonly forConsumers: ConsumerLog;
  /** Wakes the polls of other instances on this file in this process (the ETL thread of `serve`). */
  private peers: BroadcastChannel | null = null;

  constructor(options: SqliteEventLogOptions) {
    this.options = options;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.forConsumers = {
      pollIntervalMs: this.pollIntervalMs,
      isOpen: () => this.isOpen,
      guard: (action, fn) => this.guard(action, fn),
      stmt: (sql) => this.stmt(sql),
      rows: (sql, ...params) => this.rows(sql, ...params),
      transaction: (fn) => this.transaction(fn),
      waitForAppend: (stream, ms, signal) => this.waitForAppend(stream, ms, signal),
    };
  }

  start(): Promise<void> {
    return run(() => {
      if (this.db || this.closing) return;
      this.db = this.guard('open its database', () => {
        const db = openSqlite(this.options.path);
        try {
          const version = Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0);
          if (version > SCHEMA_VERSION) throw new BackendError(`Event log schema ${version} is newer than this build.`, { retriable: false });
          if (version < SCHEMA_VERSION) {
            // IMMEDIATE serialises two processes migrating one file; IF NOT EXISTS makes the second a no-op.
            db.exec(`BEGIN IMMEDIATE; ${SCHEMA} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`);
          }
        } catch (err) {
          db.close();
          throw err;
        }
        return db;
      });
      this.purgeExpired();
      this.retentionTimer = setInterval(() => this.purgeExpired(), RETENTION_CHECK_MS).unref();
      this.peers = new BroadcastChannel(`ugc-sqlite-event-log:${resolve(this.options.path)}`);
      this.peers.onmessage = (message) => this.wake(String((message as { data: unknown }).data));
      this.peers.unref();
    });
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.flushing;
      if (this.retentionTimer) clearInterval(this.retentionTimer);
      this.closeController.abort();
      this.peers?.close();
      this.peers = null;
      this.statements.clear();
      this.db?.close();
      this.db = null;
    })();
    return this.closing;
  }

  ping(): Promise<void> {
    return run(() => void this.guard('answer a ping', () => this.stmt('SELECT 1').get()));
  }

  append(stream: string, records: LogRecordInput[]): Promise<void> {
    if (!this.isOpen) return Promise.reject(new UnavailableError('The event log is closed.'));
    // Checked here so one caller's malformed record cannot fail the group it would be committed with.
    const bad = records.findIndex((r) => typeof r.key !== 'string' || !(r.value instanceof Uint8Array));
    if (bad >= 0) return Promise.reject(new ValidationError([{ path: `/${bad}`, message: 'needs a string key and a Buffer value' }]));
    if (this.pendingRecords + records.length > this.options.maxPendingRecords) {
      return Promise.reject(new UnavailableError('The event log is overloaded; retry shortly.', { retryAfterSeconds: 1 }));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ stream, records, resolve, reject });
      this.pendingRecords += records.length;
      // Group commit: everything queued before the next tick shares one transaction and one fsync.
      this.flushing ??= new Promise<void>((done) => setImmediate(() => {
        this.flushing = null;
        try {
          this.flush();
        } finally {
          done();
        }
      }));
    });
  }

  createStream(name: string, options: CreateStreamOptions = {}): Promise<void> {
    return run(() => {
      const partitions = options.partitions ?? this.options.defaultPartitions;
      const config = options.config ?? {};
      validateStream(name, partitions, options.replicationFactor ?? 1, config);
      try {
        this.transaction(() => {
          this.stmt('INSERT INTO streams VALUES (?, ?, 1, ?, ?)').run(name, partitions, JSON.stringify(config), Date.now());
          const insert = this.stmt('INSERT INTO partitions VALUES (?, ?, 0)');
          for (let p = 0; p < partitions; p++) insert.run(name, p);
        });
      } catch (err) {
        if ((err as { errcode?: unknown }).errcode === SQLITE_CONSTRAINT_PRIMARYKEY) throw new ConflictError(`Stream ${name} already exists.`);
        throw toStorageError(err, 'create a stream');
      }
    });
  }

  async ensureStream(name: string, options?: CreateStreamOptions): Promise<void> {
    try {
      await this.createStream(name, options);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }

  deleteStream(name: string): Promise<void> {
    return run(() => {
      const deleted = this.guard('delete a stream', () => this.transaction(() => {
        const { changes } = this.stmt('DELETE FROM streams WHERE name = ?').run(name);
        for (const table of ['partitions', 'records', 'group_offsets']) this.stmt(`DELETE FROM ${table} WHERE stream = ?`).run(name);
        return changes > 0;
      }));
      if (!deleted) throw new NotFoundError(`Stream ${name} does not exist.`);
      this.notify(name); // waiting polls re-check and report the stream gone
    });
  }

  listStreams(): Promise<StreamInfo[]> {
    return run(() => this.guard('list streams', () => {
      const rows = this.rows<{ name: string; partitions: number; replication_factor: number }>(
        'SELECT name, partitions, replication_factor FROM streams ORDER BY name');
      return rows.map((r) => ({ name: r.name, partitions: r.partitions, replicationFactor: r.replication_factor }));
    }));
  }

  consumer(options: ConsumerOptions): EventLogConsumer {
    return new SqliteEventLogConsumer(this.forConsumers, options);
  }

  /** Deletes records older than their stream's `retention.ms` (like Kafka, a prefix of each partition). */
  purgeExpired(now = Date.now()): number {
    if (!this.isOpen) return 0;
    let deleted = 0;
    try {
      // Timestamps grow with offsets, so the first young record bounds the prefix to drop and
      // the primary key serves the scan without an index on timestamp slowing every append.
      const purge = this.stmt(`DELETE FROM records WHERE stream = ?1 AND partition = ?2 AND timestamp < ?3 AND offset <
        coalesce((SELECT offset FROM records WHERE stream = ?1 AND partition = ?2 AND timestamp >= ?3 ORDER BY offset LIMIT 1), ${Number.MAX_SAFE_INTEGER})`);
      for (const s of this.rows<{ name: string; partitions: number; config: string }>('SELECT name, partitions, config FROM streams')) {
        const retention = Number((JSON.parse(s.config) as Record<string, string>)['retention.ms'] ?? this.options.retentionMs);
        if (retention < 0) continue;
        for (let p = 0; p < s.partitions; p++) deleted += Number(purge.run(s.name, p, now - retention).changes);
      }
      if (deleted > 0) this.options.logger?.info({ deleted }, 'event log retention deleted expired records');
    } catch (err) {
      this.options.logger?.warn({ err }, 'event log retention failed; will retry');
    }
    return deleted;
  }

  private get isOpen(): boolean {
    return this.db !== null && this.closing === null;
  }

  /** Statement cache for this adapter and its consumers; usable while closing, to finish the last flush. */
  private stmt(sql: string): StatementSync {
    if (!this.db) throw new UnavailableError('The event log is closed.');
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** The row shape is the one the SQL selects. */
  private rows<T>(sql: string, ...params: SQLInputValue[]): T[] {
    return this.stmt(sql).all(...params) as unknown as T[];
  }

  private guard<T>(action: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toStorageError(err, action);
    }
  }

  /** @internal Public only because bench/event-log.bench.ts wraps it to count group commits. */
  transaction<T>(fn: () => T): T {
    const db = this.db;
    if (!db) throw new UnavailableError('The event log is closed.');
    return inTransaction(db, fn);
  }

  /** Resolves on an in-process append to `stream`, after `ms`, or when `signal` aborts. */
  private waitForAppend(stream: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const stop = AbortSignal.any([signal, this.closeController.signal]);
      const wake = (): void => {
        clearTimeout(timer);
        stop.removeEventListener('abort', wake);
        const set = this.waiters.get(stream);
        if (set?.delete(wake) && set.size === 0) this.waiters.delete(stream);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      stop.addEventListener('abort', wake);
      if (stop.aborted) wake();
      else this.waiters.set(stream, (this.waiters.get(stream) ?? new Set()).add(wake));
    });
  }

  /** Wakes the polls waiting on `stream`, here and in the other instances of this process. */
  private notify(stream: string): void {
    this.wake(stream);
    this.peers?.postMessage(stream);
  }

  private wake(stream: string): void {
    const waiting = this.waiters.get(stream);
    this.waiters.delete(stream);
    for (const wake of waiting ?? []) wake();
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.pendingRecords = 0;
    let ok: PendingAppend[] = []; // stays empty unless the transaction commits
    const failed = new Map<PendingAppend, Error>();
    try {
      ok = this.transaction(() => {
        const next = new Map<string, Cursor>();
        const now = Date.now();
        const insert = this.stmt('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)');
        const written: PendingAppend[] = [];
        for (const item of batch) {
          // Checked per append so one bad stream name fails its own request, not the whole group.
          const stream = this.stmt('SELECT partitions FROM streams WHERE name = ?').get(item.stream);
          if (!stream) {
            failed.set(item, new NotFoundError(`Stream ${item.stream} does not exist.`));
            continue;
          }
          for (const record of item.records) {
            const partition = partitionForKey(record.key, Number(stream.partitions));
            const slot = `${partition}:${item.stream}`;
            let cursor = next.get(slot);
            if (!cursor) {
              const row = this.stmt('SELECT next_offset FROM partitions WHERE stream = ? AND partition = ?').get(item.stream, partition);
              cursor = { stream: item.stream, partition, offset: Number(row?.next_offset ?? 0) };
              next.set(slot, cursor);
            }
            insert.run(item.stream, partition, cursor.offset++, record.key, record.value, JSON.stringify(record.headers ?? {}), now);
          }
          written.push(item);
        }
        const advance = this.stmt('UPDATE partitions SET next_offset = ? WHERE stream = ? AND partition = ?');
        for (const c of next.values()) advance.run(c.offset, c.stream, c.partition);
        return written;
      });
    } catch (err) {
      const error = toStorageError(err, 'append records');
      this.options.logger?.error({ err, appends: batch.length }, 'event log group commit failed');
      for (const item of batch) if (!failed.has(item)) failed.set(item, error);
    }
    for (const item of ok) item.resolve();
    for (const [item, err] of failed) item.reject(err);
    for (const stream of new Set(ok.map((item) => item.stream))) this.notify(stream);
  }
}
