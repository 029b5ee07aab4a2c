import type { MessagePort } from 'node:worker_threads';
import { BackendError, type BackendFault } from '../../domain/errors.ts';
import { type ClickhouseExecutor, SqlWarehouse } from './sql-warehouse.ts';

/**
 * chDB allows one session per process, and two sessions on one directory crash it. So when the
 * ETL runs in a worker thread beside the API, the thread that owns the session serves it over a
 * MessagePort, and the other thread's warehouse runs its SQL through a `ChannelExecutor`. The
 * warehouse code on both sides is the same `SqlWarehouse`; only the last hop differs.
 */
type Request = { method: 'command'; sql: string } | { method: 'select'; sql: string } | { method: 'insert'; table: string; body: string };
type Call = Request & { id: number };

type Reply = { id: number; ok: true; value?: unknown } | { id: number; ok: false; error: SerializedError };

interface SerializedError {
  message: string;
  retriable: boolean;
  /** Crosses the thread with the error: the ETL decides by it whether to bisect a batch. */
  fault: BackendFault;
  cause?: string;
}

function serialize(err: unknown): SerializedError {
  const message = err instanceof Error ? err.message : String(err);
  const retriable = err instanceof BackendError ? err.retriable : true;
  const fault = err instanceof BackendError ? err.fault : 'unknown';
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : undefined;
  return cause === undefined ? { message, retriable, fault } : { message, retriable, fault, cause };
}

/** Answers the calls arriving on `port` with `executor`, each as soon as the engine has. */
export function serveExecutor(executor: ClickhouseExecutor, port: MessagePort): void {
  port.on('message', (call: Call) => {
    const work =
      call.method === 'command'
        ? executor.command(call.sql)
        : call.method === 'select'
          ? executor.select(call.sql)
          : executor.insertJsonEachRow(call.table, call.body);
    work.then(
      (value) => port.postMessage({ id: call.id, ok: true, value } satisfies Reply),
      (err: unknown) => port.postMessage({ id: call.id, ok: false, error: serialize(err) } satisfies Reply),
    );
  });
  // Serving must not keep the owner's thread alive on its own.
  port.unref();
}

/** A `ClickhouseExecutor` whose engine lives in another thread (see `serveExecutor`). */
export class ChannelExecutor implements ClickhouseExecutor {
  readonly kind: string;
  #port: MessagePort;
  #next = 0;
  #pending = new Map<number, { resolve: (value: unknown) => void; reject: (err: Error) => void }>();
  #closed = false;

  constructor(port: MessagePort, kind: string) {
    this.kind = kind;
    this.#port = port;
    port.on('message', (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      this.#pending.delete(reply.id);
      if (reply.ok) pending.resolve(reply.value);
      else {
        const { message, retriable, fault, cause } = reply.error;
        pending.reject(new BackendError(message, { retriable, fault, ...(cause === undefined ? {} : { cause: new Error(cause) }) }));
      }
      if (this.#pending.size === 0) port.unref();
    });
    port.on('close', () => this.#failPending());
    port.unref();
  }

  #call(request: Request): Promise<unknown> {
    if (this.#closed) return Promise.reject(new BackendError('warehouse channel is closed', { retriable: true }));
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // An answer is awaited: keep this thread alive until it comes.
      this.#port.ref();
      this.#port.postMessage({ ...request, id } satisfies Call);
    });
  }

  #failPending(): void {
    this.#closed = true;
    for (const { reject } of this.#pending.values()) reject(new BackendError('warehouse channel closed', { retriable: true }));
    this.#pending.clear();
  }

  open(): Promise<void> {
    return Promise.resolve();
  }

  async command(sql: string): Promise<void> {
    await this.#call({ method: 'command', sql });
  }

  async select<T>(sql: string): Promise<{ data: T[] }> {
    return (await this.#call({ method: 'select', sql })) as { data: T[] };
  }

  async insertJsonEachRow(table: string, body: string): Promise<void> {
    await this.#call({ method: 'insert', table, body });
  }

  /** The engine belongs to the serving thread: closing here only stops using it. */
  close(): Promise<void> {
    this.#failPending();
    this.#port.close();
    return Promise.resolve();
  }
}

/** A warehouse whose engine can be lent to another thread (`ChdbWarehouse`). */
export interface LendableWarehouse {
  share(port: MessagePort): void;
}

export function isLendable(warehouse: object): warehouse is LendableWarehouse {
  return typeof (warehouse as Partial<LendableWarehouse>).share === 'function';
}

/**
 * The warehouse of a thread that borrows another thread's chDB session. It never loads chDB
 * itself: a thread that loads the chDB addon and exits breaks the session of every other thread.
 */
export function borrowedChdbWarehouse(port: MessagePort, options: { database: string; dedupWindowMs?: number | undefined }): SqlWarehouse {
  return new SqlWarehouse(new ChannelExecutor(port, 'chdb'), options);
}
