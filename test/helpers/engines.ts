import { loadConfig } from '../../src/config.ts';

/**
 * Engine suites find engines through the same variables production uses and fail loudly when
 * one is missing or unreachable; they never skip. `npm run engines:up` starts them here.
 */
export const engineConfig = loadConfig({
  KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
  CLICKHOUSE_URL: process.env.CLICKHOUSE_URL ?? 'http://127.0.0.1:8123',
  CLICKHOUSE_USER: process.env.CLICKHOUSE_USER ?? 'default',
  CLICKHOUSE_PASSWORD: process.env.CLICKHOUSE_PASSWORD ?? '',
  MONGODB_URL: process.env.MONGODB_URL ?? 'mongodb://127.0.0.1:27017',
});

export function unreachable(engine: string, where: string, err: unknown): Error {
  return new Error(
    `${engine} is not reachable at ${where}: ${err instanceof Error ? err.message : String(err)}\n` +
      'Start the engines with `npm run engines:up` (or point the variables at running ones). Engine suites never skip.',
    { cause: err },
  );
}
