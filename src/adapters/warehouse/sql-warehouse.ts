import { BackendError } from '../../domain/errors.ts';
import type { EventRow, FilmMetric, FilmStats, StoredEvent, Summary, TimeRange, Warehouse } from '../../ports/warehouse.ts';
import { type Dialect, dialectFor, quote } from './clickhouse-dialect.ts';
import { MIGRATIONS, type SchemaContext, migrationsTable, onCluster } from './migrations.ts';

/**
 * What a ClickHouse backend must do for the warehouse; chDB and the HTTP client each implement
 * it, and everything else (schema, SQL, mapping) is shared here so both run the same queries.
 */
/**
 * How far apart in time two copies of one event may be and still count once, in the range of the
 * first copy received: a client that re-sends the same body shifts the copy's time by the delay.
 */
export const RESEND_WINDOW_MS = 3_600_000;

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
  event_id: string;
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

  constructor(executor: ClickhouseExecutor, options: { database: string; cluster?: string | undefined }) {
    this.#cluster = options.cluster;
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

  async insertEvents(rows: readonly EventRow[]): Promise<void> {
    if (rows.length === 0) return;
    const d = this.#d;
    const body = rows
      .map((r) =>
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
      )
      .join('\n');
    await this.#exec.insertJsonEachRow(`${this.#db}.events`, body);
  }

  /**
   * The rows to read for `range`: every copy of an event counts where its first received copy
   * falls, and a copy re-sent with the same body has its time moved by the resend delay (clock-skew
   * correction), so the scan reaches `RESEND_WINDOW_MS` beyond the range and `#inRange` then keeps
   * the events whose first copy is inside it.
   */
  #scan(range: TimeRange): string {
    const d = this.#d;
    // Not before 1970: the 18.16 schema's times are UInt64 epoch ms.
    const from = new Date(Math.max(0, range.from.getTime() - RESEND_WINDOW_MS));
    const to = new Date(range.to.getTime() + RESEND_WINDOW_MS);
    return `occurred_at >= ${d.timeLiteral(from)} AND occurred_at < ${d.timeLiteral(to)}`;
  }

  /** A HAVING clause over `GROUP BY event_id`: the first received copy's time is in `range`. */
  #inRange(range: TimeRange): string {
    const d = this.#d;
    const first = 'argMin(occurred_at, received_at)';
    return `${first} >= ${d.timeLiteral(range.from)} AND ${first} < ${d.timeLiteral(range.to)}`;
  }

  async summary(range: TimeRange): Promise<Summary> {
    // Deduplicate by event_id first; the first copy received wins. (No WITH TOTALS: chDB
    // renders it as broken JSON on an empty result.) A copy has the same user as its original.
    // One pass over the events: counts per type, and the distinct users merged across types.
    const { data } = await this.#exec.select<{ types: string[]; counts: (string | number)[]; users: string | number }>(
      `SELECT groupArray(t) AS types, groupArray(n) AS counts, uniqExactMerge(u) AS users
       FROM (SELECT t, count() AS n, uniqExactState(u) AS u
             FROM (SELECT event_id, argMin(type, received_at) AS t, any(user_id) AS u
                   FROM ${this.#db}.events WHERE ${this.#scan(range)} GROUP BY event_id HAVING ${this.#inRange(range)})
             GROUP BY t)`,
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
              countIf(t IN ('view', 'playback_start')) AS views,
              sumIf(ms, t IN ('view', 'playback_progress', 'playback_stop')) AS watch_ms
       FROM (SELECT event_id, argMin(assumeNotNull(film_id), received_at) AS f, argMin(type, received_at) AS t,
                    argMin(duration_ms, received_at) AS ms
             FROM ${this.#db}.events WHERE ${this.#scan(range)} AND isNotNull(film_id)
             GROUP BY event_id HAVING ${this.#inRange(range)})
       GROUP BY f ORDER BY ${order}, film_id LIMIT ${Math.trunc(limit)}`,
    );
    return data.map((r) => ({ film_id: r.film_id, views: Number(r.views), watch_seconds: Number(r.watch_ms) / 1000 }));
  }

  async userEvents(userId: string, range: TimeRange, limit: number): Promise<StoredEvent[]> {
    const d = this.#d;
    const { data } = await this.#exec.select<EventColumns>(
      `SELECT toString(event_id) AS event_id, argMin(user_id, received_at) AS user_id, argMin(type, received_at) AS type,
              argMin(element_kind, received_at) AS element_kind, argMin(element_id, received_at) AS element_id,
              argMin(toString(film_id), received_at) AS film_id, argMin(description, received_at) AS description,
              argMin(occurred_at, received_at) AS occurred, min(received_at) AS received,
              argMin(started_at, received_at) AS started, argMin(ended_at, received_at) AS ended,
              argMin(properties, received_at) AS properties
       FROM (SELECT * FROM ${this.#db}.events WHERE user_id = ${quote(userId)} AND ${this.#scan(range)})
       GROUP BY event_id HAVING ${this.#inRange(range)} ORDER BY occurred DESC, event_id DESC LIMIT ${Math.trunc(limit)}`,
    );
    return data.map((r) => ({
      event_id: r.event_id,
      user_id: r.user_id,
      type: r.type,
      element: r.element_kind === '' ? null : { kind: r.element_kind, id: r.element_id },
      film_id: r.film_id,
      description: r.description === '' ? null : r.description,
      occurred_at: d.readTime(r.occurred),
      received_at: d.readTime(r.received),
      started_at: r.started === null ? null : d.readTime(r.started),
      ended_at: r.ended === null ? null : d.readTime(r.ended),
      properties: JSON.parse(r.properties) as StoredEvent['properties'],
    }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#exec.close();
  }
}
