import { randomUUID } from 'node:crypto';
import { drainPending } from 'chdb';
import { ChdbExecutor } from '../src/adapters/warehouse/chdb-warehouse.ts';
import { SqlWarehouse } from '../src/adapters/warehouse/sql-warehouse.ts';
import type { EventRow, TimeRange } from '../src/ports/warehouse.ts';
import type { Bench } from './lib/bench.ts';
import { filmId, trafficInserts } from './lib/analytics-data.ts';
import { removeDir, tempDir } from './lib/processes.ts';
import { type Table, percentiles, round } from './lib/report.ts';

/**
 * The dashboard's 90-day questions over 10 M events (100 k users, 5 k films) in chDB: each
 * endpoint's warehouse query (what the API runs) beside its ceiling, a plain aggregation of the
 * same rows with no deduplication and no rollup, in the same run. Then the load path at that
 * size: `insertEvents` batches of new events (dedup lookup against 10 M keys, rollup views) and
 * what the dedup window costs on disk and in memory. `ANALYTICS_EVENTS` sets a smaller size.
 */
const EVENTS = Number(process.env.ANALYTICS_EVENTS ?? 10_000_000);
const USERS = 100_000;
const FILMS = 5_000;
const DAYS = 90;
const RUNS = 20;
const LOAD_BATCHES = 10;
const BATCH = 5_000;
const TZ = 'Europe/Berlin';

async function time(run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  await run();
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await run();
    ms.push(performance.now() - start);
  }
  const [p50 = Number.NaN, p99 = Number.NaN] = percentiles(ms, [50, 99]);
  return { p50, p99 };
}

function newRows(count: number, endMs: number, seed: number): EventRow[] {
  return Array.from({ length: count }, (_, i) => {
    const at = new Date(endMs - ((i * 7_919 + seed * 104_729) % 3_600_000)).toISOString();
    return {
      event_id: randomUUID(), user_id: `user_${(i * 31 + seed) % USERS}`, type: 'click', element_kind: 'trailer', element_id: `el-${i % 2000}`,
      film_id: filmId(i % FILMS), description: '', occurred_at: at, received_at: at, started_at: null, ended_at: null, duration_ms: 0, properties: {},
    };
  });
}

