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
