import { Readable } from 'node:stream';
import { type ClickHouseClient, ClickHouseLogLevel, createClient, drainStream } from '@clickhouse/client';
import { BackendError } from '../../domain/errors.ts';
import { toBackendError } from './clickhouse-errors.ts';
import { type ClickhouseExecutor, SqlWarehouse } from './sql-warehouse.ts';

export interface ClickhouseWarehouseOptions {
  /** `remote_servers` cluster name: tables are created ON CLUSTER, replicated and distributed. */
  cluster?: string | undefined;
  url: string;
  username: string;
  password: string;
  database: string;
  /** See `SqlWarehouse`. */
  dedupWindowMs?: number | undefined;
  /** Per request; a statement that sends nothing back for this long fails (retriable). */
  requestTimeoutMs?: number;
  /** /readyz must answer quickly even when the server is a black hole. */
  pingTimeoutMs?: number;
  maxOpenConnections?: number;
}

/** A JSONEachRow key that may be written into the INSERT as a column name. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The ClickHouse server over HTTP (`@clickhouse/client`). Every setting sent here is one the
 * oldest server we support (18.16) knows: an unknown setting fails the whole request there.
 */
class HttpExecutor implements ClickhouseExecutor {
  readonly kind = 'clickhouse';
  #options: ClickhouseWarehouseOptions;
  #client: ClickHouseClient | undefined;

  constructor(options: ClickhouseWarehouseOptions) {
    this.#options = options;
  }

  get #c(): ClickHouseClient {
    if (!this.#client) throw new BackendError('ClickHouse client is not open', { retriable: false });
    return this.#client;
  }

  open(): Promise<void> {
    const timeoutMs = this.#options.requestTimeoutMs ?? 10_000;
    this.#client = createClient({
      url: this.#options.url,
      username: this.#options.username,
      password: this.#options.password,
      application: 'ugc-service',
      request_timeout: timeoutMs,
      max_open_connections: this.#options.maxOpenConnections ?? 10,
      // Inserts are thousands of JSON rows (20,000 events ≈ 7 MB); gzip level 1 shrinks them ~5x
      // in ~50 ms, nearly what level 6 gets at 60% of its CPU. Responses are small aggregates.
      compression: { request: { codec: 'gzip', level: 1 }, response: false },
      clickhouse_settings: {
        // The server buffers the whole result, so a failure mid-query arrives as an HTTP error
        // with its code instead of a truncated JSON document (an HTTP parameter since 1.1, not
        // `http_wait_end_of_query`, which 18.x rejects as an unknown setting).
        wait_end_of_query: 1,
        // Stop work the client has already given up on.
        max_execution_time: Math.ceil(timeoutMs / 1000),
        // On a cluster, an insert into the Distributed table returns only once the shards have
        // the rows (not when they are queued on this node), so committing offsets after it is safe.
        ...(this.#options.cluster === undefined ? {} : { insert_distributed_sync: 1 }),
      },
      // Failures reach the caller as BackendErrors and are logged there, not on the console.
      log: { level: ClickHouseLogLevel.OFF },
    });
    return Promise.resolve();
  }

  async ping(timeoutMs: number): Promise<void> {
    // A SELECT (not /ping) so that wrong credentials also make the warehouse unready.
    const result = await this.#c.ping({ select: true, abort_signal: AbortSignal.timeout(timeoutMs) });
    if (!result.success) throw toBackendError(result.error, 'warehouse ping');
  }

  async command(sql: string): Promise<void> {
    try {
      await this.#c.command({ query: sql });
    } catch (err) {
      throw toBackendError(err, 'warehouse command');
    }
  }

  async select<T>(sql: string): Promise<{ data: T[] }> {
    try {
      const result = await this.#c.query({ query: sql, format: 'JSON' });
      const { data } = await result.json<T>();
      return { data };
    } catch (err) {
      throw toBackendError(err, 'warehouse query');
    }
  }

  async insertJsonEachRow(table: string, body: string): Promise<void> {
    // `insert()` wants objects to serialize; the rows are already JSONEachRow text, so they go
    // out as one request body (one INSERT, one part) without a second serialization.
    const query = `INSERT INTO ${table} (${columnsOf(body)}) FORMAT JSONEachRow`;
    try {
      const result = await this.#c.exec({ query, values: Readable.from([body], { objectMode: false }) });
      await drainStream(result.stream);
    } catch (err) {
      throw toBackendError(err, 'warehouse insert');
    }
  }

  async close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.close();
  }
}

/**
 * The columns a JSONEachRow body names (every row has the same keys). Naming them in the INSERT
 * makes the server fill the others from their DEFAULT expressions: 18.x ignores DEFAULT for a
 * field a JSONEachRow row omits (no `input_format_defaults_for_omitted_fields` yet) and would
 * store `loaded_at` as 0000-00-00.
 */
function columnsOf(body: string): string {
  const end = body.indexOf('\n');
  let first: unknown;
  try {
    first = JSON.parse(end === -1 ? body : body.slice(0, end));
  } catch {
    first = undefined;
  }
  const keys = typeof first === 'object' && first !== null && !Array.isArray(first) ? Object.keys(first) : [];
  if (keys.length === 0 || !keys.every((k) => IDENTIFIER.test(k))) {
    throw new BackendError('warehouse insert: rows must be JSON objects keyed by column names', { retriable: false });
  }
  return keys.join(', ');
}

export class ClickhouseWarehouse extends SqlWarehouse {
  #executor: HttpExecutor;
  #pingTimeoutMs: number;

  constructor(options: ClickhouseWarehouseOptions) {
    const executor = new HttpExecutor(options);
    super(executor, { database: options.database, cluster: options.cluster, dedupWindowMs: options.dedupWindowMs });
    this.#executor = executor;
    this.#pingTimeoutMs = options.pingTimeoutMs ?? 2_000;
  }

  /** Fails within the ping timeout, closed or not, started or not. */
  override async ping(): Promise<void> {
    await this.#executor.ping(this.#pingTimeoutMs);
  }
}
