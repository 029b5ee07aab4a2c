import type { SQLInputValue, StatementSync } from 'node:sqlite';
import { NotFoundError, UnavailableError } from '../../domain/errors.ts';
import type { ConsumerOptions, EventLogConsumer, LogRecord, PollOptions } from '../../ports/event-log.ts';
import { parseJson } from '../../domain/json.ts';

/** What a consumer may use of its `SqliteEventLog`: the shared connection and a wake-up on appends. */
export interface ConsumerLog {
  /** How often a waiting poll looks for records appended by another process on the same file. */
  readonly pollIntervalMs: number;
  isOpen(): boolean;
  /** Runs `fn`; a SQLite failure becomes the service error saying the log could not `action`. */
  guard<T>(action: string, fn: () => T): T;
  /** A prepared statement from the log's cache. */
  stmt(sql: string): StatementSync;
  /** The row shape is the one the SQL selects. */
  rows<T>(sql: string, ...params: SQLInputValue[]): T[];
  transaction(fn: () => void): void;
  /** Resolves on an in-process append to `stream`, after `ms`, or when `signal` aborts. */
  waitForAppend(stream: string, ms: number, signal: AbortSignal): Promise<void>;
}

interface RecordRow { partition: number; offset: number; key: string; value: Uint8Array; headers: string; timestamp: number }
interface PartitionRow { partition: number; next_offset: number }

/** Runs `fn` now; a synchronous throw becomes a rejection, as callers of a Promise API expect. */
const run = <T>(fn: () => T): Promise<T> => new Promise<T>((resolve) => resolve(fn()));

/**
 * One member of a consumer group. The embedded log has no group coordinator, so a member reads
 * every partition; the service runs one ETL member per group against it.
 *
 * A stream can be deleted under a member and created again (an operator, a test). The member
 * then reports NotFoundError while it is gone and starts over on the new stream (its group's
 * offsets went with the old one), and never commits offsets of the old stream's records into
 * the new one, which would skip the new records below them.
 */
export class SqliteEventLogConsumer implements EventLogConsumer {
  private readonly log: ConsumerLog;
  private readonly group: string;
  private readonly stream: string;
  private readonly from: 'earliest' | 'latest';
  /** Per partition: where this member started (committed offset or reset point), fixed on first use. */
  private start: Map<number, number> | null = null;
  /** Per partition: the offset after the last record returned; begins as a copy of `start`. */
  private positions = new Map<number, number>();
  private turn = 0;
  private readonly closeController = new AbortController();
  /** Which creation of the stream `start` and `positions` belong to (rowid and creation time). */
  private incarnation: string | null = null;
  /** Bumped when the stream vanishes or is replaced: records returned before are not committed. */
  private generation = 0;
  private readonly issued = new WeakMap<LogRecord, number>();

  constructor(log: ConsumerLog, options: ConsumerOptions) {
    this.log = log;
    this.group = options.group;
    this.stream = options.stream;
    this.from = options.from ?? 'earliest';
  }

  async poll({ maxRecords, maxWaitMs, signal }: PollOptions): Promise<LogRecord[]> {
    if (this.closeController.signal.aborted) throw new UnavailableError('The consumer is closed.');
    const stop = signal ? AbortSignal.any([signal, this.closeController.signal]) : this.closeController.signal;
    const deadline = Date.now() + maxWaitMs;
    for (;;) {
      const records = this.log.guard('read records', () => this.read(maxRecords));
      const remaining = deadline - Date.now();
      if (records.length > 0 || remaining <= 0 || stop.aborted) return records;
      await this.log.waitForAppend(this.stream, Math.min(this.log.pollIntervalMs, remaining), stop);
      // `close` during the wait aborts `stop`: that poll ends with [] rather than throwing.
      if (stop.aborted || !this.log.isOpen()) return [];
    }
  }

