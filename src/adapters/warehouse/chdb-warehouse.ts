import { mkdirSync } from 'node:fs';
import type { MessagePort } from 'node:worker_threads';
import { Session } from 'chdb';
import { BackendError } from '../../domain/errors.ts';
import { toBackendError } from './clickhouse-errors.ts';
import { type LendableWarehouse, serveExecutor } from './executor-channel.ts';
import { type ClickhouseExecutor, SqlWarehouse } from './sql-warehouse.ts';

/**
 * Embedded ClickHouse (chDB) in a persistent session directory. Queries run off the event loop
 * (`queryAsync`), and inserts hand the JSONEachRow payload to the engine's own parser.
 * A session directory can be open in one process only.
 */
export class ChdbExecutor implements ClickhouseExecutor {
  readonly kind = 'chdb';
  #path: string;
  #session: Session | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  get #s(): Session {
    if (!this.#session?.open) throw new BackendError('chDB session is not open', { retriable: false });
    return this.#session;
  }

  open(): Promise<void> {
    mkdirSync(this.#path, { recursive: true });
    this.#session = new Session(this.#path);
    return Promise.resolve();
  }

  async command(sql: string): Promise<void> {
    try {
      await this.#s.queryAsync(sql);
    } catch (err) {
      throw toBackendError(err, 'warehouse command');
    }
  }

  async select<T>(sql: string): Promise<{ data: T[] }> {
    try {
      const result = await this.#s.queryAsync(sql, { format: 'JSON' });
      const text = result.text();
      // An empty result set has no JSON document at all.
      return text.length === 0 ? { data: [] } : result.json<{ data: T[] }>();
    } catch (err) {
      throw toBackendError(err, 'warehouse query');
    }
  }

  async insertJsonEachRow(table: string, body: string): Promise<void> {
    try {
      // The rollups' views of `events` fill their tables in parallel, not one after the other:
      // 10% off the events insert (`node bench/insert-stages.ts`, bench/README.md).
      await this.#s.insert({ table, values: Buffer.from(body), format: 'JSONEachRow', settings: { parallel_view_processing: 1 } });
    } catch (err) {
      throw toBackendError(err, 'warehouse insert');
    }
  }

  close(): Promise<void> {
    this.#session?.close();
    this.#session = undefined;
    return Promise.resolve();
  }
}

export class ChdbWarehouse extends SqlWarehouse implements LendableWarehouse {
  readonly #executor: ChdbExecutor;

  constructor(options: { path: string; database: string; dedupWindowMs?: number | undefined }) {
    const executor = new ChdbExecutor(options.path);
    super(executor, { database: options.database, dedupWindowMs: options.dedupWindowMs });
    this.#executor = executor;
  }

  /**
   * Serves this warehouse's session to another thread of the process, whose warehouse is
   * `borrowedChdbWarehouse(port)`: chDB allows one session per process.
   */
  share(port: MessagePort): void {
    serveExecutor(this.#executor, port);
  }
}
