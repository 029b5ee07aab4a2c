import type { TimeRange } from '../../ports/warehouse.ts';
import { type Rollup, columnNames, viewSelect } from './rollups-schema.ts';
import type { SchemaContext } from './table-ddl.ts';

/**
 * Reading a rollup over any `[from, to)`: the whole buckets inside the range come from the rollup,
 * the partial buckets at its two ends from `events`, aggregated into the same states, so the
 * answer is exact to the millisecond and a 90-day query reads the rollup plus at most two buckets
 * of events.
 */
export interface SplitRange {
  /** Whole buckets, `[from, to)` aligned to the bucket size; null when there is none. */
  inner: TimeRange | null;
  /** The parts of the range outside `inner` (0, 1 or 2). */
  edges: TimeRange[];
}

export function splitRange(range: TimeRange, bucketMs: number): SplitRange {
  const from = range.from.getTime();
  const to = range.to.getTime();
  if (from >= to) return { inner: null, edges: [] };
  const a = Math.ceil(from / bucketMs) * bucketMs;
  const z = Math.floor(to / bucketMs) * bucketMs;
  if (a >= z) return { inner: null, edges: [range] };
  const edges: TimeRange[] = [];
  if (from < a) edges.push({ from: range.from, to: new Date(a) });
  if (z < to) edges.push({ from: new Date(z), to: range.to });
  return { inner: { from: new Date(a), to: new Date(z) }, edges };
}

/** A SQL literal of a bucket boundary in the rollup's bucket column type. */
function bucketLiteral(rollup: Rollup, t: Date): string {
  return rollup.bucketMs >= 86_400_000 ? `toDate('${t.toISOString().slice(0, 10)}')` : `toDateTime(${t.getTime() / 1000}, 'UTC')`;
}

/**
 * A subquery with the rollup's columns named in `names` (all by default: read only what the
 * query needs, states are the heavy part) holding exactly the events of `range` that pass
 * `filter`: one condition on columns both the rollup and `events` have, or one for each.
 */
export function rollupSource(
  ctx: SchemaContext, rollup: Rollup, range: TimeRange, filter: string | { rollup: string; events: string } = '1', names: readonly string[] = columnNames(rollup),
): string {
  const filters = typeof filter === 'string' ? { rollup: filter, events: filter } : filter;
  const { inner, edges } = splitRange(range, rollup.bucketMs);
  const bucket = rollup.keys[0]?.name ?? 'bucket';
  const view = viewSelect(ctx, rollup, names);
  const innerWhere =
    inner === null ? '0' : `${bucket} >= ${bucketLiteral(rollup, inner.from)} AND ${bucket} < ${bucketLiteral(rollup, inner.to)}`;
  const edgeWhere =
    edges.length === 0
      ? '0'
      : edges.map((e) => `(occurred_at >= ${ctx.d.timeLiteral(e.from)} AND occurred_at < ${ctx.d.timeLiteral(e.to)})`).join(' OR ');
  const ordered = columnNames(rollup).filter((n) => names.includes(n));
  return `SELECT ${ordered.join(', ')} FROM ${ctx.db}.${rollup.name} WHERE ${innerWhere} AND ${filters.rollup}
          UNION ALL
          SELECT ${view.select} FROM ${ctx.db}.events WHERE (${edgeWhere}) AND ${rollup.where} AND ${filters.events} ${view.groupBy}`;
}
