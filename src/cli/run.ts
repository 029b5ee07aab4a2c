import { JwtVerifier } from '../api/auth.ts';
import { buildOpsServer } from '../api/ops-server.ts';
import { buildServer } from '../api/server.ts';
import { createEtl, createEventLog, createStore, createWarehouse } from '../composition.ts';
import type { Config } from '../config.ts';
import { type ConsoleLog, EtlThread } from '../etl-thread.ts';
import { createErrorReporter } from '../observability/error-reporter.ts';
import type { Logger } from '../observability/logger.ts';
import { Metrics } from '../observability/metrics.ts';
import type { EtlHealth } from '../pipeline/etl-health.ts';
import { type Lifecycle, closeAll } from '../ports/lifecycle.ts';
import { atBackend } from './errors.ts';
import { listen } from './listen.ts';

export type ServerCommand = 'serve' | 'api' | 'etl';

/**
 * A second signal this soon after the first is the same request delivered twice: Ctrl-C reaches
 * node from the terminal (the whole process group) and again from npm, which forwards it.
 */
const DUPLICATE_SIGNAL_MS = 1000;

/** Runs `stop` once on SIGTERM/SIGINT; a later second signal, or the deadline, exits at once. */
function onShutdown(logger: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let firstAt: number | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (firstAt !== undefined) {
      if (Date.now() - firstAt < DUPLICATE_SIGNAL_MS) return;
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    firstAt = Date.now();
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out');
      process.exit(1);
    }, timeoutMs + 1000).unref();
    stop().then(
      () => process.exit(process.exitCode ?? 0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // `on`, not `once`: with the listener gone, the duplicate would kill the process mid-shutdown.
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/**
 * What `npm run api` says at start when it writes to the embedded event log: in this process
 * nothing loads the log into the warehouse. An `etl` process beside it can do that only when the
 * warehouse is a ClickHouse server: the embedded chDB warehouse opens in one process, so then the
 * way to have both is `npm start`.
 */
export function noEtlHint(config: Config): string | undefined {
  if (config.eventLog.backend !== 'sqlite') return undefined;
  return config.warehouse.backend === 'chdb'
    ? 'No ETL runs in this process: accepted events wait in the embedded event log and reach analytics only while an ETL runs, which needs this data directory (chDB opens in one process). Use "npm start" for the API and the ETL together.'
    : 'No ETL runs in this process: accepted events wait in the embedded event log until an ETL loads them. Run "npm run etl" beside it, or use "npm start".';
}

/**
 * `serve`, `api` or `etl`: starts the backends, the HTTP listener(s) and the ETL, and stops them
 * on SIGTERM/SIGINT. The signal handlers are in place from the start: a signal during start-up
 * (a supervisor's, or a test's once the listening line is out) waits for start-up to end, then
 * stops cleanly, instead of killing the process with the batch in hand. `tokenCommand` is the
 * `npm run token` line the start-up line shows (none: tokens come from an identity provider).
 */
export async function runServer(command: ServerCommand, config: Config, logger: Logger, logOutput: ConsoleLog, tokenCommand?: string): Promise<void> {
  const metrics = new Metrics();
  const reporter = createErrorReporter({ ...config.sentry, release: `ugc-service@${process.env.npm_package_version ?? 'dev'}` });
  const withApi = command === 'serve' || command === 'api';

  const log = createEventLog(config, logger);
  const warehouse = await createWarehouse(config);
  const store = withApi ? createStore(config) : undefined;
  const backends: Lifecycle[] = [log, warehouse, ...(store ? [store] : [])];
  // `etl` runs the loader on its own; `serve` runs it in a worker thread beside the API.
  const etl = command === 'etl' ? createEtl(config, { log, warehouse, logger: logger.child({ component: 'etl' }), metrics }) : undefined;
  let thread: EtlThread | undefined;
  let app: Awaited<ReturnType<typeof buildServer>> | undefined;
  let ops: Awaited<ReturnType<typeof buildOpsServer>> | undefined;

  const where = whereAre(config);
  const start = async (): Promise<void> => {
    await Promise.all([
      atBackend(where.log, () => log.start()),
      atBackend(where.warehouse, () => warehouse.start()),
      ...(store ? [atBackend(where.store, () => store.start())] : []),
    ]);
    await atBackend(where.log, async () => {
      await log.ensureStream(config.events.topic, { partitions: config.events.partitions });
      await log.ensureStream(config.events.dlqTopic, { partitions: 1 });
    });
    if (config.warehouse.migrateOnStart) {
      const applied = await atBackend(where.warehouse, () => warehouse.migrate());
      if (applied.length > 0) logger.info({ applied }, 'warehouse migrations applied');
    }
    // `serve`'s /readyz includes the ETL thread's health; `api` runs no ETL.
    const etlHealth =
      command === 'serve'
        ? (): Promise<EtlHealth> => thread?.health() ?? Promise.resolve({ ready: false, reason: 'the ETL thread is starting', oldestUnloadedAgeMs: null, lastLoadAt: null })
        : undefined;
    const verifier = new JwtVerifier(config.auth);
    if (withApi && store) {
      app = await buildServer({ config, logger, metrics, verifier, log, warehouse, store, reporter, ...(etlHealth ? { etlHealth } : {}) });
      await verifier.ready();
      const url = await listen(app, { host: config.server.host, port: config.server.port, variable: 'PORT', who: '"npm start" or "npm run api"' });
      logger.info(
        {
          listen_url: url,
          docs_url: `${url}/docs`,
          // The tokens the docs page and the walkthrough need (see tokenHint).
          ...(tokenCommand === undefined ? {} : { token_command: tokenCommand }),
          event_log: log.kind,
          warehouse: warehouse.kind,
          store: store.kind,
        },
        'UGC Service listening',
      );
      const hint = command === 'api' ? noEtlHint(config) : undefined;
      if (hint) logger.warn(hint);
    }
    if (etl) {
      ops = await buildOpsServer({ dependencies: { event_log: log, warehouse }, metrics, logger, etl: () => Promise.resolve(etl.health()) });
      const url = await listen(ops, { host: config.server.host, port: config.etl.httpPort, variable: 'ETL_HTTP_PORT', who: '"npm run etl"' });
      logger.info({ listen_url: url }, 'ETL operations endpoint listening');
    }
    if (command === 'serve') thread = await EtlThread.start({ config, warehouse, logOutput });
  };
  const starting = start();

  onShutdown(logger, config.server.shutdownTimeoutMs, async () => {
    await starting.catch(() => undefined);
    // Order matters: stop intake, let in-flight requests finish, flush the batch in hand, close.
    await app?.close();
    await etl?.stop(config.server.shutdownTimeoutMs);
    await thread?.stop(config.server.shutdownTimeoutMs);
    await ops?.close();
    await closeAll(logger, backends);
    await reporter.flush(2000);
    logger.info('stopped');
  });

  try {
    await starting;
  } catch (err) {
    await app?.close();
    await ops?.close();
    await closeAll(logger, backends);
    throw err;
  }
  etl?.start();
  if (etl) logger.info({ topic: config.events.topic, group: config.etl.group }, 'ETL started');
  if (thread) metrics.includeRemote(thread.metrics.bind(thread));

  // The ETL dying is fatal for its process: a supervisor restarts it and it resumes from the log.
  const etlDied = (err: unknown): void => {
    reporter.capture(err, { component: 'etl' });
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  };
  etl?.done.catch(etlDied);
  thread?.done.catch(etlDied);
}

/** The variable that says where each server backend is, for failure lines; none for the embedded ones. */
function whereAre(config: Config): Record<'log' | 'warehouse' | 'store', { backend: string; variable: string } | undefined> {
  return {
    log: config.eventLog.backend === 'kafka' ? { backend: 'Kafka', variable: 'KAFKA_BROKERS' } : undefined,
    warehouse: config.warehouse.backend === 'clickhouse' ? { backend: 'ClickHouse', variable: 'CLICKHOUSE_URL' } : undefined,
    store: config.store.backend === 'mongodb' ? { backend: 'MongoDB', variable: 'MONGODB_URL' } : undefined,
  };
}

/** `migrate`: applies pending warehouse migrations and logs which. */
export async function runMigrate(config: Config, logger: Logger): Promise<void> {
  const warehouse = await createWarehouse(config);
  const where = whereAre(config).warehouse;
  await atBackend(where, () => warehouse.start());
  try {
    logger.info({ applied: await atBackend(where, () => warehouse.migrate()) }, 'migrations done');
  } finally {
    await warehouse.close();
  }
}
