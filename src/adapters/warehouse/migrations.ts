import { dedupKeysMigration } from './dedup-keys.ts';
import { rollupsMigration } from './rollups-schema.ts';
import { type SchemaContext, onCluster, shardedTable } from './table-ddl.ts';

export { type SchemaContext, onCluster } from './table-ddl.ts';

/**
 * Versioned warehouse schema. A migration is never edited once released; a change is a new
 * version. Statements must be idempotent (IF NOT EXISTS) because a crash can interrupt a
 * migration between its statements and its row in `schema_migrations`.
 *
 * On a cluster (`CLICKHOUSE_CLUSTER`) every table is created `ON CLUSTER`: the data lives in a
 * `*_local` ReplicatedReplacingMergeTree on each shard's replicas, and the name the queries use
 * is a Distributed table over it, sharded by user so a user's events (and any re-sent copy of
 * one) sit on one shard, where replacing-merge deduplication can see them.
 *
 * 1: `events`; 2: `event_keys`, the load-time dedup window (`dedup-keys.ts`); 3: the rollups and
 * their materialized views (`rollups-schema.ts`).
 */
export interface Migration {
  version: number;
  name: string;
  statements: (ctx: SchemaContext) => string[];
}

/** A replacing table, replicated when on a cluster; `name` is the table queries use. */
function replacingTable(ctx: SchemaContext, name: string, columns: string, rest: string, shardingKey: string): string[] {
  return shardedTable(ctx, name, columns, 'ReplacingMergeTree', rest, shardingKey);
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events table',
    statements: (ctx) =>
      // ReplacingMergeTree collapses rows with the same sorting key: the safety net behind
      // load-time deduplication (`event_keys`) for identical copies loaded at the same moment by
      // two ETL processes during a rebalance. The key starts with the day so range scans (top films,
      // summaries) read only the days asked for, then the user so per-user timelines are a
      // contiguous range within each day.
      replacingTable(
        ctx,
        'events',
        `event_id UUID,
        user_id String,
        type ${ctx.d.lowCardinality('String')},
        element_kind ${ctx.d.lowCardinality('String')},
        element_id String,
        film_id Nullable(UUID),
        description String,
        occurred_at ${ctx.d.timestamp},
        received_at ${ctx.d.timestamp},
        started_at Nullable(${ctx.d.timestamp}),
        ended_at Nullable(${ctx.d.timestamp}),
        duration_ms UInt64,
        properties String,
        loaded_at DateTime DEFAULT now()${ctx.d.filmIndex ? `,\n        ${ctx.d.filmIndex}` : ''}`,
        `PARTITION BY ${ctx.d.month('occurred_at')}
      ORDER BY (${ctx.d.day('occurred_at')}, user_id, occurred_at, event_id)`,
        'cityHash64(user_id)',
      ),
  },
  dedupKeysMigration(2),
  rollupsMigration(3),
];

/**
 * The migrations ledger. On a cluster it is replicated to every node (one ZooKeeper/Keeper path
 * for all shards), so whichever node the service talks to knows what was applied.
 */
export function migrationsTable(ctx: SchemaContext): string {
  const columns = 'version UInt32, name String, applied_at DateTime DEFAULT now()';
  const engine =
    ctx.cluster === undefined
      ? 'MergeTree'
      : `ReplicatedMergeTree('/clickhouse/tables/all/${ctx.db}/schema_migrations', '{shard}-{replica}')`;
  return `CREATE TABLE IF NOT EXISTS ${ctx.db}.schema_migrations${onCluster(ctx)} (${columns}) ENGINE = ${engine} ORDER BY version`;
}
