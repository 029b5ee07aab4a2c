import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, afterEach, before } from 'node:test';
import pino from 'pino';
import { SqliteEventLog } from '../../src/adapters/event-log/sqlite-event-log.ts';
import { ChdbWarehouse } from '../../src/adapters/warehouse/chdb-warehouse.ts';
import { type EventInput, type EventMessage, normalizeEvents } from '../../src/domain/events.ts';
import type { Logger } from '../../src/observability/logger.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import { Etl, type EtlOptions } from '../../src/pipeline/etl.ts';
import type { EventLog, LogRecord } from '../../src/ports/event-log.ts';
import type { Warehouse } from '../../src/ports/warehouse.ts';
import { type TempDir, makeTempDir } from './tmp.ts';

/**
 * The ETL against the real embedded engines (SQLite event log, chDB warehouse), for the test
 * files of src/pipeline: one log and one chDB directory per file; each test has its own streams,
 * consumer group and warehouse database, and everything it starts is stopped after it.
 */
export const DEADLINE_MS = 10_000;
/** A pipeline that hangs fails its test instead of the run. */
export const LIMIT = { timeout: 30_000 };
export const ALL = { from: new Date(Date.UTC(2000, 0, 1)), to: new Date(Date.UTC(2100, 0, 1)) };
const silent = pino({ level: 'silent' });

export async function waitFor<T>(what: string, probe: () => Promise<T> | T, done: (value: T) => boolean, timeoutMs = DEADLINE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

interface CounterLike {
  get(): Promise<{ values: { value: number; labels: Partial<Record<string, string | number>> }[] }>;
}

/** The sum of a counter's values whose labels include `labels`. */
export async function metricValue(metric: CounterLike, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
    .reduce((sum, v) => sum + v.value, 0);
}

export function byType(messages: EventMessage[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of messages) counts[m.type] = (counts[m.type] ?? 0) + 1;
  return counts;
}

export interface Setup {
  options: EtlOptions;
  warehouse: Warehouse;
}

export interface Running {
  etl: Etl;
  /** Settles to the error the loop died of, or undefined. */
  exit: Promise<unknown>;
  metrics: Metrics;
}

export interface EtlHarness {
  /** The file's event log (valid inside tests). */
  readonly log: SqliteEventLog;
  /** Streams, a group and a migrated warehouse database of this test's own. */
  setup: (overrides?: Partial<EtlOptions>) => Promise<Setup>;
  /** Starts an Etl that the test's cleanup stops. */
  run: (deps: { log?: EventLog; warehouse: Warehouse; logger?: Logger }, options: EtlOptions) => Running;
  /** Appends events the way the API does: normalised messages keyed by user id. */
  produce: (topic: string, userId: string, inputs: EventInput[]) => Promise<EventMessage[]>;
  /** `count` events spread over five users and three types: one append (one API request) per user. */
  produceMany: (topic: string, count: number) => Promise<EventMessage[]>;
  lag: (options: EtlOptions) => Promise<number>;
  /** Every record of a stream, read by a throwaway group; checks nothing more is there. */
  readAll: (stream: string, count: number) => Promise<LogRecord[]>;
  eventsIn: (w: Warehouse) => Promise<number>;
  /** Runs after the test, before the harness's own cleanups (newest first). */
  cleanup: (fn: () => Promise<void>) => void;
}

export interface EtlHarnessOptions {
  /** The warehouse of a test, on database `database` (default: chDB in the file's temp directory). */
  warehouse?: (database: string) => { warehouse: Warehouse; cleanup: () => Promise<void> };
}

/** Registers the file's hooks; call it inside the file's `describe`. */
export function etlHarness(harnessOptions: EtlHarnessOptions = {}): EtlHarness {
  let tmp: TempDir;
  let log: SqliteEventLog | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    tmp = await makeTempDir('ugc-etl-');
    log = new SqliteEventLog({ path: join(tmp.dir, 'log.db'), defaultPartitions: 3, maxPendingRecords: 100_000, retentionMs: -1 });
    await log.start();
  });
  after(async () => {
    await log?.close();
    await tmp.cleanup();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const theLog = (): SqliteEventLog => {
    assert.ok(log, 'the harness log is open inside tests');
    return log;
  };

  const harness: EtlHarness = {
    get log() {
      return theLog();
    },
    cleanup: (fn) => void cleanups.push(fn),

    async setup(overrides = {}) {
      const id = randomBytes(6).toString('hex');
      const options: EtlOptions = {
        topic: `events-${id}`, dlqTopic: `events-${id}.dlq`, group: `etl-${id}`,
        batchSize: 1000, batchMaxWaitMs: 50, retryMinMs: 10, retryMaxMs: 50, ...overrides,
      };
      await theLog().createStream(options.topic, { partitions: 3 });
      await theLog().createStream(options.dlqTopic, { partitions: 1 });
      cleanups.push(async () => {
        await theLog().deleteStream(options.topic).catch(() => undefined);
        await theLog().deleteStream(options.dlqTopic).catch(() => undefined);
      });
      const made = harnessOptions.warehouse?.(`t_${id}`);
      const warehouse = made?.warehouse ?? new ChdbWarehouse({ path: join(tmp.dir, 'chdb'), database: `t_${id}` });
      cleanups.push(async () => {
        await warehouse.close();
        await made?.cleanup();
      });
      await warehouse.start();
      await warehouse.migrate();
      return { options, warehouse };
    },

    run(deps, options) {
      const metrics = new Metrics({ defaultMetrics: false });
      const etl = new Etl({ log: deps.log ?? theLog(), warehouse: deps.warehouse, logger: deps.logger ?? silent, metrics }, options);
      etl.start();
      // Handled at once: a loop that dies must fail an assertion, not the process.
      const exit = etl.done.then(() => undefined, (err: unknown) => err);
      cleanups.push(() => etl.stop(1_000));
      return { etl, exit, metrics };
    },

    async produce(topic, userId, inputs) {
      const result = normalizeEvents(inputs, { userId, receivedAt: new Date(), pathOf: (i) => `/events/${i}` });
      assert.ok(result.ok);
      await theLog().append(topic, result.messages.map((m) => ({ key: m.user_id, value: Buffer.from(JSON.stringify(m)) })));
      return result.messages;
    },

    async produceMany(topic, count) {
      const types = ['click', 'view', 'search'];
      const messages: EventMessage[] = [];
      for (let u = 0; u < 5; u++) {
        const mine = Array.from({ length: count }, (_, i) => i).filter((i) => i % 5 === u);
        if (mine.length === 0) continue;
        messages.push(...(await harness.produce(topic, `user-${u}`, mine.map((i) => ({ type: types[i % 3] ?? 'click' })))));
      }
      return messages;
    },

    async lag(options) {
      const consumer = theLog().consumer({ group: options.group, stream: options.topic });
      try {
        return await consumer.lag();
      } finally {
        await consumer.close();
      }
    },

    async readAll(stream, count) {
      const consumer = theLog().consumer({ group: `reader-${randomUUID()}`, stream });
      try {
        const got: LogRecord[] = [];
        const deadline = Date.now() + DEADLINE_MS;
        while (got.length < count && Date.now() < deadline) got.push(...(await consumer.poll({ maxRecords: 1000, maxWaitMs: 100 })));
        got.push(...(await consumer.poll({ maxRecords: 1000, maxWaitMs: 0 })));
        assert.equal(got.length, count, `${stream}: expected ${count} records`);
        return got;
      } finally {
        await consumer.close();
      }
    },

    eventsIn: async (w) => (await w.summary(ALL)).events,
  };
  return harness;
}
