import { Session, drainPending } from 'chdb';
import pino from 'pino';
import { createEventLog, createWarehouse } from '../src/composition.ts';
import { loadConfig } from '../src/config.ts';
import { normalizeEvents } from '../src/domain/events.ts';
import { Metrics } from '../src/observability/metrics.ts';
import { Etl } from '../src/pipeline/etl.ts';
import type { EventLog } from '../src/ports/event-log.ts';
import type { Warehouse } from '../src/ports/warehouse.ts';
import type { Bench } from './lib/bench.ts';
import { eventInputs, seeded } from './lib/events.ts';
import { removeDir, tempDir } from './lib/processes.ts';
import { HostCpu, type Table, ownCpuSeconds, percent, percentiles, round } from './lib/report.ts';
import { Stages, TimedEventLog, TimedWarehouse } from './lib/timed.ts';

/**
 * ETL throughput on the embedded default: an event log pre-filled the way the API fills it
 * (normalizeEvents, 100 events per append), then the real `Etl` into `ChdbWarehouse` with the
 * default batch size until every record is committed. Ceiling: the same rows, already in
 * JSONEachRow, handed to chDB's `Session.insert` in batches of the same size (no log, no
 * transform, no offsets). Then the analytics queries over those rows.
 */
const EVENTS = 200_000;
const USERS = 1000;
const APPEND_BATCH = 100;
const APPENDERS = 8;
const DAY_MS = 86_400_000;
const QUERY_RUNS = 10;

async function prefill(log: EventLog, topic: string, now: number): Promise<void> {
  const random = seeded(3);
  let produced = 0;
  const worker = async () => {
    while (produced < EVENTS) {
      const count = Math.min(APPEND_BATCH, EVENTS - produced);
      produced += count;
      const userId = `user_${Math.floor(random() * USERS)}`;
      const result = normalizeEvents(eventInputs(count, random, now, 7 * DAY_MS), { userId, receivedAt: new Date(now), pathOf: (i) => `/events/${i}` });
      if (!result.ok) throw new Error(`fixture events are invalid: ${JSON.stringify(result.errors[0])}`);
      await log.append(topic, result.messages.map((m) => ({ key: userId, value: Buffer.from(JSON.stringify(m)) })));
    }
  };
  await Promise.all(Array.from({ length: APPENDERS }, worker));
}

async function queryLatencies(warehouse: Warehouse, now: number): Promise<Table> {
  const range = { from: new Date(now - 8 * DAY_MS), to: new Date(now + DAY_MS) };
  const queries: [string, string, () => Promise<unknown[] | object>][] = [
    ['summary', 'summary, all rows', () => warehouse.summary(range)],
    ['top_films_views', 'topFilms by views, top 10', () => warehouse.topFilms(range, 'views', 10)],
    ['top_films_watch', 'topFilms by watch_seconds, top 10', () => warehouse.topFilms(range, 'watch_seconds', 10)],
    ['user_events', 'userEvents of one user, 100 newest', () => warehouse.userEvents('user_1', range, 100)],
  ];
  const rows = [];
  for (const [key, name, run] of queries) {
    await run(); // first run: caches, JIT
    const ms: number[] = [];
    let answer: unknown[] | object = [];
    for (let i = 0; i < QUERY_RUNS; i++) {
      const start = performance.now();
      answer = await run();
      ms.push(performance.now() - start);
    }
    const [p50 = Number.NaN, max = Number.NaN] = percentiles(ms, [50, 100]);
    rows.push({ key, query: name, 'p50 ms': p50, 'max ms': max, answer: Array.isArray(answer) ? `${answer.length} rows` : `${JSON.stringify(answer).slice(0, 60)}…` });
  }
  return { title: `etl: analytics queries over ${EVENTS.toLocaleString('en-US')} rows (chDB, ${QUERY_RUNS} runs after one warm-up)`, columns: ['query', 'p50 ms', 'max ms', 'answer'], rows };
}

/** The loaded rows as chDB itself renders them, in the ETL's batch size, in no particular key order. */
async function ceiling(path: string, database: string, batchSize: number): Promise<{ rows: number; ms: number; cpu: number; host: number; batches: number }> {
  // One chDB data directory per process: the warehouse closed it, wait until it is really gone.
  await drainPending();
  const session = new Session(path);
  try {
    const exported = await session.queryAsync(`SELECT * EXCEPT (loaded_at) FROM ${database}.events ORDER BY sipHash64(event_id) FORMAT JSONEachRow`);
    const lines = exported.text().split('\n').filter((l) => l.length > 0);
    const bodies: Buffer[] = [];
    for (let i = 0; i < lines.length; i += batchSize) bodies.push(Buffer.from(lines.slice(i, i + batchSize).join('\n')));
    await session.queryAsync(`CREATE TABLE ${database}.events_ceiling AS ${database}.events`);
    const host = new HostCpu();
    const cpu = ownCpuSeconds();
    const start = performance.now();
    for (const values of bodies) await session.insert({ table: `${database}.events_ceiling`, values, format: 'JSONEachRow' });
    const ms = performance.now() - start;
    const result = { rows: lines.length, ms, cpu: ownCpuSeconds() - cpu, host: host.read(), batches: bodies.length };
    const counted = (await session.queryAsync(`SELECT count() AS n FROM ${database}.events_ceiling`, { format: 'JSON' })).json<{ data: { n: string }[] }>();
    if (Number(counted.data[0]?.n) !== lines.length) throw new Error(`ceiling table has ${counted.data[0]?.n} rows, expected ${lines.length}`);
    return result;
  } finally {
    session.close();
    await drainPending();
  }
}

