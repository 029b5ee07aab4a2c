import { setTimeout as sleep } from 'node:timers/promises';
import { NotFoundError, isRetriable } from '../domain/errors.ts';
import type { EventLog, EventLogConsumer, LogRecord, PollOptions } from '../ports/event-log.ts';
import type { EventRow, Warehouse } from '../ports/warehouse.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import { type EtlHealth, EtlHealthTracker } from './etl-health.ts';
import { type LoadItem, type Rejected, faultOf, loadIsolatingBadRows } from './load.ts';
import { toEventRow } from './transform.ts';

/** Longest wait for a rebalance to end before an insert attempt: Kafka's rebalance timeout (20 s, kafka-member.ts) and a margin. */
const SETTLE_WAIT_MS = 25_000;

export interface EtlOptions {
  topic: string;
  dlqTopic: string;
  group: string;
  batchSize: number;
  batchMaxWaitMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  /** Records waiting this long with nothing loaded make the ETL unready. Default 60 s. */
  stallAfterMs?: number;
  /** Failed attempts of an insert with an unclassified error, the warehouse answering, before its rows are suspected. Default 5. */
  suspectAfterAttempts?: number;
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
 * which the warehouse deduplicates by event_id. Infrastructure failures are retried with
 * back-off and never skip a record; rows the warehouse refuses are isolated (`load.ts`); a
 * stream that vanished makes the ETL unready until it is back, never ends it; `health()` says
 * whether records are moving (`etl-health.ts`).
 */
export class Etl {
  #deps: EtlDeps;
  #options: Required<EtlOptions>;
  #consumer: EventLogConsumer | undefined;
  /** Stops reading new batches; the batch in hand is still loaded and committed. */
  #stop = new AbortController();
  /** Gives up the batch in hand (no commit: it is replayed on the next start). */
  #abort = new AbortController();
  #running: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  readonly #health: EtlHealthTracker;
  #backlogTimer: NodeJS.Timeout | undefined;

  constructor(deps: EtlDeps, options: EtlOptions) {
    this.#deps = deps;
    this.#options = { stallAfterMs: 60_000, suspectAfterAttempts: 5, ...options };
    this.#health = new EtlHealthTracker({ stallAfterMs: this.#options.stallAfterMs, logger: deps.logger });
  }

  start(): void {
    if (this.#running) return;
    const consumer = this.#deps.log.consumer({ group: this.#options.group, stream: this.#options.topic });
    this.#consumer = consumer;
    this.#deps.metrics.measureLagWith(() => consumer.lag());
    this.#deps.metrics.measureEtlWith(() => this.health());
    this.#health.watch(() => this.health(), Math.min(1000, Math.max(10, this.#options.stallAfterMs / 4)));
    this.#watchBacklog(consumer);
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

  /** Whether records are moving (see `EtlHealth`), including the consumer's own verdict when it has one. */
  health(): EtlHealth {
    return this.#health.health(this.#consumer?.health?.());
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
        this.#health.unwatch();
        clearInterval(this.#backlogTimer);
        this.#deps.metrics.measureLagWith(undefined);
        this.#deps.metrics.measureEtlWith(undefined);
        await this.#consumer?.close();
      }
    })();
    return this.#stopped;
  }

  /** Measures the consumer's lag a few times per stall bound (one probe at a time; failures ignored). */
  #watchBacklog(consumer: EventLogConsumer): void {
    let probing = false;
    const probe = (): void => {
      if (probing) return;
      probing = true;
      void consumer
        .lag()
        .then((lag) => this.#health.backlog(lag), () => undefined)
        .finally(() => (probing = false));
    };
    this.#backlogTimer = setInterval(probe, Math.min(15_000, Math.max(250, this.#options.stallAfterMs / 4))).unref();
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
      const records = await this.#poll(consumer, { maxRecords: batchSize - batch.length, maxWaitMs: wait, signal: this.#stop.signal });
      if (batch.length === 0 && records.length > 0) deadline = Date.now() + batchMaxWaitMs;
      this.#health.holding(records);
      batch.push(...records);
    }
    return batch;
  }

  /** A poll that outlives a vanished stream or an unreachable log; `[]` once stopping. */
  async #poll(consumer: EventLogConsumer, options: PollOptions): Promise<LogRecord[]> {
    try {
      return await this.#retrying('event log poll', () => consumer.poll(options), this.#stop.signal);
    } catch (err) {
      if (this.#stop.signal.aborted) return [];
      throw err;
    }
  }

