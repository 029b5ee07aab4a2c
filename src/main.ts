import { readFileSync } from 'node:fs';
import { parseArgs, parseEnv } from 'node:util';
import { mintToken } from './api/auth.ts';
import { JwtVerifier } from './api/auth.ts';
import { buildServer } from './api/server.ts';
import { createEtl, createEventLog, createStore, createWarehouse, withJwtSecret } from './composition.ts';
import { type Config, ConfigError, loadConfig } from './config.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { createErrorReporter } from './observability/error-reporter.ts';
import { Metrics } from './observability/metrics.ts';
import { buildOpsServer } from './api/ops-server.ts';
import { EtlThread } from './etl-thread.ts';
import type { EtlHealth } from './pipeline/etl-health.ts';
import { type Lifecycle, closeAll } from './ports/lifecycle.ts';

const USAGE = `Usage: node src/main.ts <command>
  serve     API and ETL in one process, the ETL in a worker thread (default; the embedded all-in-one)
  api       the HTTP API only
  etl       the event log -> warehouse loader only
  migrate   apply warehouse schema migrations and exit
  token     print a development JWT: token --user user_123 [--admin] [--ttl 3600]`;

/** Runs `stop` once on SIGTERM/SIGINT; a second signal or the deadline exits at once. */
function onShutdown(logger: Logger, timeoutMs: number, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
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
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}

async function run(command: string, config: Config, logger: Logger): Promise<void> {
  const metrics = new Metrics();
  const reporter = createErrorReporter({ ...config.sentry, release: `ugc-service@${process.env.npm_package_version ?? 'dev'}` });
  const withApi = command === 'serve' || command === 'api';

  const log = createEventLog(config, logger);
  const warehouse = await createWarehouse(config);
  const store = withApi ? createStore(config) : undefined;
  const backends: Lifecycle[] = [log, warehouse, ...(store ? [store] : [])];
  try {
    await Promise.all(backends.map((b) => b.start()));
    await log.ensureStream(config.events.topic, { partitions: config.events.partitions });
    await log.ensureStream(config.events.dlqTopic, { partitions: 1 });
    if (config.warehouse.migrateOnStart) {
      const applied = await warehouse.migrate();
      if (applied.length > 0) logger.info({ applied }, 'warehouse migrations applied');
    }
  } catch (err) {
    await closeAll(logger, backends);
    throw err;
  }

  // `etl` runs the loader on its own; `serve` runs it in a worker thread beside the API.
  const etl = command === 'etl' ? createEtl(config, { log, warehouse, logger: logger.child({ component: 'etl' }), metrics }) : undefined;

  let thread: EtlThread | undefined;
  // `serve`'s /readyz includes the ETL thread's health; `api` runs no ETL.
  const etlHealth =
    command === 'serve'
      ? (): Promise<EtlHealth> => thread?.health() ?? Promise.resolve({ ready: false, reason: 'the ETL thread is starting', oldestUnloadedAgeMs: null, lastLoadAt: null })
      : undefined;
  const verifier = new JwtVerifier(config.auth);
  const app =
    withApi && store
      ? await buildServer({ config, logger, metrics, verifier, log, warehouse, store, reporter, ...(etlHealth ? { etlHealth } : {}) })
      : undefined;
  if (app) {
    await verifier.ready();
    const url = await app.listen({ host: config.server.host, port: config.server.port });
    logger.info({ listen_url: url, event_log: log.kind, warehouse: warehouse.kind, store: store?.kind }, 'UGC Service listening');
  }
  const ops =
    withApi || !etl
      ? undefined
      : await buildOpsServer({ dependencies: { event_log: log, warehouse }, metrics, logger, etl: () => Promise.resolve(etl.health()) });
  if (ops) {
    const url = await ops.listen({ host: config.server.host, port: config.etl.httpPort });
    logger.info({ listen_url: url }, 'ETL operations endpoint listening');
  }
  etl?.start();
  if (etl) logger.info({ topic: config.events.topic, group: config.etl.group }, 'ETL started');
  if (command === 'serve') {
    try {
      thread = await EtlThread.start({ config, warehouse });
    } catch (err) {
      await app?.close();
      await closeAll(logger, backends);
      throw err;
    }
  }
  if (thread) metrics.includeRemote(thread.metrics.bind(thread));

  onShutdown(logger, config.server.shutdownTimeoutMs, async () => {
    // Order matters: stop intake, let in-flight requests finish, flush the batch in hand, close.
    await app?.close();
    await etl?.stop(config.server.shutdownTimeoutMs);
    await thread?.stop(config.server.shutdownTimeoutMs);
    await ops?.close();
    await closeAll(logger, backends);
    await reporter.flush(2000);
    logger.info('stopped');
  });
  // The ETL dying is fatal for its process: a supervisor restarts it and it resumes from the log.
  const etlDied = (err: unknown): void => {
    reporter.capture(err, { component: 'etl' });
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  };
  etl?.done.catch(etlDied);
  thread?.done.catch(etlDied);
}

/** `.env` in the working directory, if there is one; real environment variables win. */
function dotEnv(): Record<string, string> {
  try {
    return parseEnv(readFileSync('.env', 'utf8')) as Record<string, string>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
}

async function main(argv: string[]): Promise<void> {
  const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'serve';
  if (command === 'help' || argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  let config: Config;
  try {
    config = loadConfig({ ...dotEnv(), ...process.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    process.exitCode = 2;
    return;
  }

  if (command === 'token') {
    const { values } = parseArgs({
      args: argv.slice(1),
      options: { user: { type: 'string' }, admin: { type: 'boolean', default: false }, ttl: { type: 'string', default: '3600' } },
    });
    const ttl = Number(values.ttl);
    if (!values.user || values.user.length > 64 || !Number.isInteger(ttl) || ttl <= 0) {
      console.error('Usage: npm run token -- --user <id, 1..64 chars> [--admin] [--ttl seconds]');
      process.exitCode = 2;
      return;
    }
    const { auth } = withJwtSecret(config);
    if (auth.algorithm !== 'HS256' || auth.secret === undefined) {
      console.error('token mints HS256 development tokens only; AUTH_JWT_ALGORITHM is ' + auth.algorithm);
      process.exitCode = 2;
      return;
    }
    console.log(await mintToken({ secret: auth.secret, userId: values.user, admin: values.admin, ttlSeconds: ttl, issuer: auth.issuer, audience: auth.audience }));
    return;
  }

  const logger = createLogger({ level: config.log.level, name: command });
  config = withJwtSecret(config, logger);
  switch (command) {
    case 'serve':
    case 'api':
    case 'etl':
      await run(command, config, logger);
      return;
    case 'migrate': {
      const warehouse = await createWarehouse(config);
      await warehouse.start();
      try {
        logger.info({ applied: await warehouse.migrate() }, 'migrations done');
      } finally {
        await warehouse.close();
      }
      return;
    }
    default:
      console.error(`Unknown command "${command}".\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