export const etl: Bench = {
  name: 'etl',
  summary: `Etl: ${EVENTS.toLocaleString('en-US')} events from SqliteEventLog into ChdbWarehouse vs chDB Session.insert of the same rows; query latency`,
  async run() {
    const dir = await tempDir('ugc-bench-etl-');
    const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' });
    const logger = pino({ level: 'silent' });
    const log = createEventLog(config, logger);
    let warehouse: Warehouse | undefined = await createWarehouse(config);
    try {
      await log.start();
      await log.ensureStream(config.events.topic, { partitions: config.events.partitions });
      await log.ensureStream(config.events.dlqTopic, { partitions: 1 });
      const now = Date.now();
      const prefillStart = performance.now();
      await prefill(log, config.events.topic, now);
      const prefillMs = performance.now() - prefillStart;

      await warehouse.start();
      await warehouse.migrate();
      const stages = new Stages();
      const timedLog = new TimedEventLog(log, stages, EVENTS);
      const pipeline = new Etl(
        { log: timedLog, warehouse: new TimedWarehouse(warehouse, stages), logger, metrics: new Metrics({ defaultMetrics: false }) },
        { topic: config.events.topic, dlqTopic: config.events.dlqTopic, ...config.etl },
      );
      const host = new HostCpu();
      const cpu = ownCpuSeconds();
      const start = performance.now();
      pipeline.start();
      const stopped = pipeline.done.then(() => Promise.reject(new Error('the ETL stopped before loading everything')));
      try {
        await Promise.race([timedLog.allCommitted, stopped]);
      } finally {
        // `stop()` below ends the loop, which settles `stopped` too: that is expected now.
        stopped.catch(() => undefined);
      }
      const etlMs = performance.now() - start;
      const etlCpu = ownCpuSeconds() - cpu;
      const etlHost = host.read();
      await pipeline.stop(config.server.shutdownTimeoutMs);
      const lag = await log.consumer({ group: config.etl.group, stream: config.events.topic }).lag();
      const summary = await warehouse.summary({ from: new Date(now - 8 * DAY_MS), to: new Date(now + DAY_MS) });
      if (lag !== 0 || summary.events !== EVENTS) throw new Error(`ETL incomplete: lag ${lag}, ${summary.events} of ${EVENTS} events in the warehouse`);

      const queries = await queryLatencies(warehouse, now);
      await warehouse.close();
      warehouse = undefined;
      const ceil = await ceiling(config.warehouse.path, config.warehouse.database, config.etl.batchSize);

      const etlRate = EVENTS / (etlMs / 1000);
      const ceilRate = ceil.rows / (ceil.ms / 1000);
      const throughput: Table = {
        title: `etl: ${EVENTS.toLocaleString('en-US')} events, ETL_BATCH_SIZE=${config.etl.batchSize}, ${config.events.partitions} partitions`,
        columns: ['case', 'rows', 'batches', 'seconds', 'rows/s', 'CPU %', 'host busy %', 'of ceiling'],
        rows: [
          { case: `prefill: SqliteEventLog.append, ${APPENDERS} appenders × ${APPEND_BATCH}`, rows: EVENTS, batches: EVENTS / APPEND_BATCH, seconds: prefillMs / 1000, 'rows/s': EVENTS / (prefillMs / 1000), 'CPU %': '—', 'host busy %': '—', 'of ceiling': '—' },
          { case: 'Etl: poll → transform → insertEvents → commit', rows: EVENTS, batches: stages.totals.get('commit offsets')?.calls ?? 0, seconds: etlMs / 1000, 'rows/s': etlRate, 'CPU %': round((etlCpu / (etlMs / 1000)) * 100), 'host busy %': etlHost, 'of ceiling': percent(etlRate / ceilRate) },
          { case: 'chDB Session.insert, same rows as JSONEachRow', rows: ceil.rows, batches: ceil.batches, seconds: ceil.ms / 1000, 'rows/s': ceilRate, 'CPU %': round((ceil.cpu / (ceil.ms / 1000)) * 100), 'host busy %': ceil.host, 'of ceiling': 'ceiling' },
        ],
      };
      const measured = [...stages.totals.values()].reduce((n, t) => n + t.ms, 0);
      const stageRows = [...stages.totals.entries()].map(([stage, t]) => ({ stage, calls: t.calls, 'total ms': t.ms, 'ms per call': t.ms / t.calls, 'share of ETL time': percent(t.ms / etlMs) }));
      stageRows.push({ stage: 'the rest: transform (JSON.parse + schema check + row), batching, metrics', calls: Number.NaN, 'total ms': etlMs - measured, 'ms per call': Number.NaN, 'share of ETL time': percent((etlMs - measured) / etlMs) });
      const breakdown: Table = { title: 'etl: where the ETL time went (wall time inside each port call)', columns: ['stage', 'calls', 'total ms', 'ms per call', 'share of ETL time'], rows: stageRows };
      return {
        tables: [throughput, breakdown, queries],
        figures: {
          events: EVENTS,
          batch_size: config.etl.batchSize,
          etl_rows_per_s: round(etlRate),
          ceiling_rows_per_s: round(ceilRate),
          ratio: round(etlRate / ceilRate, 3),
          prefill_records_per_s: round(EVENTS / (prefillMs / 1000)),
          ...Object.fromEntries(queries.rows.map((r) => [`${String(r.key)}_p50_ms`, round(Number(r['p50 ms']), 1)])),
        },
        notes: [
          'insertEvents includes building the JSONEachRow text; the ceiling payload is pre-built outside the timing',
        ],
      };
    } finally {
      await log.close();
      await warehouse?.close();
      await drainPending();
      await removeDir(dir);
    }
  },
};