  async #process(consumer: EventLogConsumer, batch: LogRecord[]): Promise<void> {
    const { metrics, logger } = this.#deps;
    const endTimer = metrics.etlBatchDuration.startTimer();
    const good: LoadItem[] = [];
    const dead: Rejected[] = [];
    for (const record of batch) {
      const result = toEventRow(record);
      if (result.kind === 'ok') good.push({ record, row: result.row });
      else dead.push({ record, reason: result.reason });
    }
    const rejected = await this.#load(consumer, good, dead);
    dead.push(...rejected);
    if (dead.length > 0) {
      await this.#retrying('dead-letter append', () => this.#deadLetter(dead));
      logger.warn({ count: dead.length, reasons: [...new Set(dead.map((d) => d.reason))].slice(0, 5) }, 'records dead-lettered');
    }
    // Partitions given to another member meanwhile are committed by it, after it loads them.
    await this.#retrying('offset commit', () => consumer.commit(batch.filter((r) => consumer.holds?.(r.partition) ?? true)));
    this.#health.loaded();
    metrics.etlBatchSize.observe(batch.length);
    metrics.etlRowsLoaded.inc(good.length - rejected.length);
    endTimer();
    logger.debug({ records: batch.length, loaded: good.length - rejected.length, dead: dead.length }, 'batch committed');
  }

  /**
   * Loads `good` (see `loadIsolatingBadRows`) while this member holds their partitions: between
   * attempts it checks, and the records of a partition the group gave to another member are left
   * to that member (uncommitted; it reads them from the last commit), here and in `dead`, so that
   * two members never keep loading the same records, e.g. both retrying through a warehouse outage.
   */
  async #load(consumer: EventLogConsumer, good: LoadItem[], dead: Rejected[]): Promise<Rejected[]> {
    const held = (item: { record: LogRecord }): boolean => consumer.holds?.(item.record.partition) ?? true;
    // A rebalance under way may be giving this batch's partitions to another member, which will
    // read them from the last commit at once: an insert started now would race its insert of
    // the same records (both dedup lookups empty, the rollups counting twice). So every attempt,
    // the first too, waits for the group to settle and then drops what this member lost.
    const allHeld = async (): Promise<boolean> => {
      await consumer.settled?.(SETTLE_WAIT_MS);
      return items.every(held) && dead.every(held);
    };
    let items = good;
    for (;;) {
      const revoked = new Error('partitions revoked');
      try {
        if (!(await allHeld())) throw revoked;
        return await loadIsolatingBadRows(
          items,
          {
            insert: (rows) => this.#insert(rows),
            answers: () => this.#deps.warehouse.ping().then(() => true, () => false),
            backoff: async (attempt, err) => {
              await this.#backoff('warehouse insert', attempt, err, this.#abort.signal);
              if (!(await allHeld())) throw revoked;
            },
          },
          { suspectAfter: this.#options.suspectAfterAttempts },
        );
      } catch (err) {
        if (err !== revoked) throw err;
        const before = items.length + dead.length;
        items = items.filter(held);
        const kept = dead.filter(held);
        dead.splice(0, dead.length, ...kept);
        this.#deps.logger.warn({ left: before - items.length - dead.length }, 'partitions given to another member while loading: their records are left to it');
      }
    }
  }

  async #insert(rows: EventRow[]): Promise<void> {
    try {
      await this.#deps.warehouse.insertEvents(rows);
    } catch (err) {
      this.#deps.metrics.etlInsertFailures.inc({ retriable: String(isRetriable(err)), fault: faultOf(err) });
      throw err;
    }
  }

  async #deadLetter(dead: Rejected[]): Promise<void> {
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

  /**
   * Runs `action` until it succeeds, backing off after retriable failures and after a stream
   * that does not exist (someone deleted it: the ETL waits, unready, until it is back). Other
   * failures, and `signal` aborting, end the attempts with the error.
   */
  async #retrying<T>(what: string, action: () => Promise<T>, signal = this.#abort.signal): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await action();
        if (attempt > 1) this.#health.blocked(undefined);
        return result;
      } catch (err) {
        const vanished = err instanceof NotFoundError;
        if ((!vanished && !isRetriable(err)) || signal.aborted) throw err;
        if (vanished) this.#health.blocked(`${what}: ${err.message}`);
        await this.#backoff(what, attempt, err, signal);
      }
    }
  }

  /** Capped exponential back-off with full jitter; rejects when `signal` aborts. */
  async #backoff(what: string, attempt: number, err: unknown, signal: AbortSignal): Promise<void> {
    const { retryMinMs, retryMaxMs } = this.#options;
    const delay = Math.min(retryMaxMs, retryMinMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    this.#deps.logger.warn({ err, attempt, delayMs: Math.round(delay) }, `${what} failed; retrying`);
    await sleep(delay, undefined, { signal });
  }
}
