import { setTimeout as sleep } from 'node:timers/promises';
import { isRetriable } from '../domain/errors.ts';
import type { EventLog, EventLogConsumer, LogRecord } from '../ports/event-log.ts';
import type { EventRow, Warehouse } from '../ports/warehouse.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type LoadItem, loadIsolatingBadRows } from './load.ts';
import { toEventRow } from './transform.ts';

export interface EtlOptions {
  topic: string;
  dlqTopic: string;
  group: string;
  batchSize: number;
  batchMaxWaitMs: number;
  retryMinMs: number;
  retryMaxMs: number;
}

export interface EtlDeps {
  log: EventLog;
  warehouse: Warehouse;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Events stream → warehouse, the same code in every mode: read a batch (by size or age),
 * transform each record, insert the good rows in one statement, dead-letter the bad ones,
 * and only then commit the offsets. A crash anywhere before the commit replays the batch,
 * which the warehouse deduplicates by event_id; infrastructure failures are retried with
 * back-off and never skip a record.
 */
export class Etl {
  #deps: EtlDeps;
  #options: EtlOptions;
  #consumer: EventLogConsumer | undefined;
  /** Stops reading new batches; the batch in hand is still loaded and committed. */
  #stop = new AbortController();
  /** Gives up the batch in hand (no commit: it is replayed on the next start). */
  #abort = new AbortController();
  #running: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;

  constructor(deps: EtlDeps, options: EtlOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  start(): void {
    if (this.#running) return;
    const consumer = this.#deps.log.consumer({ group: this.#options.group, stream: this.#options.topic });
    this.#consumer = consumer;
    this.#deps.metrics.measureLagWith(() => consumer.lag());
    this.#running = this.#loop(this.#consumer).catch((err: unknown) => {
      if (this.#abort.signal.aborted) return;
      this.#deps.logger.fatal({ err }, 'ETL stopped on an unexpected error');
      throw err;
    });
  }

  /** Resolves when the loop has exited; rejects if it died. */
  get done(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  /** Finishes the batch in hand, then closes. After `timeoutMs` the batch is abandoned uncommitted. */
  stop(timeoutMs: number): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stop.abort();
      const timer = setTimeout(() => this.#abort.abort(), timeoutMs);
      try {
        await this.#running?.catch(() => undefined);
      } finally {
        clearTimeout(timer);
        this.#deps.metrics.measureLagWith(undefined);
        await this.#consumer?.close();
      }
    })();
    return this.#stopped;
  }

  async #loop(consumer: EventLogConsumer): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const batch = await this.#collect(consumer);
      if (batch.length > 0) await this.#process(consumer, batch);
    }
  }

  /** Polls until the batch is full or `batchMaxWaitMs` has passed since its first record. */
  async #collect(consumer: EventLogConsumer): Promise<LogRecord[]> {
    const { batchSize, batchMaxWaitMs } = this.#options;
    const batch: LogRecord[] = [];
    let deadline = Number.POSITIVE_INFINITY;
    while (batch.length < batchSize && !this.#stop.signal.aborted) {
      const wait = batch.length === 0 ? batchMaxWaitMs : deadline - Date.now();
      if (wait <= 0) break;
      const records = await consumer.poll({ maxRecords: batchSize - batch.length, maxWaitMs: wait, signal: this.#stop.signal });
      if (batch.length === 0 && records.length > 0) deadline = Date.now() + batchMaxWaitMs;
      batch.push(...records);
    }
    return batch;
  }

  async #process(consumer: EventLogConsumer, batch: LogRecord[]): Promise<void> {
    const { metrics, logger } = this.#deps;
    const endTimer = metrics.etlBatchDuration.startTimer();
    const good: LoadItem[] = [];
    const dead: { record: LogRecord; reason: string }[] = [];
    for (const record of batch) {
      const result = toEventRow(record);
      if (result.kind === 'ok') good.push({ record, row: result.row });
      else dead.push({ record, reason: result.reason });
    }
    const rejected = await this.#retrying('warehouse insert', () =>
      loadIsolatingBadRows(good, (rows: EventRow[]) => this.#insert(rows)),
    );
    dead.push(...rejected);
    if (dead.length > 0) {
      await this.#retrying('dead-letter append', () => this.#deadLetter(dead));
      logger.warn({ count: dead.length, reasons: [...new Set(dead.map((d) => d.reason))].slice(0, 5) }, 'records dead-lettered');
    }
    await this.#retrying('offset commit', () => consumer.commit(batch));
    metrics.etlBatchSize.observe(batch.length);
    metrics.etlRowsLoaded.inc(good.length - rejected.length);
    endTimer();
    logger.debug({ records: batch.length, loaded: good.length - rejected.length, dead: dead.length }, 'batch committed');
  }

  async #insert(rows: EventRow[]): Promise<void> {
    try {
      await this.#deps.warehouse.insertEvents(rows);
    } catch (err) {
      this.#deps.metrics.etlInsertFailures.inc({ retriable: String(isRetriable(err)) });
      throw err;
    }
  }

  async #deadLetter(dead: { record: LogRecord; reason: string }[]): Promise<void> {
    await this.#deps.log.append(
      this.#options.dlqTopic,
      dead.map(({ record, reason }) => ({
        key: record.key,
        value: record.value,
        headers: {
          ...record.headers,
          'dlq.reason': reason,
          'dlq.source.stream': record.stream,
          'dlq.source.partition': String(record.partition),
          'dlq.source.offset': String(record.offset),
          'dlq.failed_at': new Date().toISOString(),
        },
      })),
    );
    this.#deps.metrics.etlDeadLettered.inc(dead.length);
  }

  /** Retries retriable failures with capped exponential back-off and full jitter, until aborted. */
  async #retrying<T>(what: string, action: () => Promise<T>): Promise<T> {
    const { retryMinMs, retryMaxMs } = this.#options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await action();
      } catch (err) {
        if (!isRetriable(err) || this.#abort.signal.aborted) throw err;
        const delay = Math.min(retryMaxMs, retryMinMs * 2 ** attempt) * (0.5 + Math.random() / 2);
        this.#deps.logger.warn({ err, attempt, delayMs: Math.round(delay) }, `${what} failed; retrying`);
        await sleep(delay, undefined, { signal: this.#abort.signal });
      }
    }
  }
}
