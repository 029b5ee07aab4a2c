import type { Dialect } from './clickhouse-dialect.ts';

/** What a schema statement needs to know: the database, the server's dialect and the cluster, if any. */
export interface SchemaContext {
  db: string;
  d: Dialect;
  cluster: string | undefined;
}

export const onCluster = (ctx: SchemaContext): string => (ctx.cluster === undefined ? '' : ` ON CLUSTER ${ctx.cluster}`);

/**
 * A table of `engine` (a MergeTree family name without parameters), and on a cluster its
 * `Replicated…` form as `<name>_local` on every node behind a Distributed `name` sharded by
 * `shardingKey`. Queries and inserts always use `name`.
 */
export function shardedTable(ctx: SchemaContext, name: string, columns: string, engine: string, rest: string, shardingKey: string): string[] {
  if (ctx.cluster === undefined) {
    return [`CREATE TABLE IF NOT EXISTS ${ctx.db}.${name} (${columns}) ENGINE = ${engine} ${rest}`];
  }
  const local = `${name}_local`;
  return [
    `CREATE TABLE IF NOT EXISTS ${ctx.db}.${local}${onCluster(ctx)} (${columns})
     ENGINE = Replicated${engine}('/clickhouse/tables/{shard}/${ctx.db}/${local}', '{replica}') ${rest}`,
    `CREATE TABLE IF NOT EXISTS ${ctx.db}.${name}${onCluster(ctx)} AS ${ctx.db}.${local}
     ENGINE = Distributed(${ctx.cluster}, ${ctx.db}, ${local}, ${shardingKey})`,
  ];
}

/** The table a materialized view must watch or fill: on a cluster, the shard-local one. */
export const storedTable = (ctx: SchemaContext, name: string): string => `${ctx.db}.${name}${ctx.cluster === undefined ? '' : '_local'}`;

