import { parseJson } from '../../src/domain/json.ts';
import { randomBytes } from 'node:crypto';
import pino, { type DestinationStream } from 'pino';
import { type ErrorReporter, noReporter } from '../../src/observability/error-reporter.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { JwtVerifier, mintToken } from '../../src/api/auth.ts';
import { type App, buildServer } from '../../src/api/server.ts';
import { createEventLog, createStore, createWarehouse } from '../../src/composition.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { Metrics } from '../../src/observability/metrics.ts';
import type { EventMessage } from '../../src/domain/events.ts';
import type { EventLog, LogRecord } from '../../src/ports/event-log.ts';
import type { UgcStore } from '../../src/ports/ugc-store.ts';
import type { Warehouse } from '../../src/ports/warehouse.ts';
import { makeTempDir } from './tmp.ts';

export interface TestApp {
  app: App;
  config: Config;
  log: EventLog;
  warehouse: Warehouse;
  store: UgcStore;
  metrics: Metrics;
  /** A valid Bearer header for the user. */
  auth: (userId: string, options?: { admin?: boolean; ttlSeconds?: number }) => Promise<{ authorization: string }>;
  secret: string;
  /** Closes the app and its backends and removes the data directory. */
  close: () => Promise<void>;
}

/**
 * The real app on the embedded adapters in a temp data directory. chDB allows one data
 * directory per process, so a test file builds one app (`before`, closed in `after`) and its
 * tests use random ids to stay apart.
 */
export interface TestAppOptions {
  /** Wraps the real store (fault injection). */
  wrapStore?: (store: UgcStore) => UgcStore;
  /** Wraps the real event log the API writes to (fault injection). */
  wrapLog?: (log: EventLog) => EventLog;
  reporter?: ErrorReporter;
  /** Receives the app's log lines (ECS JSON) at info level. */
  logDestination?: DestinationStream;
}

export async function buildTestApp(env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const tmp = await makeTempDir('ugc-api-');
  const secret = randomBytes(32).toString('hex');
  const config = loadConfig({ DATA_DIR: tmp.dir, AUTH_JWT_SECRET: secret, LOG_LEVEL: 'silent', ...env });
  const logger = options.logDestination ? createLogger({ level: 'info', name: 'test', destination: options.logDestination }) : pino({ level: 'silent' });
  const metrics = new Metrics({ defaultMetrics: false });
  const log = createEventLog(config, logger);
  const warehouse = await createWarehouse(config);
  const store = createStore(config);
  await Promise.all([log.start(), warehouse.start(), store.start()]);
  await log.ensureStream(config.events.topic, { partitions: config.events.partitions });
  await log.ensureStream(config.events.dlqTopic, { partitions: 1 });
  await warehouse.migrate();
  const app = await buildServer({
    config,
    logger,
    metrics,
    verifier: new JwtVerifier(config.auth),
    log: options.wrapLog ? options.wrapLog(log) : log,
    warehouse,
    store: options.wrapStore ? options.wrapStore(store) : store,
    reporter: options.reporter ?? noReporter,
  });
  await app.ready();
  return {
    close: async () => {
      await app.close();
      await Promise.allSettled([log.close(), warehouse.close(), store.close()]);
      await tmp.cleanup();
    },
    app,
    config,
    log,
    warehouse,
    store,
    metrics,
    secret,
    auth: async (userId, options = {}) => ({
      authorization: `Bearer ${await mintToken({ secret, userId, admin: options.admin ?? false, ttlSeconds: options.ttlSeconds ?? 600 })}`,
    }),
  };
}

/** Polls `probe` until it returns a value for which `done` holds, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (let delay = 20; Date.now() < deadline; delay = Math.min(delay * 2, 250)) {
    last = await probe();
    if (done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms; last value: ${JSON.stringify(last)}`);
}

/** Every record of `stream` as the event messages the API wrote, read by a throwaway consumer group. */
export async function readEvents(log: EventLog, stream: string): Promise<EventMessage[]> {
  const consumer = log.consumer({ group: `reader-${randomBytes(6).toString('hex')}`, stream });
  const all: LogRecord[] = [];
  try {
    for (;;) {
      const batch = await consumer.poll({ maxRecords: 10_000, maxWaitMs: 50 });
      if (batch.length === 0) break;
      all.push(...batch);
    }
  } finally {
    await consumer.close();
  }
  // parseJson: this process may have parsed a key spelled `\\`, after which V8's JSON.parse misnames keys (domain/json.ts).
  return all.map((r) => parseJson(r.value.toString()) as EventMessage);
}
