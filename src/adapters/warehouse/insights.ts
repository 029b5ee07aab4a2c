import type {
  ActiveUsers,
  ActivityInterval,
  ElementStats,
  FilmReport,
  SeriesBucket,
  SeriesInterval,
  TimeRange,
} from '../../ports/warehouse.ts';
import { quote } from './clickhouse-dialect.ts';
import { rollupSource } from './rollup-read.ts';
import { ELEMENTS_DAILY, EVENTS_15M, FILMS_DAILY } from './rollups-schema.ts';
import type { ClickhouseExecutor } from './sql-warehouse.ts';
import type { SchemaContext } from './table-ddl.ts';

/**
 * The questions a cinema asks, answered from the rollups (see `rollups-schema.ts`) and, for the
 * audience-retention curve, from one film's playback events. `tz` must be an IANA zone name the
 * caller has validated; it reaches SQL only as a quoted literal.
 */

const VIEWS = "('view', 'playback_start')";
const WATCHED = "('view', 'playback_progress', 'playback_stop')";
const PLAYBACK = "('playback_start', 'playback_progress', 'playback_stop')";
const VIEWING = "('view', 'playback_start', 'playback_progress', 'playback_stop')";

/** UTC offset of `tz` at instant `t`, in ms (local = UTC + offset). */
function offsetMs(t: number, tz: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: tz, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(new Date(t));
  const n = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - Math.floor(t / 1000) * 1000;
}

/** The instant local midnight of `date` (YYYY-MM-DD) begins in `tz`, as ISO UTC. */
export function localMidnight(date: string, tz: string): string {
  const [y = 1970, m = 1, d = 1] = date.split('-').map(Number);
  const wall = Date.UTC(y, m - 1, d);
  let t = wall - offsetMs(wall, tz);
  t = wall - offsetMs(t, tz);
  return new Date(t).toISOString();
}

/** The local date of instant `t` in `tz`. */
function localDate(t: number, tz: string): string {
  return new Date(t + offsetMs(t, tz)).toISOString().slice(0, 10);
}

export async function eventSeries(
  exec: ClickhouseExecutor, ctx: SchemaContext, range: TimeRange, interval: SeriesInterval, tz: string,
): Promise<SeriesBucket[]> {
  const z = quote(tz);
  const key = interval === 'hour' ? `toUnixTimestamp(toStartOfHour(bucket, ${z}))` : `toString(toDate(bucket, ${z}))`;
  const { data } = await exec.select<{ k: string | number; type: string; c: string }>(
    `SELECT ${key} AS k, type, countMerge(n) AS c FROM (${rollupSource(ctx, EVENTS_15M, range, '1', ['bucket', 'type', 'n'])}) GROUP BY k, type ORDER BY k, type`,
  );
  const buckets = new Map<string, SeriesBucket>();
  for (const r of data) {
    const k = String(r.k);
    let b = buckets.get(k);
    if (b === undefined) {
      const start = interval === 'hour' ? new Date(Number(r.k) * 1000).toISOString() : localMidnight(k, tz);
      b = { start, date: interval === 'hour' ? localDate(Date.parse(start), tz) : k, total: 0, by_type: {} };
      buckets.set(k, b);
    }
    b.by_type[r.type] = Number(r.c);
    b.total += Number(r.c);
  }
  return [...buckets.values()];
}

export async function activeUsers(
  exec: ClickhouseExecutor, ctx: SchemaContext, range: TimeRange, interval: ActivityInterval, tz: string,
): Promise<ActiveUsers[]> {
  const unit = { day: 'toDate', week: 'toMonday', month: 'toStartOfMonth' }[interval];
  const { data } = await exec.select<{ k: string; u: string }>(
    `SELECT toString(${unit}(bucket, ${quote(tz)})) AS k, uniqMerge(users) AS u
     FROM (${rollupSource(ctx, EVENTS_15M, range, '1', ['bucket', 'users'])}) GROUP BY k HAVING u > 0 ORDER BY k`,
  );
  return data.map((r) => ({ start: localMidnight(r.k, tz), date: r.k, users: Number(r.u) }));
}

