import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { partitionForKey } from '../src/adapters/event-log/partitioner.ts';
import { SqliteEventLog } from '../src/adapters/event-log/sqlite-event-log.ts';
import { normalizeEvents } from '../src/domain/events.ts';
import type { LogRecordInput } from '../src/ports/event-log.ts';
import type { Bench } from './lib/bench.ts';
import { eventInputs, seeded } from './lib/events.ts';
import { removeDir, tempDir } from './lib/processes.ts';
import { HostCpu, type Table, fmt, ownCpuSeconds, percent, percentiles, round } from './lib/report.ts';

/**
 * `SqliteEventLog.append` as the API uses it: concurrent appenders, 100 records (one request of
 * one user) each, committed with group commit. Ceiling: node:sqlite alone writing the same rows
 * into the same table with the same pragmas, one transaction per as many rows as our group
 * commit puts in one (appenders × 100) — the same number of fsyncs, without our code.
 * The two sides alternate in short rounds, so load from other processes drifting during the run
 * hits both alike; a figure is the median of the rounds.
 */
const STREAM = 'bench.events';
const PARTITIONS = 4;
const BATCH = 100;
const WARMUP_MS = 500;
const ROUND_MS = 1000;
const ROUNDS = 3;
const CONCURRENCY = [1, 8, 32] as const;

interface Batch {
  records: LogRecordInput[];
  partition: number;
}

/** One measured round of one side. */
interface Round {
  commits: number;
  appends: number;
  records: number;
  bytes: number;
  cpu: number;
  host: number;
  latencies: number[];
}

interface Side {
  label: string;
  measure(ms: number): Promise<Round>;
  close(): Promise<void>;
}

function batches(): Batch[] {
  const random = seeded(2);
  const now = Date.now();
  return Array.from({ length: 64 }, (_, b) => {
    const userId = `bench_user_${b}`;
    const result = normalizeEvents(eventInputs(BATCH, random, now), { userId, receivedAt: new Date(now), pathOf: (i) => `/events/${i}` });
    if (!result.ok) throw new Error(`fixture events are invalid: ${JSON.stringify(result.errors[0])}`);
    return {
      records: result.messages.map((m) => ({ key: userId, value: Buffer.from(JSON.stringify(m)) })),
      partition: partitionForKey(userId, PARTITIONS),
    };
  });
}

const bytesOf = (batch: Batch) => batch.records.reduce((n, r) => n + r.value.length, 0);

/** Runs `fn` and adds the CPU this process and the host spent meanwhile. */
async function metered(fn: () => Promise<Omit<Round, 'cpu' | 'host'>>): Promise<Round> {
  const host = new HostCpu();
  const cpu = ownCpuSeconds();
  const round = await fn();
  return { ...round, cpu: ownCpuSeconds() - cpu, host: host.read() };
}

async function ours(pool: Batch[], appenders: number): Promise<Side> {
  const dir = await tempDir('ugc-bench-log-');
  const log = new SqliteEventLog({ path: join(dir, 'events.db'), defaultPartitions: PARTITIONS, maxPendingRecords: 100_000, retentionMs: -1 });
  await log.start();
  await log.createStream(STREAM, { partitions: PARTITIONS });
  // Counting transactions shows how many appends each group commit (one fsync) carried.
  let commits = 0;
  const transaction = log.transaction.bind(log);
  log.transaction = <T>(fn: () => T): T => {
    commits++;
    return transaction(fn);
  };
  let next = 0;
  const measure = (ms: number) =>
    metered(async () => {
      const latencies: number[] = [];
      let appends = 0;
      let records = 0;
      let bytes = 0;
      commits = 0;
      const until = performance.now() + ms;
      const worker = async () => {
        while (performance.now() < until) {
          const batch = pool[next++ % pool.length] ?? { records: [], partition: 0 };
          const start = performance.now();
          await log.append(STREAM, batch.records);
          latencies.push(performance.now() - start);
          appends++;
          records += batch.records.length;
          bytes += bytesOf(batch);
        }
      };
      await Promise.all(Array.from({ length: appenders }, worker));
      return { latencies, appends, records, bytes, commits };
    });
  return {
    label: 'SqliteEventLog.append',
    measure,
    close: async () => {
      await log.close();
      await removeDir(dir);
    },
  };
}