export const analytics: Bench = {
  name: 'analytics',
  summary: `90-day dashboard queries over ${EVENTS.toLocaleString('en-US')} events in chDB vs plain aggregations of the same rows; load path and dedup window cost`,
  async run() {
    const dir = await tempDir('ugc-bench-analytics-');
    const db = 'ugc';
    const executor = new ChdbExecutor(dir);
    const warehouse = new SqlWarehouse(executor, { database: db });
    try {
      await warehouse.start();
      await warehouse.migrate();
      const endMs = Date.now();
      const loadStart = performance.now();
      for (const sql of trafficInserts({ database: db, events: EVENTS, users: USERS, films: FILMS, days: DAYS, endMs })) await executor.command(sql);
      const loadMs = performance.now() - loadStart;
      const q = async <T>(sql: string): Promise<T[]> => (await executor.select<T>(sql)).data;

      // The dashboard's range: the last 90 days, to the millisecond (partial buckets at both ends).
      const range: TimeRange = { from: new Date(endMs - DAYS * 86_400_000 + 123), to: new Date(endMs - 456) };
      const where = `occurred_at >= toDateTime64('${range.from.toISOString().replace('T', ' ').slice(0, 23)}', 3, 'UTC')
                     AND occurred_at < toDateTime64('${range.to.toISOString().replace('T', ' ').slice(0, 23)}', 3, 'UTC')`;
      const film = filmId(42);
      const cases: [string, () => Promise<unknown>, string, () => Promise<unknown>][] = [
        ['summary', () => warehouse.summary(range), 'count by type + uniq users', () => q(`SELECT type, count(), uniq(user_id) FROM ${db}.events WHERE ${where} GROUP BY type`)],
        ['top films by views', () => warehouse.topFilms(range, 'views', 10), 'group by film',
          () => q(`SELECT film_id, countIf(type IN ('view', 'playback_start')) AS v, sumIf(duration_ms, type IN ('view', 'playback_progress', 'playback_stop')) AS w
                   FROM ${db}.events WHERE ${where} AND isNotNull(film_id) GROUP BY film_id ORDER BY v DESC LIMIT 10`)],
        ['top films by watch time', () => warehouse.topFilms(range, 'watch_seconds', 10), 'group by film',
          () => q(`SELECT film_id, countIf(type IN ('view', 'playback_start')) AS v, sumIf(duration_ms, type IN ('view', 'playback_progress', 'playback_stop')) AS w
                   FROM ${db}.events WHERE ${where} AND isNotNull(film_id) GROUP BY film_id ORDER BY w DESC LIMIT 10`)],
        ['events per local day by type', () => warehouse.eventSeries(range, 'day', TZ), 'group by toDate(tz), type',
          () => q(`SELECT toDate(occurred_at, '${TZ}') AS d, type, count() FROM ${db}.events WHERE ${where} GROUP BY d, type`)],
        ['events per hour by type', () => warehouse.eventSeries(range, 'hour', TZ), 'group by toStartOfHour, type',
          () => q(`SELECT toStartOfHour(occurred_at, '${TZ}') AS h, type, count() FROM ${db}.events WHERE ${where} GROUP BY h, type`)],
        ['active users per day', () => warehouse.activeUsers(range, 'day', TZ), 'uniq(user) by toDate(tz)',
          () => q(`SELECT toDate(occurred_at, '${TZ}') AS d, uniq(user_id) FROM ${db}.events WHERE ${where} GROUP BY d`)],
        ['active users per month', () => warehouse.activeUsers(range, 'month', TZ), 'uniq(user) by month(tz)',
          () => q(`SELECT toStartOfMonth(occurred_at, '${TZ}') AS m, uniq(user_id) FROM ${db}.events WHERE ${where} GROUP BY m`)],
        ['film report + retention', () => warehouse.filmReport(film, range), "one film's counts + per-viewer max position",
          () => q(`SELECT countIf(type IN ('view', 'playback_start')), uniq(user_id), sum(duration_ms),
                          (SELECT groupArray(p) FROM (SELECT max(visitParamExtractFloat(properties, 'position_s')) AS p FROM ${db}.events
                           WHERE film_id = toUUID('${film}') AND ${where} AND type LIKE 'playback%' GROUP BY user_id))
                   FROM ${db}.events WHERE film_id = toUUID('${film}') AND ${where}`)],
        ['top clicked elements', () => warehouse.topElements(range, { type: 'click', kind: undefined, limit: 10 }), 'group by element',
          () => q(`SELECT element_kind, element_id, count() AS c, uniq(user_id) FROM ${db}.events WHERE ${where} AND type = 'click' AND element_kind != ''
                   GROUP BY element_kind, element_id ORDER BY c DESC LIMIT 10`)],
        ["one user's 100 newest", () => warehouse.userEvents('user_7', range, 100), 'same query (no dedup to remove)',
          () => warehouse.userEvents('user_7', range, 100)],
      ];
      const rows = [];
      for (const [name, run, ceilingName, ceiling] of cases) {
        const ours = await time(run);
        const ceil = await time(ceiling);
        rows.push({
          query: name, 'p50 ms': ours.p50, 'p99 ms': ours.p99, ceiling: ceilingName, 'ceiling p50 ms': ceil.p50, 'ceiling p99 ms': ceil.p99,
          'p50 / ceiling': round(ours.p50 / ceil.p50, 2), 'goal met': ours.p50 <= 300 && ours.p50 <= 3 * ceil.p50 ? 'yes' : 'no',
        });
      }
      const queries: Table = {
        title: `analytics: 90-day queries over ${EVENTS.toLocaleString('en-US')} events (${USERS.toLocaleString('en-US')} users, ${FILMS.toLocaleString('en-US')} films), chDB, ${RUNS} runs after one warm-up`,
        columns: ['query', 'p50 ms', 'p99 ms', 'ceiling', 'ceiling p50 ms', 'ceiling p99 ms', 'p50 / ceiling', 'goal met'],
        rows,
      };

      console.log(`(queries measured at ${new Date().toISOString()}; load path next)\n${JSON.stringify(rows)}\n`);

      // uniq's error against the exact count, on the numbers the dashboard shows.
      const summary = await warehouse.summary(range);
      const [exact] = await q<{ u: string }>(`SELECT uniqExact(user_id) AS u FROM ${db}.events WHERE ${where}`);
      const days = await warehouse.activeUsers(range, 'day', TZ);
      const exactDays = await q<{ d: string; u: string }>(`SELECT toString(toDate(occurred_at, '${TZ}')) AS d, uniqExact(user_id) AS u FROM ${db}.events WHERE ${where} GROUP BY d`);
      const exactByDay = new Map(exactDays.map((r) => [r.d, Number(r.u)]));
      const dayErrors = days.map((d) => Math.abs(d.users - (exactByDay.get(d.date) ?? 0)) / Math.max(1, exactByDay.get(d.date) ?? 0));
      const usersError = Math.abs(summary.users - Number(exact?.u)) / Number(exact?.u);

      // The load path at this size: new events through insertEvents (key lookup + keys + rows + views).
      const batchMs: number[] = [];
      for (let b = 0; b < LOAD_BATCHES; b++) {
        const batch = newRows(BATCH, endMs, b);
        const start = performance.now();
        await warehouse.insertEvents(batch);
        batchMs.push(performance.now() - start);
      }
      const replay = newRows(BATCH, endMs, 0); // new ids: time a replay of the last batch instead
      await warehouse.insertEvents(replay);
      const replayStart = performance.now();
      await warehouse.insertEvents(replay);
      const replayMs = performance.now() - replayStart;
      const [loadP50 = Number.NaN] = percentiles(batchMs, [50]);

      const parts = await q<{ table: string; rows: string; disk: string; pk: string }>(
        `SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS disk, sum(primary_key_bytes_in_memory) AS pk
         FROM system.parts WHERE database = '${db}' AND active GROUP BY table ORDER BY table`,
      );
      const storage: Table = {
        title: 'analytics: storage per table (system.parts, active parts)',
        columns: ['table', 'rows', 'MB on disk', 'bytes per row', 'primary index in memory, KB'],
        rows: parts.map((p) => ({
          table: p.table, rows: Number(p.rows), 'MB on disk': Number(p.disk) / 1e6, 'bytes per row': Number(p.disk) / Math.max(1, Number(p.rows)), 'primary index in memory, KB': Number(p.pk) / 1024,
        })),
      };
      const keys = parts.find((p) => p.table === 'event_keys');
      const keyBytes = keys ? Number(keys.disk) / Number(keys.rows) : Number.NaN;
      const keyPk = keys ? Number(keys.pk) / Number(keys.rows) : Number.NaN;
      return {
        tables: [queries, storage],
        figures: {
          events: EVENTS,
          generate_and_load_s: round(loadMs / 1000, 1),
          ...Object.fromEntries(rows.map((r) => [`${r.query.replaceAll(/\W+/g, '_')}_p50_ms`, round(r['p50 ms'], 1)])),
          uniq_users_error_pct: round(usersError * 100, 3),
          uniq_dau_max_error_pct: round(Math.max(0, ...dayErrors) * 100, 3),
          insert_batch_5000_p50_ms: round(loadP50, 1),
          insert_rows_per_s_at_size: round(BATCH / (loadP50 / 1000)),
          replayed_batch_ms: round(replayMs, 1),
          event_keys_bytes_per_key_on_disk: round(keyBytes, 2),
          event_keys_index_bytes_per_key_in_memory: round(keyPk, 3),
        },
        notes: [
          `generated and loaded ${EVENTS.toLocaleString('en-US')} events (rollup views included) in ${round(loadMs / 1000, 1)} s`,
          `distinct users over 90 days: uniq ${summary.users} vs uniqExact ${exact?.u} (error ${round(usersError * 100, 3)} %); daily active users: largest error ${round(Math.max(0, ...dayErrors) * 100, 3)} % over ${days.length} days`,
          `insertEvents of ${BATCH} new events with ${EVENTS.toLocaleString('en-US')} keys loaded: p50 ${round(loadP50, 1)} ms (${round(BATCH / (loadP50 / 1000))} rows/s); a replayed batch (all keys found, verified against events, nothing loaded): ${round(replayMs, 1)} ms`,
          `event_keys: ${round(keyBytes, 2)} bytes per key on disk, ${round(keyPk, 3)} bytes per key of primary index in memory`,
        ],
      };
    } finally {
      await warehouse.close();
      await drainPending();
      await removeDir(dir);
    }
  },
};
