import { BackendError } from '../../domain/errors.ts';
import type {
  ActiveUsers, ActivityInterval, ElementStats, EventRow, FilmMetric, FilmReport, FilmStats, SeriesBucket, SeriesInterval, StoredEvent,
  Summary, TimeRange, Warehouse,
} from '../../ports/warehouse.ts';
import { type Dialect, dialectFor, quote } from './clickhouse-dialect.ts';
import { alreadyLoaded, eventKey, firstCopies, keyHash, keyLine, trimKeys } from './dedup-keys.ts';
import * as insights from './insights.ts';
import { MIGRATIONS, type SchemaContext, migrationsTable, onCluster } from './migrations.ts';
import { rollupSource } from './rollup-read.ts';
import { EVENTS_15M, FILMS_DAILY } from './rollups-schema.ts';
import { parseJson } from '../../domain/json.ts';

/** The default dedup window: a tracker's retry horizon and then some. */
export const DEFAULT_DEDUP_WINDOW_MS = 48 * 3_600_000;

/** How often at most the dedup window's old partitions are looked for. */
const TRIM_EVERY_MS = 3_600_000;

/**
 * What a ClickHouse backend must do for the warehouse; chDB and the HTTP client each implement
 * it, and everything else (schema, SQL, mapping) is shared here so both run the same queries.
 */
export interface ClickhouseExecutor {
  readonly kind: string;
  open(): Promise<void>;
  command(sql: string): Promise<void>;
  /** Runs a SELECT in `FORMAT JSON` and returns its `data`. */
  select<T>(sql: string): Promise<{ data: T[] }>;
  insertJsonEachRow(table: string, body: string): Promise<void>;
  close(): Promise<void>;
}

interface EventColumns {
  id: string;
  user_id: string;
  type: string;
  element_kind: string;
  element_id: string;
  film_id: string | null;
  description: string;
  occurred: string | number;
  received: string | number;
  started: string | number | null;
  ended: string | number | null;
  properties: string;
}

export class SqlWarehouse implements Warehouse {
  readonly kind: string;
  #exec: ClickhouseExecutor;
  #db: string;
  #dialect: Dialect | undefined;
  #closed = false;

  #cluster: string | undefined;
  #dedupWindowMs: number;
  #trimmedAt = 0;

  /** `dedupWindowMs`: how long an event's key is kept for load-time deduplication (at least this). */
  constructor(executor: ClickhouseExecutor, options: { database: string; cluster?: string | undefined; dedupWindowMs?: number | undefined }) {
    this.#cluster = options.cluster;
    this.#dedupWindowMs = options.dedupWindowMs ?? DEFAULT_DEDUP_WINDOW_MS;
    this.#exec = executor;
    this.kind = executor.kind;
    this.#db = options.database;
  }

  async start(): Promise<void> {
    await this.#exec.open();
    const { data } = await this.#exec.select<{ v: string }>('SELECT version() AS v');
    this.#dialect = dialectFor(data[0]?.v ?? '');
    await this.#exec.command(`CREATE DATABASE IF NOT EXISTS ${this.#db}${onCluster(this.#schema)}`);
  }

  get #d(): Dialect {
    if (!this.#dialect) throw new BackendError('warehouse not started', { retriable: true });
    return this.#dialect;
  }

  get #schema(): SchemaContext {
    return { db: this.#db, d: this.#d, cluster: this.#cluster };
  }

  async migrate(): Promise<number[]> {
    await this.#exec.command(migrationsTable(this.#schema));
    const { data } = await this.#exec.select<{ version: number }>(`SELECT version FROM ${this.#db}.schema_migrations`);
    const done = new Set(data.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const statement of m.statements(this.#schema)) await this.#exec.command(statement);
      await this.#exec.command(
        `INSERT INTO ${this.#db}.schema_migrations (version, name) VALUES (${m.version}, ${quote(m.name)})`,
      );
      applied.push(m.version);
    }
    return applied;
  }

