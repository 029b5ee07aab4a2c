import type {
  ConsumerOptions, CreateStreamOptions, EventLog, EventLogConsumer, LogRecord, LogRecordInput, PollOptions, StreamInfo,
} from '../../src/ports/event-log.ts';
import type { EventRow, FilmMetric, FilmStats, StoredEvent, Summary, TimeRange, Warehouse } from '../../src/ports/warehouse.ts';

/**
 * Pass-through adapters that time what the ETL asks of its ports, so the ETL benchmark can say
 * where a run's time went (read, insert, commit, the rest) without a profiler and without
 * touching the pipeline's code.
 */
export class Stages {
  readonly totals = new Map<string, { ms: number; calls: number }>();

  async time<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      const t = this.totals.get(stage) ?? { ms: 0, calls: 0 };
      t.ms += performance.now() - start;
      t.calls++;
      this.totals.set(stage, t);
    }
  }
}

export class TimedEventLog implements EventLog {
  readonly kind: string;
  #log: EventLog;
  #stages: Stages;
  #target: number;
  #committed = 0;
  #onAllCommitted: () => void = () => undefined;
  /** Resolves once `target` records have been committed by a consumer of this log. */
  readonly allCommitted: Promise<void>;

  constructor(log: EventLog, stages: Stages, target: number) {
    this.kind = log.kind;
    this.#log = log;
    this.#stages = stages;
    this.#target = target;
    this.allCommitted = new Promise((resolve) => (this.#onAllCommitted = resolve));
  }

  start(): Promise<void> {
    return this.#log.start();
  }
  close(): Promise<void> {
    return this.#log.close();
  }
  ping(): Promise<void> {
    return this.#log.ping();
  }
  append(stream: string, records: LogRecordInput[]): Promise<void> {
    return this.#stages.time('dead-letter append', () => this.#log.append(stream, records));
  }
  createStream(name: string, options?: CreateStreamOptions): Promise<void> {
    return this.#log.createStream(name, options);
  }
  ensureStream(name: string, options?: CreateStreamOptions): Promise<void> {
    return this.#log.ensureStream(name, options);
  }
  deleteStream(name: string): Promise<void> {
    return this.#log.deleteStream(name);
  }
  listStreams(): Promise<StreamInfo[]> {
    return this.#log.listStreams();
  }

  consumer(options: ConsumerOptions): EventLogConsumer {
    const inner = this.#log.consumer(options);
    const stages = this.#stages;
    return {
      poll: (o: PollOptions) => stages.time('poll (read the log)', () => inner.poll(o)),
      commit: async (records: readonly LogRecord[]) => {
        await stages.time('commit offsets', () => inner.commit(records));
        this.#committed += records.length;
        if (this.#committed >= this.#target) this.#onAllCommitted();
      },
      lag: () => stages.time('lag (metrics)', () => inner.lag()),
      close: () => inner.close(),
    };
  }
}

export class TimedWarehouse implements Warehouse {
  readonly kind: string;
  #warehouse: Warehouse;
  #stages: Stages;

  constructor(warehouse: Warehouse, stages: Stages) {
    this.kind = warehouse.kind;
    this.#warehouse = warehouse;
    this.#stages = stages;
  }

  start(): Promise<void> {
    return this.#warehouse.start();
  }
  close(): Promise<void> {
    return this.#warehouse.close();
  }
  ping(): Promise<void> {
    return this.#warehouse.ping();
  }
  migrate(): Promise<number[]> {
    return this.#warehouse.migrate();
  }
  insertEvents(rows: readonly EventRow[]): Promise<void> {
    return this.#stages.time('insertEvents (serialize + chDB)', () => this.#warehouse.insertEvents(rows));
  }
  summary(range: TimeRange): Promise<Summary> {
    return this.#warehouse.summary(range);
  }
  topFilms(range: TimeRange, metric: FilmMetric, limit: number): Promise<FilmStats[]> {
    return this.#warehouse.topFilms(range, metric, limit);
  }
  userEvents(userId: string, range: TimeRange, limit: number): Promise<StoredEvent[]> {
    return this.#warehouse.userEvents(userId, range, limit);
  }
}
