import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaEventLog } from './adapters/event-log/kafka-event-log.ts';
import { SqliteEventLog } from './adapters/event-log/sqlite-event-log.ts';
import { MongoUgcStore } from './adapters/store/mongo-ugc-store.ts';
import { SqliteUgcStore } from './adapters/store/sqlite-ugc-store.ts';
import type { Config } from './config.ts';
import type { EventLog } from './ports/event-log.ts';
import type { UgcStore } from './ports/ugc-store.ts';
import type { Warehouse } from './ports/warehouse.ts';
import type { Logger } from './observability/logger.ts';
import type { Metrics } from './observability/metrics.ts';
import { Etl } from './pipeline/etl.ts';

/**
 * The one place that turns configuration into adapters. Nothing else names a concrete
 * backend; adding one is a new case here and a new adapter file.
 */
export function createEventLog(config: Config, logger: Logger): EventLog {
  switch (config.eventLog.backend) {
    case 'sqlite':
      return new SqliteEventLog({
        path: config.eventLog.path,
        defaultPartitions: config.events.partitions,
        maxPendingRecords: config.eventLog.maxPendingRecords,
        retentionMs: config.eventLog.retentionMs,
        logger: logger.child({ component: 'event-log' }),
      });
    case 'kafka':
      return new KafkaEventLog({
        ...config.eventLog.kafka,
        defaultPartitions: config.events.partitions,
        maxPendingRecords: config.eventLog.maxPendingRecords,
        logger: logger.child({ component: 'event-log' }),
      });
  }
}

/**
 * Loaded on demand: the chDB addon is large, and a thread that loads it and exits breaks the
 * chDB session of the rest of the process (see `borrowedChdbWarehouse`).
 */
export async function createWarehouse(config: Config): Promise<Warehouse> {
  switch (config.warehouse.backend) {
    case 'chdb': {
      const { ChdbWarehouse } = await import('./adapters/warehouse/chdb-warehouse.ts');
      return new ChdbWarehouse({ path: config.warehouse.path, database: config.warehouse.database, dedupWindowMs: config.warehouse.dedupWindowMs });
    }
    case 'clickhouse': {
      const { ClickhouseWarehouse } = await import('./adapters/warehouse/clickhouse-warehouse.ts');
      return new ClickhouseWarehouse({ ...config.warehouse.clickhouse, database: config.warehouse.database, dedupWindowMs: config.warehouse.dedupWindowMs });
    }
  }
}

/** The events stream → warehouse loader, as both the `etl` command and the ETL thread of `serve` run it. */
export function createEtl(config: Config, deps: { log: EventLog; warehouse: Warehouse; logger: Logger; metrics: Metrics }): Etl {
  return new Etl(deps, { topic: config.events.topic, dlqTopic: config.events.dlqTopic, ...config.etl });
}

export function createStore(config: Config): UgcStore {
  switch (config.store.backend) {
    case 'sqlite':
      return new SqliteUgcStore({ path: config.store.path });
    case 'mongodb':
      return new MongoUgcStore(config.store.mongodb);
  }
}

/**
 * HS256 without a configured secret: a random development secret kept in the data directory,
 * so `npm start` and `npm run token` agree without anyone choosing a password. Production sets
 * AUTH_JWT_SECRET (or a public key).
 */
export function withJwtSecret(config: Config, logger?: Logger): Config {
  if (config.auth.algorithm !== 'HS256' || config.auth.secret !== undefined) return config;
  const file = join(config.dataDir, 'dev-jwt-secret');
  let secret: string;
  try {
    secret = readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(config.dataDir, { recursive: true });
    secret = randomBytes(48).toString('base64url');
    try {
      writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
      logger?.warn({ file }, 'AUTH_JWT_SECRET is not set: generated a development secret');
    } catch {
      // Another process (the etl beside the api) created it first.
      secret = readFileSync(file, 'utf8').trim();
    }
  }
  return { ...config, auth: { ...config.auth, secret } };
}
