import { AggregatorRegistry, Counter, Gauge, Histogram, type MetricObjectWithValues, type MetricValue, Registry, collectDefaultMetrics } from 'prom-client';

/** What the ETL gauges read (`EtlHealth` of src/pipeline/etl-health.ts). */
export interface EtlHealthSnapshot {
  ready: boolean;
  oldestUnloadedAgeMs: number | null;
  lastLoadAt: number | null;
}

/** One registry's metrics as JSON (`registry.getMetricsAsJSON()`), as another thread sends them. */
export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

/**
 * Every Prometheus metric the service exports, on a registry of its own (not prom-client's
 * global one) so each app instance and each test starts from zero.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly eventsAccepted = new Counter({
    name: 'ugc_events_accepted_total',
    help: 'Events durably written to the event log.',
    registers: [this.registry],
  });

  readonly eventRequestsRejected = new Counter({
    name: 'ugc_event_requests_rejected_total',
    help: 'POST /api/v1/events requests answered with an error, by status (400 invalid, 413, 415, 429, 503 ...).',
    labelNames: ['status'] as const,
    registers: [this.registry],
  });

  readonly produceLatency = new Histogram({
    name: 'ugc_event_log_append_duration_seconds',
    help: 'Time from append to durable acknowledgement by the event log.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly etlBatchSize = new Histogram({
    name: 'ugc_etl_batch_size',
    help: 'Records per ETL batch.',
    buckets: [1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 50000],
    registers: [this.registry],
  });

  readonly etlBatchDuration = new Histogram({
    name: 'ugc_etl_batch_duration_seconds',
    help: 'Time to transform, load and commit one ETL batch.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });

  readonly etlRowsLoaded = new Counter({
    name: 'ugc_etl_rows_loaded_total',
    help: 'Rows inserted into the warehouse.',
    registers: [this.registry],
  });

  readonly etlInsertFailures = new Counter({
    name: 'ugc_etl_insert_failures_total',
    help: 'Failed warehouse inserts, by whether a retry can help and what the failure is about (data, infrastructure, unknown).',
    labelNames: ['retriable', 'fault'] as const,
    registers: [this.registry],
  });

  readonly etlDeadLettered = new Counter({
    name: 'ugc_etl_dead_lettered_total',
    help: 'Records sent to the dead-letter stream.',
    registers: [this.registry],
  });

  #lagSource: (() => Promise<number>) | undefined;

  /** Asked of the event log at scrape time only: the ETL's hot path never pays for it. */
  readonly consumerLag = new Gauge({
    name: 'ugc_etl_consumer_lag',
    help: 'Records in the events stream not yet committed by the ETL (measured when scraped).',
    registers: [this.registry],
    collect: async () => {
      if (this.#lagSource) this.consumerLag.set(await this.#lagSource().catch(() => Number.NaN));
    },
  });

  #etlSource: (() => EtlHealthSnapshot) | undefined;

  /** Asked of the ETL at scrape time; 0 when nothing waits (or in a process without an ETL). */
  readonly etlOldestUnloadedAge = new Gauge({
    name: 'ugc_etl_oldest_unloaded_age_seconds',
    help: 'Age of the oldest record the ETL holds but has not loaded yet (since its append); 0 when it holds none.',
    registers: [this.registry],
    collect: () => {
      const age = this.#etlSource?.().oldestUnloadedAgeMs;
      this.etlOldestUnloadedAge.set(age === undefined || age === null ? 0 : age / 1000);
    },
  });

  readonly etlLastLoad = new Gauge({
    name: 'ugc_etl_last_load_timestamp_seconds',
    help: 'When the ETL last committed a batch (Unix time); 0 before the first.',
    registers: [this.registry],
    collect: () => {
      const at = this.#etlSource?.().lastLoadAt;
      this.etlLastLoad.set(at === undefined || at === null ? 0 : at / 1000);
    },
  });

  readonly etlStalled = new Gauge({
    name: 'ugc_etl_stalled',
    help: '1 while the ETL is not ready (records wait beyond ETL_STALL_AFTER_MS, its stream is missing), else 0.',
    registers: [this.registry],
    collect: () => {
      const health = this.#etlSource?.();
      this.etlStalled.set(health === undefined || health.ready ? 0 : 1);
    },
  });

  /** The ETL registers how to read its health. */
  measureEtlWith(source: (() => EtlHealthSnapshot) | undefined): void {
    this.#etlSource = source;
  }

  /** The ETL registers how to measure its consumer lag. */
  measureLagWith(source: (() => Promise<number>) | undefined): void {
    this.#lagSource = source;
  }

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  #remote: (() => Promise<MetricsSnapshot>) | undefined;

  /** Another thread's metrics (the ETL thread of `serve`), summed into this registry's at scrape time. */
  includeRemote(source: (() => Promise<MetricsSnapshot>) | undefined): void {
    this.#remote = source;
  }

  /** The Prometheus text exposition: this registry's metrics plus the remote thread's, if any. */
  async exposition(): Promise<string> {
    if (!this.#remote) return this.registry.metrics();
    const [own, remote] = await Promise.all([this.registry.getMetricsAsJSON(), this.#remote().catch((): MetricsSnapshot => [])]);
    return AggregatorRegistry.aggregate([own, remote]).metrics();
  }
}