  async ping(): Promise<void> {
    if (this.#closed) throw new BackendError('warehouse closed', { retriable: false });
    await this.#exec.select('SELECT 1 AS ok');
  }

  /**
   * Loads the events not loaded yet (by `(user_id, event_id)`, see `dedup-keys.ts`): their keys
   * first, then the rows, in one statement each. The JSON lines are built while the engine looks
   * the keys up.
   */
  async insertEvents(rows: readonly EventRow[]): Promise<void> {
    if (rows.length === 0) return;
    const d = this.#d;
    const firsts = firstCopies(rows);
    const hashes = firsts.map((r) => keyHash(r.user_id, r.event_id));
    const lookup = alreadyLoaded(this.#exec, this.#schema, firsts, hashes);
    lookup.catch(() => undefined); // awaited below; not unhandled while the lines are built
    const lines = firsts.map((r) =>
      JSON.stringify({
        event_id: r.event_id,
        user_id: r.user_id,
        type: r.type,
        element_kind: r.element_kind,
        element_id: r.element_id,
        film_id: r.film_id,
        description: r.description,
        occurred_at: d.timeValue(r.occurred_at),
        received_at: d.timeValue(r.received_at),
        started_at: r.started_at === null ? null : d.timeValue(r.started_at),
        ended_at: r.ended_at === null ? null : d.timeValue(r.ended_at),
        duration_ms: r.duration_ms,
        properties: JSON.stringify(r.properties),
      }),
    );
    const keys = firsts.map((r, i) => keyLine(this.#schema, r, hashes[i] ?? ''));
    const loaded = await lookup;
    const keep = firsts.map((r) => !loaded.has(eventKey(r.user_id, r.event_id)));
    if (keep.some(Boolean)) {
      await this.#exec.insertJsonEachRow(`${this.#db}.event_keys`, keys.filter((_, i) => keep[i]).join('\n'));
      await this.#exec.insertJsonEachRow(`${this.#db}.events`, lines.filter((_, i) => keep[i]).join('\n'));
    }
    await this.#trimKeys();
  }

  /** Drops the dedup window's expired days, at most once per TRIM_EVERY_MS; a failure waits for the next time. */
  async #trimKeys(): Promise<void> {
    const now = Date.now();
    if (now - this.#trimmedAt < TRIM_EVERY_MS) return;
    this.#trimmedAt = now;
    await trimKeys(this.#exec, this.#schema, this.#dedupWindowMs, new Date(now)).catch(() => undefined);
  }

  async summary(range: TimeRange): Promise<Summary> {
    // Per type from the rollup (no WITH TOTALS: chDB renders it as broken JSON on an empty
    // result); the distinct users merged across types.
    const { data } = await this.#exec.select<{ types: string[]; counts: (string | number)[]; users: string | number }>(
      `SELECT groupArray(t) AS types, groupArray(c) AS counts, uniqMerge(u) AS users
       FROM (SELECT type AS t, countMerge(n) AS c, uniqMergeState(users) AS u
             FROM (${rollupSource(this.#schema, EVENTS_15M, range, '1', ['type', 'n', 'users'])}) GROUP BY t)`,
    );
    const row = data[0] ?? { types: [], counts: [], users: 0 };
    const by_type: Record<string, number> = {};
    for (const [i, type] of row.types.map((t, i) => [i, t] as const).sort(([, a], [, b]) => (a < b ? -1 : 1))) by_type[type] = Number(row.counts[i]);
    return {
      events: Object.values(by_type).reduce((a, b) => a + b, 0),
      users: Number(row.users),
      by_type,
    };
  }

  async topFilms(range: TimeRange, metric: FilmMetric, limit: number): Promise<FilmStats[]> {
    const order = metric === 'views' ? 'views DESC, watch_ms DESC' : 'watch_ms DESC, views DESC';
    const { data } = await this.#exec.select<{ film_id: string; views: string; watch_ms: string }>(
      `SELECT toString(f) AS film_id,
              countMergeIf(n, type IN ('view', 'playback_start')) AS views,
              sumMergeIf(watch_ms, type IN ('view', 'playback_progress', 'playback_stop')) AS watch_ms
       FROM (SELECT film AS f, type, n, watch_ms FROM (${rollupSource(this.#schema, FILMS_DAILY, range, '1', ['film', 'type', 'n', 'watch_ms'])}))
       GROUP BY f ORDER BY ${order}, film_id LIMIT ${Math.trunc(limit)}`,
    );
    return data.map((r) => ({ film_id: r.film_id, views: Number(r.views), watch_seconds: Number(r.watch_ms) / 1000 }));
  }

  async userEvents(userId: string, range: TimeRange, limit: number): Promise<StoredEvent[]> {
    const d = this.#d;
    const { data } = await this.#exec.select<EventColumns>(
      `SELECT toString(event_id) AS id, user_id, type, element_kind, element_id, toString(film_id) AS film_id, description,
              occurred_at AS occurred, received_at AS received, started_at AS started, ended_at AS ended, properties
       FROM ${this.#db}.events
       WHERE user_id = ${quote(userId)} AND occurred_at >= ${d.timeLiteral(range.from)} AND occurred_at < ${d.timeLiteral(range.to)}
       ORDER BY occurred DESC, id DESC LIMIT ${Math.trunc(limit)}`,
    );
    return data.map((r) => ({
      event_id: r.id,
      user_id: r.user_id,
      type: r.type,
      element: r.element_kind === '' ? null : { kind: r.element_kind, id: r.element_id },
      film_id: r.film_id,
      description: r.description === '' ? null : r.description,
      occurred_at: d.readTime(r.occurred),
      received_at: d.readTime(r.received),
      started_at: r.started === null ? null : d.readTime(r.started),
      ended_at: r.ended === null ? null : d.readTime(r.ended),
      properties: parseJson(r.properties) as StoredEvent['properties'],
    }));
  }

  eventSeries(range: TimeRange, interval: SeriesInterval, tz: string): Promise<SeriesBucket[]> {
    return insights.eventSeries(this.#exec, this.#schema, range, interval, tz);
  }

  activeUsers(range: TimeRange, interval: ActivityInterval, tz: string): Promise<ActiveUsers[]> {
    return insights.activeUsers(this.#exec, this.#schema, range, interval, tz);
  }

  filmReport(filmId: string, range: TimeRange): Promise<FilmReport> {
    return insights.filmReport(this.#exec, this.#schema, filmId, range);
  }

  topElements(range: TimeRange, options: { type: string; kind: string | undefined; limit: number }): Promise<ElementStats[]> {
    return insights.topElements(this.#exec, this.#schema, range, options);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#exec.close();
  }
}
