import type { ConsumerOptions, EventLog, EventLogConsumer, LogRecord, LogRecordInput, PollOptions } from '../../src/ports/event-log.ts';
import type { EventRow, Warehouse } from '../../src/ports/warehouse.ts';
import { DelegatingEventLog, DelegatingWarehouse } from '../../test/helpers/delegating.ts';

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

export class TimedEventLog extends DelegatingEventLog {
  #stages: Stages;
  #target: number;
  #committed = 0;
  #onAllCommitted: () => void = () => undefined;
  /** Resolves once `target` records have been committed by a consumer of this log. */
  readonly allCommitted: Promise<void>;

  constructor(log: EventLog, stages: Stages, target: number) {
    super(log);
    this.#stages = stages;
    this.#target = target;
    this.allCommitted = new Promise((resolve) => (this.#onAllCommitted = resolve));
  }

  override append(stream: string, records: LogRecordInput[]): Promise<void> {
    return this.#stages.time('dead-letter append', () => this.real.append(stream, records));
  }

  override consumer(options: ConsumerOptions): EventLogConsumer {
    const inner = this.real.consumer(options);
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

export class TimedWarehouse extends DelegatingWarehouse {
  #stages: Stages;

  constructor(warehouse: Warehouse, stages: Stages) {
    super(warehouse);
    this.#stages = stages;
  }

  override insertEvents(rows: readonly EventRow[]): Promise<void> {
    return this.#stages.time('insertEvents (serialize + chDB)', () => this.real.insertEvents(rows));
  }
}
