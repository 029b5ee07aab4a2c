import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dialectFor } from '../../src/adapters/warehouse/clickhouse-dialect.ts';
import { MIGRATIONS, migrationsTable } from '../../src/adapters/warehouse/migrations.ts';

const flat = (sql: string) => sql.replace(/\s+/g, ' ').trim();

describe('warehouse migrations', () => {
  it('are numbered 1, 2, 3 … with no gaps, so every node applies them in one order', () => {
    assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
  });

  it('create plain replacing tables on a single server, with the type of each server generation', () => {
    const modern = (MIGRATIONS[0]?.statements({ db: 'ugc', d: dialectFor('26.7.2.1'), cluster: undefined }) ?? []).map(flat);
    assert.equal(modern.length, 1);
    assert.match(modern[0] ?? '', /^CREATE TABLE IF NOT EXISTS ugc\.events \(.*occurred_at DateTime64\(3, 'UTC'\).*\) ENGINE = ReplacingMergeTree PARTITION BY toYYYYMM\(occurred_at\) ORDER BY \(toDate\(occurred_at\), user_id, occurred_at, event_id\)$/);
    const legacy = (MIGRATIONS[0]?.statements({ db: 'ugc', d: dialectFor('18.16.1'), cluster: undefined }) ?? []).map(flat);
    assert.match(legacy[0] ?? '', /occurred_at UInt64/);
    assert.doesNotMatch(legacy[0] ?? '', /LowCardinality|bloom_filter/);
    assert.equal(flat(migrationsTable({ db: 'ugc', d: dialectFor('26.1'), cluster: undefined })), 'CREATE TABLE IF NOT EXISTS ugc.schema_migrations (version UInt32, name String, applied_at DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version');
  });

  it('create replicated local tables behind a Distributed table ON CLUSTER when a cluster is configured', () => {
    const ctx = { db: 'ugc', d: dialectFor('24.8'), cluster: 'ugc_cluster' };
    const [local, distributed, ...rest] = (MIGRATIONS[0]?.statements(ctx) ?? []).map(flat);
    assert.equal(rest.length, 0);
    assert.match(local ?? '', /^CREATE TABLE IF NOT EXISTS ugc\.events_local ON CLUSTER ugc_cluster \(/);
    assert.match(local ?? '', /ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/ugc\/events_local', '\{replica\}'\) PARTITION BY/);
    assert.equal(
      distributed,
      'CREATE TABLE IF NOT EXISTS ugc.events ON CLUSTER ugc_cluster AS ugc.events_local ENGINE = Distributed(ugc_cluster, ugc, events_local, cityHash64(user_id))',
    );
    assert.match(flat(migrationsTable(ctx)), /ON CLUSTER ugc_cluster .* ENGINE = ReplicatedMergeTree\('\/clickhouse\/tables\/all\/ugc\/schema_migrations', '\{shard\}-\{replica\}'\)/);
  });

  it('keep the dedup keys and the rollups in tables each server generation can hold, local to each shard on a cluster', () => {
    const legacy = MIGRATIONS.slice(1).flatMap((m) => m.statements({ db: 'ugc', d: dialectFor('18.16.1'), cluster: undefined })).map(flat);
    assert.ok(legacy.every((s) => !/DateTime64|LowCardinality|SimpleAggregateFunction|\bTTL\b/.test(s)), 'nothing 18.16 lacks');
    assert.ok(legacy.some((s) => s.startsWith('CREATE TABLE IF NOT EXISTS ugc.event_keys (') && s.includes('ORDER BY h SETTINGS index_granularity = 256')));
    for (const rollup of ['events_15m', 'films_daily', 'elements_daily']) {
      assert.ok(legacy.some((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS ugc.${rollup} (`) && s.includes('ENGINE = AggregatingMergeTree')), rollup);
      assert.ok(legacy.some((s) => s.startsWith(`CREATE MATERIALIZED VIEW IF NOT EXISTS ugc.${rollup}_mv TO ugc.${rollup} AS SELECT`) && s.includes('FROM ugc.events WHERE')), rollup);
    }
    const clustered = MIGRATIONS.slice(1).flatMap((m) => m.statements({ db: 'ugc', d: dialectFor('24.8'), cluster: 'c' })).map(flat);
    assert.ok(clustered.some((s) => s.startsWith('CREATE TABLE IF NOT EXISTS ugc.event_keys_local ON CLUSTER c (') && s.includes('ReplicatedReplacingMergeTree')));
    assert.ok(clustered.includes('CREATE TABLE IF NOT EXISTS ugc.event_keys ON CLUSTER c AS ugc.event_keys_local ENGINE = Distributed(c, ugc, event_keys_local, cityHash64(user_id))'));
    // A view watches the shard-local events and fills the shard-local rollup: each shard aggregates its own inserts.
    assert.ok(clustered.some((s) => s.startsWith('CREATE MATERIALIZED VIEW IF NOT EXISTS ugc.films_daily_mv ON CLUSTER c TO ugc.films_daily_local AS SELECT') && s.includes('FROM ugc.events_local WHERE')));
  });
});
