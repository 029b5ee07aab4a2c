import Fastify, { LogController } from 'fastify';
import type { Lifecycle } from '../ports/lifecycle.ts';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { EtlHealth } from '../pipeline/etl-health.ts';
import opsRoutes from './ops.routes.ts';

/**
 * The `etl` process has no API, but operators still scrape its metrics (batch sizes, consumer
 * lag, dead letters) and probe its health: the same operations routes on a port of its own.
 */
export async function buildOpsServer(deps: {
  dependencies: Record<string, Lifecycle>;
  metrics: Metrics;
  logger: Logger;
  /** The ETL's health: /readyz is 503 with its reason while it is stalled. */
  etl?: () => Promise<EtlHealth>;
}) {
  const app = Fastify({ loggerInstance: deps.logger, logController: new LogController({ disableRequestLogging: true }) });
  await app.register(opsRoutes, { dependencies: deps.dependencies, metrics: deps.metrics, etl: deps.etl });
  return app;
}
