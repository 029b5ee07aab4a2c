import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { Config } from './config.ts';
import type { MetricsSnapshot } from './observability/metrics.ts';
import type { EtlHealth } from './pipeline/etl-health.ts';
import type { Warehouse } from './ports/warehouse.ts';
import { isLendable } from './adapters/warehouse/executor-channel.ts';

/**
 * `serve` runs the ETL in a worker thread, so that its batches (reading the log, transforming
 * thousands of records, serialising the insert) never hold up the API's event loop. The worker
 * (`etl-worker.ts`) builds its own adapters from the same configuration and runs the same `Etl`
 * as the `etl` command; only chDB, which allows one session per process, stays with the main
 * thread and is served to the worker over a MessagePort.
 */
export interface EtlWorkerData {
  config: Config;
  /** Set when the warehouse is chDB: the port the main thread serves its session on. */
  warehousePort?: MessagePort;
  /** How the main thread logs: the worker's own stdout is never a terminal, so it cannot tell. */
  logOutput: ConsoleLog;
}

/** One-line text instead of ECS JSON, and with colors (see `createLogger`). */
export interface ConsoleLog {
  pretty: boolean;
  colorize: boolean;
}

export type ToWorker = { type: 'stop'; timeoutMs: number } | { type: 'metrics'; id: number } | { type: 'health'; id: number };
export type FromWorker =
  | { type: 'started' }
  | { type: 'metrics'; id: number; snapshot: MetricsSnapshot }
  | { type: 'health'; id: number; health: EtlHealth }
  | { type: 'failed'; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string | undefined;
}

export function serializeError(err: unknown): SerializedError {
  return err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : { name: 'Error', message: String(err) };
}

function deserializeError(error: SerializedError): Error {
  const err = new Error(error.message);
  err.name = error.name;
  if (error.stack !== undefined) err.stack = error.stack;
  return err;
}

export class EtlThread {
  readonly #worker: Worker;
  readonly #done: Promise<void>;
  #nextId = 0;
  readonly #scrapes = new Map<number, (snapshot: MetricsSnapshot) => void>();
  readonly #probes = new Map<number, (health: EtlHealth) => void>();
  #ended = false;

  private constructor(worker: Worker, done: Promise<void>) {
    this.#worker = worker;
    this.#done = done;
    const ended = (): void => void (this.#ended = true);
    done.then(ended, ended);
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'metrics') {
        this.#scrapes.get(message.id)?.(message.snapshot);
        this.#scrapes.delete(message.id);
      } else if (message.type === 'health') {
        this.#probes.get(message.id)?.(message.health);
        this.#probes.delete(message.id);
      }
    });
  }

  /**
   * Starts the worker; resolves once its consumer is running, rejects if it cannot start.
   * `logOutput`: how the main thread logs, for the worker to log the same way.
   */
  static async start({ config, warehouse, logOutput }: { config: Config; warehouse: Warehouse; logOutput: ConsoleLog }): Promise<EtlThread> {
    const lendable = isLendable(warehouse) ? warehouse : undefined;
    const channel = lendable ? new MessageChannel() : undefined;
    if (lendable && channel) lendable.share(channel.port1);
    const workerData: EtlWorkerData = { config, logOutput, ...(channel ? { warehousePort: channel.port2 } : {}) };
    const worker = new Worker(new URL('./etl-worker.ts', import.meta.url), {
      workerData,
      transferList: channel ? [channel.port2] : [],
      name: 'etl',
    });

    let started!: () => void;
    let failedToStart!: (err: Error) => void;
    const ready = new Promise<void>((resolve, reject) => ((started = resolve), (failedToStart = reject)));
    // Settles when the worker exits: cleanly after a stop, or with the error that ended it.
    const done = new Promise<void>((resolve, reject) => {
      let failure: Error | undefined;
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'started') started();
        if (message.type === 'failed') {
          failure = deserializeError(message.error);
          failedToStart(failure);
        }
      });
      worker.on('error', (err: Error) => {
        failure ??= err;
        failedToStart(err);
      });
      worker.on('exit', (code) => {
        channel?.port1.close();
        failure ??= code === 0 ? undefined : new Error(`ETL thread exited with code ${code}`);
        failedToStart(failure ?? new Error('ETL thread exited before it started'));
        if (failure) reject(failure);
        else resolve();
      });
    });
    done.catch(() => undefined); // observed through `done`; start() reports a failure to start
    await ready;
    return new EtlThread(worker, done);
  }

  /** Resolves when the thread has stopped after `stop`; rejects if the ETL died. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** The worker's metrics registry, for the main thread's `/metrics`. */
  metrics(timeoutMs = 2000): Promise<MetricsSnapshot> {
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#scrapes.delete(id);
        resolve([]);
      }, timeoutMs);
      this.#scrapes.set(id, (snapshot) => {
        clearTimeout(timer);
        resolve(snapshot);
      });
      this.#worker.postMessage({ type: 'metrics', id } satisfies ToWorker);
    });
  }

  /** The worker's `Etl.health()`; not ready when the thread has ended or does not answer within `timeoutMs`. */
  health(timeoutMs = 1000): Promise<EtlHealth> {
    const down = (reason: string): EtlHealth => ({ ready: false, reason, oldestUnloadedAgeMs: null, lastLoadAt: null });
    if (this.#ended) return Promise.resolve(down('the ETL thread has ended'));
    const id = ++this.#nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#probes.delete(id);
        resolve(down(`the ETL thread did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#probes.set(id, (health) => {
        clearTimeout(timer);
        resolve(health);
      });
      this.#worker.postMessage({ type: 'health', id } satisfies ToWorker);
    });
  }

  /**
   * Finishes and commits the batch in hand (abandoning it uncommitted after `timeoutMs`), closes
   * the worker's adapters and waits for the thread to end; terminates it if it does not.
   */
  async stop(timeoutMs: number): Promise<void> {
    this.#worker.postMessage({ type: 'stop', timeoutMs } satisfies ToWorker);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs + 5000)));
    // A crash is reported through `done`; stopping after one is still a clean stop of the rest.
    const ended = this.#done.then(
      () => 'ended' as const,
      () => 'ended' as const,
    );
    const outcome = await Promise.race([ended, late]).finally(() => clearTimeout(timer));
    if (outcome === 'late') await this.#worker.terminate();
  }
}
