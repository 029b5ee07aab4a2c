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
/** A column of a rollup: its name and type, and how the view computes it from `events`. */
export interface RollupColumn {
  name: string;
  type: (ctx: SchemaContext) => string;
  expr: (ctx: SchemaContext) => string;
}

export interface Rollup {
  name: string;
  /** Bucket width in ms: 15 minutes (`bucket`, DateTime) or a day (`day`, Date). */
  bucketMs: number;
  /** Grouping columns, the bucket first; they are the sorting key. */
  keys: readonly RollupColumn[];
  /** Aggregate-state columns. */
  states: readonly RollupColumn[];
  /** Which events the rollup holds (a condition on `events` columns). */
  where: string;
}

const lc = (ctx: SchemaContext): string => ctx.d.lowCardinality('String');
const col = (name: string, type: (ctx: SchemaContext) => string, expr: (ctx: SchemaContext) => string = () => name): RollupColumn => ({ name, type, expr });
const TYPE = col('type', lc);
const N = col('n', () => 'AggregateFunction(count)', () => 'countState()');
const USERS = col('users', () => 'AggregateFunction(uniq, String)', () => 'uniqState(user_id)');
const DAY = col('day', () => 'Date', (ctx) => ctx.d.day('occurred_at'));

export const EVENTS_15M: Rollup = {
  name: 'events_15m',
  bucketMs: 900_000,
  keys: [col('bucket', () => "DateTime('UTC')", (ctx) => `toStartOfFifteenMinutes(${ctx.d.seconds('occurred_at')})`), TYPE],
  states: [N, USERS],
  where: '1',
};

export const FILMS_DAILY: Rollup = {
  name: 'films_daily',
  bucketMs: 86_400_000,
  keys: [DAY, col('film', () => 'UUID', () => 'assumeNotNull(film_id)'), TYPE],
  states: [N, col('watch_ms', () => 'AggregateFunction(sum, UInt64)', () => 'sumState(duration_ms)'), USERS],
  where: 'isNotNull(film_id)',
};

export const ELEMENTS_DAILY: Rollup = {
  name: 'elements_daily',
  bucketMs: 86_400_000,
  keys: [DAY, col('element_kind', lc), col('element_id', () => 'String'), TYPE],
  states: [N, USERS],
  where: "element_kind != ''",
};

export const ROLLUPS: readonly Rollup[] = [EVENTS_15M, FILMS_DAILY, ELEMENTS_DAILY];

/** Every column name of a rollup, keys first. */
export const columnNames = (r: Rollup): string[] => [...r.keys, ...r.states].map((c) => c.name);

/**
 * The view's SELECT list over `events` for the rollup's columns named in `names` (all by
 * default) — an alias equal to a column name only where the expression is that column — and the
 * matching GROUP BY of the keys among them.
 */
export function viewSelect(ctx: SchemaContext, r: Rollup, names: readonly string[] = columnNames(r)): { select: string; groupBy: string } {
  const chosen = [...r.keys, ...r.states].filter((c) => names.includes(c.name));
  const select = chosen.map((c) => (c.expr(ctx) === c.name ? c.name : `${c.expr(ctx)} AS ${c.name}`)).join(', ');
  const keys = r.keys.filter((c) => names.includes(c.name)).map((c) => c.name);
  return { select, groupBy: keys.length === 0 ? '' : `GROUP BY ${keys.join(', ')}` };
}

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
      ROLLUPS.flatMap((r) => {
        const columns = [...r.keys, ...r.states].map((c) => `${c.name} ${c.type(ctx)}`).join(', ');
        const bucket = r.keys[0]?.name ?? 'day';
        const order = `PARTITION BY toYYYYMM(${bucket}) ORDER BY (${r.keys.map((c) => c.name).join(', ')})`;
        const { select, groupBy } = viewSelect(ctx, r);
        return [
          ...shardedTable(ctx, r.name, columns, 'AggregatingMergeTree', order, 'rand()'),
          `INSERT INTO ${ctx.db}.${r.name}
           SELECT ${select} FROM (${firstCopiesOfEvents(ctx)})
           WHERE ${r.where} AND (SELECT count() FROM ${ctx.db}.${r.name}) = 0 ${groupBy}`,
          `CREATE MATERIALIZED VIEW IF NOT EXISTS ${ctx.db}.${r.name}_mv${onCluster(ctx)} TO ${storedTable(ctx, r.name)}
           AS SELECT ${select} FROM ${storedTable(ctx, 'events')} WHERE ${r.where} ${groupBy}`,
        ];
      }),
  };
}

/** The events as one row per `(user_id, event_id)`: the copy received first. */
function firstCopiesOfEvents(ctx: SchemaContext): string {
  const columns = ['type', 'element_kind', 'element_id', 'film_id', 'occurred_at', 'duration_ms'];
  return `SELECT user_id, ${columns.map((c) => `first_${c} AS ${c}`).join(', ')}
          FROM (SELECT user_id, event_id, ${columns.map((c) => `argMin(${c}, received_at) AS first_${c}`).join(', ')}
                FROM ${ctx.db}.events GROUP BY user_id, event_id)`;
}
