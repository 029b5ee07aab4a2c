import { BackendError } from '../../domain/errors.ts';
import type { EventRow, FilmMetric, FilmStats, StoredEvent, Summary, TimeRange, Warehouse } from '../../ports/warehouse.ts';
import { type Dialect, dialectFor, quote } from './clickhouse-dialect.ts';
import { MIGRATIONS, type SchemaContext, migrationsTable, onCluster } from './migrations.ts';

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

  #where(range: TimeRange): string {
    const d = this.#d;
    return `occurred_at >= ${d.timeLiteral(range.from)} AND occurred_at < ${d.timeLiteral(range.to)}`;
  }

  async summary(range: TimeRange): Promise<Summary> {
    // Deduplicate by event_id first; the first copy received wins. (No WITH TOTALS: chDB
    // renders it as broken JSON on an empty result.) Users need no dedup: a copy has the same user.
    const [byType, users] = await Promise.all([
      this.#exec.select<{ type: string; events: string }>(
        `SELECT t AS type, count() AS events
         FROM (SELECT event_id, argMin(type, received_at) AS t FROM ${this.#db}.events WHERE ${this.#where(range)} GROUP BY event_id)
         GROUP BY t ORDER BY t`,
      ),
      this.#exec.select<{ users: string }>(`SELECT uniqExact(user_id) AS users FROM ${this.#db}.events WHERE ${this.#where(range)}`),
    ]);
    const by_type = Object.fromEntries(byType.data.map((r) => [r.type, Number(r.events)]));
    return {
      events: Object.values(by_type).reduce((a, b) => a + b, 0),
      users: Number(users.data[0]?.users ?? 0),
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
             FROM ${this.#db}.events WHERE ${this.#where(range)} AND isNotNull(film_id) GROUP BY event_id)
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
       FROM (SELECT * FROM ${this.#db}.events WHERE user_id = ${quote(userId)} AND ${this.#where(range)})
       GROUP BY event_id ORDER BY occurred DESC, event_id DESC LIMIT ${Math.trunc(limit)}`,
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