export async function topElements(
  exec: ClickhouseExecutor, ctx: SchemaContext, range: TimeRange, options: { type: string; kind: string | undefined; limit: number },
): Promise<ElementStats[]> {
  const filter = `type = ${quote(options.type)}${options.kind === undefined ? '' : ` AND element_kind = ${quote(options.kind)}`}`;
  const { data } = await exec.select<{ kind: string; id: string; c: string; u: string }>(
    `SELECT element_kind AS kind, element_id AS id, countMerge(n) AS c, uniqMerge(users) AS u
     FROM (${rollupSource(ctx, ELEMENTS_DAILY, range, filter, ['element_kind', 'element_id', 'n', 'users'])})
     GROUP BY kind, id ORDER BY c DESC, u DESC, kind, id LIMIT ${Math.trunc(options.limit)}`,
  );
  return data.map((r) => ({ kind: r.kind, id: r.id, events: Number(r.c), users: Number(r.u) }));
}

export async function filmReport(exec: ClickhouseExecutor, ctx: SchemaContext, filmId: string, range: TimeRange): Promise<FilmReport> {
  const id = `toUUID(${quote(filmId)})`;
  const film = `film_id = ${id}`;
  const { data } = await exec.select<{ views: string; viewers: string; watch_ms: string }>(
    `SELECT countMergeIf(n, type IN ${VIEWS}) AS views, uniqMergeIf(users, type IN ${VIEWING}) AS viewers,
            sumMergeIf(watch_ms, type IN ${WATCHED}) AS watch_ms
     FROM (${rollupSource(ctx, FILMS_DAILY, range, { rollup: `film = ${id}`, events: film }, ['type', 'n', 'watch_ms', 'users'])})`,
  );
  const totals = data[0] ?? { views: '0', viewers: '0', watch_ms: '0' };
  const viewers = Number(totals.viewers);
  const watchSeconds = Number(totals.watch_ms) / 1000;
  const curve = await retention(exec, ctx, film, range);
  return {
    film_id: filmId,
    views: Number(totals.views),
    viewers,
    watch_seconds: watchSeconds,
    avg_watch_seconds: viewers === 0 ? 0 : watchSeconds / viewers,
    ...curve,
  };
}

/**
 * Each playback viewer's furthest `properties.position_s`, against the film's length (the largest
 * `properties.duration_s` seen, else the furthest position): a histogram in 5 % steps, summed from
 * the end into the share still watching at each step.
 */
async function retention(
  exec: ClickhouseExecutor, ctx: SchemaContext, film: string, range: TimeRange,
): Promise<Pick<FilmReport, 'duration_seconds' | 'avg_completion' | 'retention'>> {
  const d = ctx.d;
  const playback = `SELECT user_id, max(visitParamExtractFloat(properties, 'position_s')) AS pos,
                           max(visitParamExtractFloat(properties, 'duration_s')) AS dur
                    FROM ${ctx.db}.events
                    WHERE ${film} AND occurred_at >= ${d.timeLiteral(range.from)} AND occurred_at < ${d.timeLiteral(range.to)}
                          AND type IN ${PLAYBACK}
                    GROUP BY user_id`;
  const { data: lengths } = await exec.select<{ dur: number; pos: number }>(`SELECT max(dur) AS dur, max(pos) AS pos FROM (${playback})`);
  const duration = lengths[0] !== undefined && Number(lengths[0].dur) > 0 ? Number(lengths[0].dur) : Number(lengths[0]?.pos ?? 0);
  const empty = { duration_seconds: null, avg_completion: null, retention: [] };
  if (!(duration > 0)) return empty;
  const { data } = await exec.select<{ step: string | number; c: string; reach: number }>(
    `SELECT least(20, toUInt32(floor(least(1, pos / ${duration}) * 20 + 1e-9))) AS step, count() AS c, sum(least(1, pos / ${duration})) AS reach
     FROM (${playback}) GROUP BY step`,
  );
  const counts = new Array<number>(21).fill(0);
  let total = 0;
  let reach = 0;
  for (const r of data) {
    counts[Number(r.step)] = Number(r.c);
    total += Number(r.c);
    reach += Number(r.reach);
  }
  if (total === 0) return empty;
  const points: FilmReport['retention'] = [];
  let still = total;
  for (let k = 0; k <= 20; k++) {
    points.push({ at: k / 20, share: still / total });
    still -= counts[k] ?? 0;
  }
  return { duration_seconds: duration, avg_completion: reach / total, retention: points };
}
