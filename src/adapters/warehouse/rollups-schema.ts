import type { Migration } from './migrations.ts';
import { type SchemaContext, onCluster, shardedTable, storedTable } from './table-ddl.ts';

/**
 * Rollups maintained at load: a materialized view on `events` aggregates every inserted block
 * into an AggregatingMergeTree, so a 90-day query reads thousands of pre-aggregated rows. Counts
 * and watch time are exact (`count`, `sum` states). Distinct users are `uniq` states: exact up to
 * 65,536 distinct users in what one query merges, an adaptive sample of hashes beyond (measured
 * error in bench/README.md). Deduplication happens before the insert (`event_keys`), so each event
 * reaches a rollup once.
 *
 * - `events_15m`: per 15-minute UTC bucket × type — summary, time series, active users (15
 *   minutes divides every UTC offset in use, so a day in any IANA zone is a union of buckets);
 * - `films_daily`: per UTC day × film × type — views, watch time, viewers (the column is `film`,
 *   not `film_id`: ClickHouse resolves an alias before a column of the same name in WHERE, and the
 *   view's `assumeNotNull(film_id) AS film_id` would turn its `isNotNull(film_id)` into `1`);
 * - `elements_daily`: per UTC day × element kind × element id × type — what gets clicked.
 */
export interface Rollup {
  name: string;
  /** Its columns, in the order of `select`'s aliases. */
  names: readonly string[];
  /** The column of its bucket: `bucket` (DateTime, 15 min) or `day` (Date). */
  bucketMs: number;
  columns: (ctx: SchemaContext) => string;
  orderBy: string;
  /** Group-by columns and state columns of the view, over `events` (aliases = column names). */
  select: (ctx: SchemaContext) => string;
  groupBy: string;
  where: string;
}

const lc = (ctx: SchemaContext): string => ctx.d.lowCardinality('String');

export const [EVENTS_15M, FILMS_DAILY, ELEMENTS_DAILY] = [
  {
    name: 'events_15m',
    names: ['bucket', 'type', 'n', 'users'],
    bucketMs: 900_000,
    columns: (ctx) => `bucket DateTime('UTC'), type ${lc(ctx)}, n AggregateFunction(count), users AggregateFunction(uniq, String)`,
    orderBy: 'PARTITION BY toYYYYMM(bucket) ORDER BY (bucket, type)',
    select: (ctx) => `toStartOfFifteenMinutes(${ctx.d.seconds('occurred_at')}) AS bucket, type, countState() AS n, uniqState(user_id) AS users`,
    groupBy: 'bucket, type',
    where: '1',
  },
  {
    name: 'films_daily',
    names: ['day', 'film', 'type', 'n', 'watch_ms', 'users'],
    bucketMs: 86_400_000,
    columns: (ctx) =>
      `day Date, film UUID, type ${lc(ctx)}, n AggregateFunction(count), watch_ms AggregateFunction(sum, UInt64), users AggregateFunction(uniq, String)`,
    orderBy: 'PARTITION BY toYYYYMM(day) ORDER BY (day, film, type)',
    select: (ctx) =>
      `${ctx.d.day('occurred_at')} AS day, assumeNotNull(film_id) AS film, type, countState() AS n, sumState(duration_ms) AS watch_ms, uniqState(user_id) AS users`,
    groupBy: 'day, film, type',
    where: 'isNotNull(film_id)',
  },
  {
    name: 'elements_daily',
    names: ['day', 'element_kind', 'element_id', 'type', 'n', 'users'],
    bucketMs: 86_400_000,
    columns: (ctx) => `day Date, element_kind ${lc(ctx)}, element_id String, type ${lc(ctx)}, n AggregateFunction(count), users AggregateFunction(uniq, String)`,
    orderBy: 'PARTITION BY toYYYYMM(day) ORDER BY (day, element_kind, element_id, type)',
    select: (ctx) => `${ctx.d.day('occurred_at')} AS day, element_kind, element_id, type, countState() AS n, uniqState(user_id) AS users`,
    groupBy: 'day, element_kind, element_id, type',
    where: "element_kind != ''",
  },
] as const satisfies readonly Rollup[];

export const ROLLUPS: readonly Rollup[] = [EVENTS_15M, FILMS_DAILY, ELEMENTS_DAILY];

/**
 * Each rollup's table, then its backfill from the events already loaded (one row per
 * `(user_id, event_id)`, the first received copy; only into an empty rollup, as the statement may
 * run again after a crash), then the view that keeps it up to date. Events loaded between the
 * backfill and the view are missed: run the migration with the ETLs stopped (`npm run migrate`).
 */
export function rollupsMigration(version: number): Migration {
  return {
    version,
    name: 'rollups: events_15m, films_daily, elements_daily',
    statements: (ctx) =>
      ROLLUPS.flatMap((r) => [
        ...shardedTable(ctx, r.name, r.columns(ctx), 'AggregatingMergeTree', r.orderBy, 'rand()'),
        `INSERT INTO ${ctx.db}.${r.name}
         SELECT ${r.select(ctx)} FROM (${firstCopiesOfEvents(ctx)})
         WHERE ${r.where} AND (SELECT count() FROM ${ctx.db}.${r.name}) = 0 GROUP BY ${r.groupBy}`,
        `CREATE MATERIALIZED VIEW IF NOT EXISTS ${ctx.db}.${r.name}_mv${onCluster(ctx)} TO ${storedTable(ctx, r.name)}
         AS SELECT ${r.select(ctx)} FROM ${storedTable(ctx, 'events')} WHERE ${r.where} GROUP BY ${r.groupBy}`,
      ]),
  };
}

/** The events as one row per `(user_id, event_id)`: the copy received first. */
function firstCopiesOfEvents(ctx: SchemaContext): string {
  const columns = ['type', 'element_kind', 'element_id', 'film_id', 'occurred_at', 'duration_ms'];
  return `SELECT user_id, ${columns.map((c) => `first_${c} AS ${c}`).join(', ')}
          FROM (SELECT user_id, event_id, ${columns.map((c) => `argMin(${c}, received_at) AS first_${c}`).join(', ')}
                FROM ${ctx.db}.events GROUP BY user_id, event_id)`;
}
