import { parentPort, workerData } from 'node:worker_threads';
import { borrowedChdbWarehouse } from './adapters/warehouse/executor-channel.ts';
import { createEtl, createEventLog, createWarehouse } from './composition.ts';
import { type EtlWorkerData, type FromWorker, type ToWorker, serializeError } from './etl-thread.ts';
import { createLogger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import { type Lifecycle, closeAll } from './ports/lifecycle.ts';

/**
 * The ETL thread of `serve` (see `etl-thread.ts`): the same adapters and the same `Etl` as the
 * `etl` command, built from the configuration the main thread passes. The main thread has
 * already created the streams and applied the migrations.
 */
const { config, warehousePort, logOutput } = workerData as EtlWorkerData;
if (!parentPort) throw new Error('etl-worker.ts runs as a worker thread of `serve`');
const port = parentPort;
const post = (message: FromWorker): void => port.postMessage(message);

const logger = createLogger({ level: config.log.level, name: 'serve', ...logOutput }).child({ component: 'etl' });
// Process-wide metrics (CPU, memory, event loop) are the main thread's to report.
const metrics = new Metrics({ defaultMetrics: false });
const log = createEventLog(config, logger.child({ component: 'event-log' }));
// Never chDB itself: the main thread owns the session and lends it (see executor-channel.ts).
const warehouse = warehousePort ? borrowedChdbWarehouse(warehousePort, { database: config.warehouse.database, dedupWindowMs: config.warehouse.dedupWindowMs }) : await createWarehouse(config);
const backends: Lifecycle[] = [log, warehouse];

const close = (): Promise<void> => closeAll(logger, backends);

/** Ends the thread with `err`, after closing the adapters: the main thread reports it and exits non-zero. */
async function fail(err: unknown): Promise<never> {
  await close();
  post({ type: 'failed', error: serializeError(err) });
  port.close();
  process.exit(1);
}

await Promise.all(backends.map((b) => b.start())).catch(fail);

const etl = createEtl(config, { log, warehouse, logger, metrics });
etl.start();
logger.info({ topic: config.events.topic, group: config.etl.group }, 'ETL started');

let stopping = false;
port.on('message', (message: ToWorker) => {
  if (message.type === 'metrics') {
    metrics.registry.getMetricsAsJSON().then(
      (snapshot) => post({ type: 'metrics', id: message.id, snapshot }),
      () => post({ type: 'metrics', id: message.id, snapshot: [] }),
    );
  } else if (message.type === 'health') {
    post({ type: 'health', id: message.id, health: etl.health() });
  } else if (!stopping) {
    stopping = true;
    void etl
      .stop(message.timeoutMs)
      .then(close)
      .finally(() => port.close());
  }
});
post({ type: 'started' });

// The ETL dying ends the thread with its error.
etl.done.catch(async (err: unknown) => {
  await etl.stop(0).catch(() => undefined);
  await fail(err);
});
