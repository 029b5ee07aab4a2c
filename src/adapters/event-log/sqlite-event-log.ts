import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import { AppError, BackendError, ConflictError, NotFoundError, UnavailableError, ValidationError } from '../../domain/errors.ts';
import type { FieldError } from '../../domain/errors.ts';
import type {
  ConsumerOptions, CreateStreamOptions, EventLog, EventLogConsumer, LogRecord, LogRecordInput,
  PollOptions, StreamInfo,
} from '../../ports/event-log.ts';
import { openSqlite } from '../sqlite.ts';
import { partitionForKey } from './partitioner.ts';

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

const SCHEMA_VERSION = 1;
const RETENTION_CHECK_MS = 60_000;
const STREAM_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
// SQLite primary result codes where the same write can succeed later (busy, locked, nomem,
// readonly, ioerr, full, cantopen): callers get 503 + Retry-After instead of a 500.
const TRANSIENT = new Set([5, 6, 7, 8, 10, 13, 14]);

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS streams (name TEXT PRIMARY KEY, partitions INTEGER NOT NULL,
    replication_factor INTEGER NOT NULL, config TEXT NOT NULL, created_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS partitions (stream TEXT NOT NULL, partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL, PRIMARY KEY (stream, partition)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS records (stream TEXT NOT NULL, partition INTEGER NOT NULL,
    offset INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL, headers TEXT NOT NULL,
    timestamp INTEGER NOT NULL, PRIMARY KEY (stream, partition, offset)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS group_offsets (consumer_group TEXT NOT NULL, stream TEXT NOT NULL,
    partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (consumer_group, stream, partition)) WITHOUT ROWID;`;

interface PendingAppend { stream: string; records: LogRecordInput[]; resolve: () => void; reject: (err: Error) => void }
interface Cursor { stream: string; partition: number; offset: number }
interface RecordRow { partition: number; offset: number; key: string; value: Uint8Array; headers: string; timestamp: number }
interface PartitionRow { partition: number; next_offset: number }

/** Runs `fn` now; a synchronous throw becomes a rejection, as callers of a Promise API expect. */
const run = <T>(fn: () => T): Promise<T> => new Promise<T>((resolve) => resolve(fn()));

/** Maps a SQLite failure to the service's errors: transient ones say a retry can help. */
export function toStorageError(err: unknown, action: string): Error {
  if (err instanceof AppError) return err;
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  if (typeof errcode !== 'number') return err instanceof Error ? err : new Error(String(err));
  const message = `The event log could not ${action}.`;
  return TRANSIENT.has(errcode & 0xff)
    ? new UnavailableError(message, { cause: err, retryAfterSeconds: 1 })
    : new BackendError(message, { cause: err, retriable: false });
}

/** The embedded event log: one SQLite file, every append committed with `synchronous=FULL`. */
export class SqliteEventLog implements EventLog {
  readonly kind = 'sqlite';
  readonly pollIntervalMs: number;
  private readonly options: SqliteEventLogOptions;
  private db: DatabaseSync | null = null;
  private state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  private readonly statements = new Map<string, StatementSync>();
  private queue: PendingAppend[] = [];
  private pendingRecords = 0;
  private flushing: Promise<void> | null = null;
  private closed: Promise<void> | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly closeController = new AbortController();

  constructor(options: SqliteEventLogOptions) {
    this.options = options;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
  }

  start(): Promise<void> {
    return run(() => {
      if (this.state !== 'new') return;
      const db = this.guard('open its database', () => openSqlite(this.options.path));
      try {
        const version = Number(db.prepare('PRAGMA user_version').get()?.user_version ?? 0);
        if (version > SCHEMA_VERSION) throw new BackendError(`Event log schema ${version} is newer than this build.`, { retriable: false });
        if (version < SCHEMA_VERSION) {
          // IMMEDIATE serialises two processes migrating one file; IF NOT EXISTS makes the second a no-op.
          db.exec(`BEGIN IMMEDIATE; ${SCHEMA} PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`);
        }
      } catch (err) {
        db.close();
        throw toStorageError(err, 'open its database');
      }
      this.db = db;
      this.state = 'open';
      this.purgeExpired();
      this.retentionTimer = setInterval(() => this.purgeExpired(), RETENTION_CHECK_MS).unref();
    });
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      if (this.state === 'open') this.state = 'closing';
      await this.flushing;
      if (this.retentionTimer) clearInterval(this.retentionTimer);
      this.closeController.abort();
      this.statements.clear();
      this.db?.close();
      this.db = null;
      this.state = 'closed';
    })();
    return this.closed;
  }

  ping(): Promise<void> {
    return run(() => void this.guard('answer a ping', () => this.stmt('SELECT 1').get()));
  }

  append(stream: string, records: LogRecordInput[]): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new UnavailableError('The event log is closed.'));
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
        if ((err as { errcode?: unknown }).errcode === 1555) throw new ConflictError(`Stream ${name} already exists.`);
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
    return new SqliteEventLogConsumer(this, options);
  }

  /** Deletes records older than their stream's `retention.ms` (like Kafka, a prefix of each partition). */
  purgeExpired(now = Date.now()): number {
    if (this.state !== 'open') return 0;
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

  /** @internal */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** @internal Statement cache for this adapter and its consumers. */
  stmt(sql: string): StatementSync {
    if (this.state === 'closed' || this.state === 'new' || !this.db) throw new UnavailableError('The event log is closed.');
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /** @internal The row shape is the one the SQL selects. */
  rows<T>(sql: string, ...params: SQLInputValue[]): T[] {
    return this.stmt(sql).all(...params) as unknown as T[];
  }

  /** @internal */
  guard<T>(action: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toStorageError(err, action);
    }
  }

  /** @internal */
  transaction<T>(fn: () => T): T {
    const db = this.db;
    if (!db) throw new UnavailableError('The event log is closed.');
    // IMMEDIATE takes the write lock up front, so a concurrent writer waits (busy_timeout) at BEGIN
    // rather than failing with SQLITE_BUSY when a read lock cannot be upgraded.
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  /** @internal Resolves on an in-process append to `stream`, after `ms`, or when `signal` aborts. */
  waitForAppend(stream: string, ms: number, signal: AbortSignal): Promise<void> {
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

  private notify(stream: string): void {
    const waiting = this.waiters.get(stream);
    this.waiters.delete(stream);
    for (const wake of waiting ?? []) wake();
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    const ok: PendingAppend[] = [];
    const failed = new Map<PendingAppend, Error>();
    try {
      this.transaction(() => {
        const next = new Map<string, Cursor>();
        const now = Date.now();
        const insert = this.stmt('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)');
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
          ok.push(item);
        }
        const advance = this.stmt('UPDATE partitions SET next_offset = ? WHERE stream = ? AND partition = ?');
        for (const c of next.values()) advance.run(c.offset, c.stream, c.partition);
      });
    } catch (err) {
      const error = toStorageError(err, 'append records');
      this.options.logger?.error({ err, appends: batch.length }, 'event log group commit failed');
      for (const item of batch) if (!failed.has(item)) failed.set(item, error);
      ok.length = 0;
    } finally {
      for (const item of batch) this.pendingRecords -= item.records.length;
    }
    for (const item of ok) item.resolve();
    for (const [item, err] of failed) item.reject(err);
    for (const stream of new Set(ok.map((item) => item.stream))) this.notify(stream);
  }
}

function validateStream(name: string, partitions: number, replicationFactor: number, config: Record<string, string>): void {
  const errors: FieldError[] = [];
  if (!STREAM_NAME.test(name)) errors.push({ path: '/name', message: 'must match ^[a-zA-Z0-9._-]{1,249}$' });
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1000) {
    errors.push({ path: '/partitions', message: 'must be an integer from 1 to 1000' });
  }
  if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
    errors.push({ path: '/replication_factor', message: 'must be a positive integer' });
  } else if (replicationFactor > 1) {
    errors.push({ path: '/replication_factor', message: 'the embedded event log keeps a single replica; use 1 or run Kafka' });
  }
  const retention = config['retention.ms'];
  if (retention !== undefined && !(/^-?\d+$/.test(retention) && Number(retention) >= -1)) {
    errors.push({ path: '/config/retention.ms', message: 'must be an integer number of milliseconds, or -1 for no limit' });
  }
  if (errors.length > 0) throw new ValidationError(errors, 'The stream options are invalid.');
}

/**
 * One member of a consumer group. The embedded log has no group coordinator, so a member reads
 * every partition; the service runs one ETL member per group against it.
 */
class SqliteEventLogConsumer implements EventLogConsumer {
  private readonly log: SqliteEventLog;
  private readonly group: string;
  private readonly stream: string;
  private readonly from: 'earliest' | 'latest';
  /** Per partition: where this member started (committed offset or reset point), fixed on first use. */
  private start: Map<number, number> | null = null;
  private positions = new Map<number, number>();
  private turn = 0;
  private readonly closeController = new AbortController();

  constructor(log: SqliteEventLog, options: ConsumerOptions) {
    this.log = log;
    this.group = options.group;
    this.stream = options.stream;
    this.from = options.from ?? 'earliest';
  }

  async poll({ maxRecords, maxWaitMs, signal }: PollOptions): Promise<LogRecord[]> {
    const stop = AbortSignal.any(signal ? [signal, this.closeController.signal] : [this.closeController.signal]);
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      if (this.closeController.signal.aborted) throw new UnavailableError('The consumer is closed.');
      const records = this.log.guard('read records', () => this.read(maxRecords));
      const remaining = deadline - Date.now();
      if (records.length > 0 || remaining <= 0 || stop.aborted) return records;
      await this.log.waitForAppend(this.stream, Math.min(this.log.pollIntervalMs, remaining), stop);
      if (stop.aborted || !this.log.isOpen) return [];
    }
  }

  commit(records: readonly LogRecord[]): Promise<void> {
    return run(() => {
      const next = new Map<string, Cursor>();
      for (const r of records) {
        const slot = `${r.partition}:${r.stream}`;
        if ((next.get(slot)?.offset ?? -1) < r.offset + 1) next.set(slot, { stream: r.stream, partition: r.partition, offset: r.offset + 1 });
      }
      if (next.size === 0) return;
      this.log.guard('commit offsets', () => this.log.transaction(() => {
        const upsert = this.log.stmt(`INSERT INTO group_offsets VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE
          SET next_offset = max(next_offset, excluded.next_offset)`);
        for (const c of next.values()) upsert.run(this.group, c.stream, c.partition, c.offset);
      }));
    });
  }

  lag(): Promise<number> {
    return run(() => this.log.guard('compute lag', () => {
      const ends = this.ends();
      const start = this.position(ends);
      const committed = this.committed();
      let lag = 0;
      for (const [p, end] of ends) lag += Math.max(0, end - (committed.get(p) ?? start.get(p) ?? end));
      return lag;
    }));
  }

  close(): Promise<void> {
    this.closeController.abort();
    return Promise.resolve();
  }

  private read(maxRecords: number): LogRecord[] {
    const ends = this.ends();
    this.position(ends);
    const positions = this.positions;
    const ready = [...ends].filter(([p, end]) => end > (positions.get(p) ?? end)).map(([p]) => p);
    // Rotating the first partition keeps one busy partition from starving the others.
    const first = ready.length > 0 ? this.turn++ % ready.length : 0;
    let order = [...ready.slice(first), ...ready.slice(0, first)];
    const out: LogRecord[] = [];
    // A fair share each first, then the room left goes to the partitions that filled their share.
    for (const pass of [0, 1]) {
      const more: number[] = [];
      for (const [i, p] of order.entries()) {
        const room = maxRecords - out.length;
        const limit = pass === 0 ? Math.ceil(room / (order.length - i)) : room;
        if (limit <= 0) break;
        const rows = this.log.rows<RecordRow>(`SELECT partition, offset, key, value, headers, timestamp FROM records
          WHERE stream = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?`, this.stream, p, positions.get(p) ?? 0, limit);
        for (const row of rows) out.push(this.toRecord(row));
        const last = rows.at(-1);
        if (last) positions.set(p, last.offset + 1);
        if (rows.length === limit) more.push(p);
      }
      order = more;
    }
    return out;
  }

  private toRecord(row: RecordRow): LogRecord {
    const value = Buffer.from(row.value.buffer, row.value.byteOffset, row.value.byteLength);
    const headers = JSON.parse(row.headers) as Record<string, string>;
    return { stream: this.stream, partition: row.partition, offset: row.offset, key: row.key, value, headers, timestamp: row.timestamp };
  }

  /** Next offset to be written per partition; also how an unknown stream is detected. */
  private ends(): Map<number, number> {
    const rows = this.log.rows<PartitionRow>('SELECT partition, next_offset FROM partitions WHERE stream = ? ORDER BY partition', this.stream);
    if (rows.length === 0) throw new NotFoundError(`Stream ${this.stream} does not exist.`);
    return new Map(rows.map((r) => [r.partition, r.next_offset]));
  }

  private committed(): Map<number, number> {
    const rows = this.log.rows<PartitionRow>(
      'SELECT partition, next_offset FROM group_offsets WHERE consumer_group = ? AND stream = ?', this.group, this.stream);
    return new Map(rows.map((r) => [r.partition, r.next_offset]));
  }

  private position(ends: Map<number, number>): Map<number, number> {
    if (this.start) return this.start;
    const committed = this.committed();
    const first = this.log.stmt('SELECT min(offset) AS offset FROM records WHERE stream = ? AND partition = ?');
    const positions = new Map<number, number>();
    for (const [p, end] of ends) {
      const reset = this.from === 'latest' ? end : Number(first.get(this.stream, p)?.offset ?? end);
      positions.set(p, committed.get(p) ?? reset);
    }
    this.positions = new Map(positions);
    return (this.start = positions);
  }
}