/** The same rows, table and pragmas through node:sqlite alone, `batchesPerCommit` batches per transaction. */
async function raw(pool: Batch[], batchesPerCommit: number): Promise<Side> {
  const dir = await tempDir('ugc-bench-raw-');
  const db = new DatabaseSync(join(dir, 'raw.db'));
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
    CREATE TABLE records (stream TEXT NOT NULL, partition INTEGER NOT NULL, offset INTEGER NOT NULL, key TEXT NOT NULL,
      value BLOB NOT NULL, headers TEXT NOT NULL, timestamp INTEGER NOT NULL, PRIMARY KEY (stream, partition, offset)) WITHOUT ROWID;`);
  const insert = db.prepare('INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?)');
  const offsets = new Array<number>(PARTITIONS).fill(0);
  let next = 0;
  const measure = (ms: number) =>
    metered(() => {
      const latencies: number[] = [];
      let commits = 0;
      let records = 0;
      let bytes = 0;
      const until = performance.now() + ms;
      while (performance.now() < until) {
        const start = performance.now();
        const now = Date.now();
        db.exec('BEGIN IMMEDIATE');
        for (let b = 0; b < batchesPerCommit; b++) {
          const batch = pool[next++ % pool.length] ?? { records: [], partition: 0 };
          for (const r of batch.records) {
            const offset = offsets[batch.partition] ?? 0;
            offsets[batch.partition] = offset + 1;
            insert.run(STREAM, batch.partition, offset, r.key, r.value, '{}', now);
          }
          records += batch.records.length;
          bytes += bytesOf(batch);
        }
        db.exec('COMMIT');
        commits++;
        latencies.push(performance.now() - start);
      }
      return Promise.resolve({ latencies, commits, records, bytes, appends: commits * batchesPerCommit });
    });
  return {
    label: 'node:sqlite, no adapter',
    measure,
    close: async () => {
      db.close();
      await removeDir(dir);
    },
  };
}

const median = (values: number[]) => percentiles(values, [50])[0] ?? Number.NaN;

/** Warm-up, then ROUNDS alternating rounds (the order flips each round). */
async function compare(a: Side, b: Side): Promise<[Round[], Round[]]> {
  await a.measure(WARMUP_MS);
  await b.measure(WARMUP_MS);
  const ra: Round[] = [];
  const rb: Round[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    if (i % 2 === 0) {
      ra.push(await a.measure(ROUND_MS));
      rb.push(await b.measure(ROUND_MS));
    } else {
      rb.push(await b.measure(ROUND_MS));
      ra.push(await a.measure(ROUND_MS));
    }
  }
  return [ra, rb];
}

export const eventLog: Bench = {
  name: 'event-log',
  summary: 'SqliteEventLog.append (group commit, synchronous=FULL) vs raw node:sqlite with the same fsyncs',
  async run() {
    const pool = batches();
    const recordBytes = pool.reduce((n, b) => n + bytesOf(b), 0) / (pool.length * BATCH);
    const seconds = ROUND_MS / 1000;
    const rows = [];
    const figures: Record<string, number> = { record_bytes: round(recordBytes) };
    let fsyncBound: Round[] = [];
    for (const appenders of CONCURRENCY) {
      const sides = [await ours(pool, appenders), await raw(pool, appenders)] as const;
      let measured: [Round[], Round[]];
      try {
        measured = await compare(...sides);
      } finally {
        await Promise.all(sides.map((side) => side.close()));
      }
      const [o, c] = measured;
      if (appenders === 1) fsyncBound = c;
      const rate = (rounds: Round[], pick: (r: Round) => number) => median(rounds.map((r) => pick(r) / seconds));
      const ratio = median(o.map((r) => r.records)) / median(c.map((r) => r.records));
      for (const [side, rounds] of [[sides[0], o], [sides[1], c]] as const) {
        const [p50 = Number.NaN, p99 = Number.NaN] = percentiles(rounds.flatMap((r) => r.latencies), [50, 99]);
        const recordsPerSecond = rounds.map((r) => r.records / seconds);
        rows.push({
          case: side.label,
          appenders: side === sides[0] ? appenders : '—',
          'records/commit': rounds.reduce((n, r) => n + r.records, 0) / Math.max(1, rounds.reduce((n, r) => n + r.commits, 0)),
          'commits/s': rate(rounds, (r) => r.commits),
          'appends/s': rate(rounds, (r) => r.appends),
          'records/s': rate(rounds, (r) => r.records),
          'min–max records/s': `${fmt(Math.min(...recordsPerSecond))}–${fmt(Math.max(...recordsPerSecond))}`,
          'MB/s': rate(rounds, (r) => r.bytes) / 1e6,
          'p50 ms': p50,
          'p99 ms': p99,
          'CPU %': round(rate(rounds, (r) => r.cpu) * 100),
          'host busy %': median(rounds.map((r) => r.host)),
          'of ceiling': side === sides[0] ? percent(ratio) : 'ceiling',
        });
      }
      figures[`c${appenders}_records_per_s`] = round(rate(o, (r) => r.records));
      figures[`c${appenders}_appends_per_s`] = round(rate(o, (r) => r.appends));
      figures[`c${appenders}_commits_per_s`] = round(rate(o, (r) => r.commits));
      figures[`c${appenders}_p99_ms`] = round(percentiles(o.flatMap((r) => r.latencies), [99])[0] ?? Number.NaN, 2);
      figures[`c${appenders}_ceiling_records_per_s`] = round(rate(c, (r) => r.records));
      figures[`c${appenders}_ratio`] = round(ratio, 3);
    }
    const table: Table = {
      title: `event-log: batches of ${BATCH} records (${round(recordBytes)} B each), ${PARTITIONS} partitions, WAL + synchronous=FULL; median of ${ROUNDS} alternating ${seconds} s rounds`,
      columns: ['case', 'appenders', 'records/commit', 'commits/s', 'appends/s', 'records/s', 'min–max records/s', 'MB/s', 'p50 ms', 'p99 ms', 'CPU %', 'host busy %', 'of ceiling'],
      rows,
    };
    const commitMs = median(fsyncBound.map((r) => (r.commits > 0 ? ROUND_MS / r.commits : Number.NaN)));
    figures.fsync_bound_commit_ms = round(commitMs, 2);
    return {
      tables: [table],
      figures,
      notes: [
        'p50/p99: per append for SqliteEventLog (queueing + commit), per transaction for node:sqlite; CPU %: of one core, this process',
        `fsync-bound: one commit of ${BATCH} rows takes ${round(commitMs, 2)} ms here (node:sqlite, 1 batch per transaction)`,
      ],
    };
  },
};