  commit(records: readonly LogRecord[]): Promise<void> {
    return run(() => {
      const next = new Map<string, Pick<LogRecord, 'stream' | 'partition' | 'offset'>>();
      for (const r of records) {
        if ((this.issued.get(r) ?? this.generation) !== this.generation) continue;
        const slot = `${r.partition}:${r.stream}`;
        if ((next.get(slot)?.offset ?? -1) < r.offset + 1) next.set(slot, { stream: r.stream, partition: r.partition, offset: r.offset + 1 });
      }
      if (next.size === 0) return;
      this.log.guard('commit offsets', () => this.log.transaction(() => {
        // Gone or replaced since these records were read: their offsets mean nothing now.
        if (this.currentIncarnation() !== this.incarnation) return;
        const upsert = this.log.stmt(`INSERT INTO group_offsets VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE
          SET next_offset = max(next_offset, excluded.next_offset)`);
        for (const c of next.values()) upsert.run(this.group, c.stream, c.partition, c.offset);
      }));
    });
  }

  lag(): Promise<number> {
    return run(() => this.log.guard('compute lag', () => {
      const ends = this.ends();
      const start = this.startOffsets(ends);
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
    this.startOffsets(ends);
    const ready = [...ends].filter(([p, end]) => end > (this.positions.get(p) ?? end)).map(([p]) => p);
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
          WHERE stream = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?`, this.stream, p, this.positions.get(p) ?? 0, limit);
        for (const row of rows) {
          const record = this.toRecord(row);
          this.issued.set(record, this.generation);
          out.push(record);
        }
        const last = rows.at(-1);
        if (last) this.positions.set(p, last.offset + 1);
        if (rows.length === limit) more.push(p);
      }
      order = more;
    }
    return out;
  }

  private toRecord(row: RecordRow): LogRecord {
    const value = Buffer.from(row.value.buffer, row.value.byteOffset, row.value.byteLength);
    const headers = parseJson(row.headers) as Record<string, string>;
    return { stream: this.stream, partition: row.partition, offset: row.offset, key: row.key, value, headers, timestamp: row.timestamp };
  }

  /** Next offset to be written per partition; also how an unknown (or re-created) stream is detected. */
  private ends(): Map<number, number> {
    const incarnation = this.currentIncarnation();
    if (incarnation !== this.incarnation) this.startOver(incarnation);
    const rows = this.log.rows<PartitionRow>('SELECT partition, next_offset FROM partitions WHERE stream = ? ORDER BY partition', this.stream);
    if (incarnation === null || rows.length === 0) throw new NotFoundError(`Stream ${this.stream} does not exist.`);
    return new Map(rows.map((r) => [r.partition, r.next_offset]));
  }

  private currentIncarnation(): string | null {
    const [row] = this.log.rows<{ id: number; created_at: number }>('SELECT rowid AS id, created_at FROM streams WHERE name = ?', this.stream);
    return row === undefined ? null : `${row.id}:${row.created_at}`;
  }

  /** Forgets the positions of a stream that vanished or was replaced; the next read starts afresh. */
  private startOver(incarnation: string | null): void {
    if (this.incarnation !== null) {
      this.start = null;
      this.positions = new Map();
      this.generation += 1;
    }
    this.incarnation = incarnation;
  }

  private committed(): Map<number, number> {
    const rows = this.log.rows<PartitionRow>(
      'SELECT partition, next_offset FROM group_offsets WHERE consumer_group = ? AND stream = ?', this.group, this.stream);
    return new Map(rows.map((r) => [r.partition, r.next_offset]));
  }

  /** `start`, fixed (and `positions` set from it) on the first call. */
  private startOffsets(ends: Map<number, number>): Map<number, number> {
    if (this.start) return this.start;
    const committed = this.committed();
    const first = this.log.stmt('SELECT min(offset) AS offset FROM records WHERE stream = ? AND partition = ?');
    const start = new Map<number, number>();
    for (const [p, end] of ends) {
      const reset = this.from === 'latest' ? end : Number(first.get(this.stream, p)?.offset ?? end);
      start.set(p, committed.get(p) ?? reset);
    }
    this.positions = new Map(start);
    return (this.start = start);
  }
}
